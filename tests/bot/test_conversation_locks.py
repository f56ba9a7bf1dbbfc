"""ConversationLocks: one turn of a conversation at a time here, and no lock left behind."""

from __future__ import annotations

import asyncio

import pytest

from bot import budget
from bot.conversation import TurnNotStored
from bot.http import ConversationLocks


async def test_turns_of_one_conversation_run_one_at_a_time_in_arrival_order() -> None:
    locks = ConversationLocks()
    running: list[str] = []
    order: list[str] = []

    async def turn(conversation: str, name: str) -> None:
        async with locks.hold(conversation):
            running.append(conversation)
            assert running.count(conversation) == 1
            order.append(name)
            await asyncio.sleep(0.01)
            running.remove(conversation)

    await asyncio.gather(*(turn("a", f"a{i}") for i in range(5)),
                         *(turn("b", f"b{i}") for i in range(3)))
    assert [n for n in order if n.startswith("a")] == [f"a{i}" for i in range(5)]
    assert [n for n in order if n.startswith("b")] == [f"b{i}" for i in range(3)]
    assert locks._locks == {}


async def test_a_failing_turn_releases_the_conversation() -> None:
    locks = ConversationLocks()
    with pytest.raises(RuntimeError):
        async with locks.hold("a"):
            raise RuntimeError("the turn failed")
    async with locks.hold("a"):
        pass
    assert locks._locks == {}


async def hold_until_released(locks: ConversationLocks, conversation: str,
                              ) -> tuple[asyncio.Future[None], asyncio.Event]:
    """A turn that holds ``conversation`` until the returned event is set (and its task)."""
    held = asyncio.Event()
    release = asyncio.Event()

    async def turn() -> None:
        async with locks.hold(conversation):
            held.set()
            await release.wait()

    holder = asyncio.ensure_future(turn())
    await held.wait()
    return holder, release


async def test_a_turn_waiting_past_its_budget_is_not_stored_and_leaves_no_count() -> None:
    locks = ConversationLocks()
    holder, release = await hold_until_released(locks, "a")
    with budget.turn_budget(0.05), pytest.raises(TurnNotStored):
        async with locks.hold("a"):
            pytest.fail("ran while the first turn held the conversation")
    assert locks._locks["a"][1] == 1  # only the first turn is counted now
    release.set()
    await holder
    assert locks._locks == {}


async def test_a_cancelled_waiter_leaves_no_count() -> None:
    locks = ConversationLocks()
    holder, release = await hold_until_released(locks, "a")

    async def second() -> None:
        async with locks.hold("a"):
            pytest.fail("a cancelled waiter ran")

    waiter = asyncio.ensure_future(second())
    await asyncio.sleep(0.01)
    assert locks._locks["a"][1] == 2
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert locks._locks["a"][1] == 1
    release.set()
    await holder
    assert locks._locks == {}
