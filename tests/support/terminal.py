"""Driving ``make chat`` in a test: typed stdin, the printed output, the chat as a task."""

from __future__ import annotations

import asyncio
import io
import queue
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.settings import Settings
from bot.terminal import run_terminal_chat


class TypedLines:
    """Stdin fed by the test, a line at a time (``readline`` blocks like a terminal's).

    ``type`` takes one line or several (a paste keeps its line breaks); the last
    one is ended with a newline when it has none, as pressing Enter does.
    """

    def __init__(self) -> None:
        self._lines: queue.Queue[str] = queue.Queue()

    def type(self, text: str) -> None:
        if not text.endswith("\n"):
            text += "\n"
        for line in text.splitlines(keepends=True):
            self._lines.put(line)

    def readline(self) -> str:
        return self._lines.get(timeout=30)


async def shows(out: io.StringIO, text: str, within: float = 10.0) -> str:
    """Wait (up to ``within`` s) until the terminal output contains ``text``; returns it."""
    deadline = time.monotonic() + within
    while text not in out.getvalue():
        assert time.monotonic() < deadline, f"{text!r} never shown:\n{out.getvalue()[-2000:]}"
        await asyncio.sleep(0.02)
    return out.getvalue()


def button(output: str, title: str) -> str:
    """The letter to type for the last button called ``title``."""
    return re.findall(rf"\[([a-z])\] {re.escape(title)}\n", output)[-1]


@asynccontextmanager
async def terminal_chat(settings: Settings,
                        engine: Any) -> AsyncIterator[tuple[TypedLines, io.StringIO]]:
    """Run ``make chat``'s loop with ``settings`` and ``engine``; yield its stdin and output.

    On the way out the test types ``quit`` and the chat must end within 10 s.
    """
    stdin, out = TypedLines(), io.StringIO()
    chat = asyncio.create_task(run_terminal_chat(settings, engine, stdin, out))  # type: ignore[arg-type]
    try:
        yield stdin, out
    finally:
        stdin.type("quit")
        await asyncio.wait_for(chat, 10)
