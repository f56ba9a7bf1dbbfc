"""bot.budget.done_or_timeout: waits for a task or a time, whichever comes first, and never
cancels the task (a reply still under way goes on after Teams has its answer)."""

from __future__ import annotations

import asyncio

from bot import budget


async def test_a_task_done_in_time_is_waited_for() -> None:
    task = asyncio.ensure_future(asyncio.sleep(0.01, result="sent"))
    await budget.done_or_timeout(task, 5.0)
    assert task.done() and task.result() == "sent"


async def test_a_slow_task_is_left_running_when_the_time_is_up() -> None:
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "sent late"

    task = asyncio.ensure_future(slow())
    loop = asyncio.get_running_loop()
    started = loop.time()
    await budget.done_or_timeout(task, 0.05)
    assert 0.04 <= loop.time() - started < 1.0
    assert not task.done()  # not cancelled: it goes on in the background
    release.set()
    assert await task == "sent late"


async def test_a_finished_or_failed_task_returns_at_once_and_keeps_its_error() -> None:
    async def fails() -> None:
        raise RuntimeError("connector refused")

    task = asyncio.ensure_future(fails())
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await budget.done_or_timeout(task, 5.0)
    assert loop.time() - started < 1.0
    assert isinstance(task.exception(), RuntimeError)
