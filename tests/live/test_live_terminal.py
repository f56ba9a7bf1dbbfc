"""``make chat``: the terminal chat signs in with the device code flow and shows the results."""

from __future__ import annotations

import asyncio
import io
import queue
import re
import time
from pathlib import Path

from app import build_engine
from bot.terminal import run_terminal_chat
from tests.checks.fakes import TenantScenario
from tests.live.conftest import IdentityFactory, as_mailbox, live_settings


class TypedLines:
    """Stdin fed line by line by the test (``readline`` blocks like a terminal's)."""

    def __init__(self) -> None:
        self._lines: queue.Queue[str] = queue.Queue()

    def type(self, line: str) -> None:
        self._lines.put(line + "\n")

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


async def test_terminal_chat_signs_in_with_a_device_code_and_prints_the_results(
    start_identity: IdentityFactory, tmp_path: Path,
) -> None:
    identity = await start_identity(as_mailbox(TenantScenario.for_cause("security_defaults")))
    stdin, out = TypedLines(), io.StringIO()
    settings = live_settings(identity, tmp_path)
    chat = asyncio.create_task(run_terminal_chat(
        settings, build_engine(settings), stdin, out))  # type: ignore[arg-type]
    try:
        welcome = await shows(out, "Check my tenant")
        stdin.type(button(welcome, "Check my tenant"))
        consent = await shows(out, "Sign in and check")
        stdin.type(button(consent, "Sign in and check"))
        await shows(out, "https://microsoft.com/devicelogin")
        output = await shows(out, "checks done")
        assert "✗ Security defaults" in output and "**" not in output
        assert "Security defaults block" in output.split("What to fix")[-1]
    finally:
        stdin.type("quit")
        await asyncio.wait_for(chat, 10)
    assert identity.grants()[0] == "devicecode"
