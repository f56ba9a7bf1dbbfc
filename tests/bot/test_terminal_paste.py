"""``make chat``: a multi-line paste is one message, not one message per line."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app import build_engine
from bot.settings import Settings
from bot.terminal import PASTE_END, PASTE_START, read_message
from tests.support.terminal import shows, terminal_chat

PASTED_ERROR = (
    "Sending failed.\n"
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the\n"
    "Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.\n"
)


def lines(*given: str):  # type: ignore[no-untyped-def]
    pending = list(given)

    async def readline() -> str:
        return pending.pop(0) if pending else ""
    return readline


async def test_a_bracketed_paste_is_read_as_one_message_with_its_line_breaks() -> None:
    read = lines(f"{PASTE_START}first line\n", "second line\n", f"third{PASTE_END}\n", "next\n")
    assert await read_message(read) == "first line\nsecond line\nthird"
    assert await read_message(read) == "next"
    assert await read_message(read) is None


async def test_a_typed_line_is_one_message_and_a_paste_cut_short_is_kept() -> None:
    assert await read_message(lines("  hello  \n")) == "hello"
    assert await read_message(lines(f"{PASTE_START}only half\n")) == "only half"


async def test_make_chat_diagnoses_a_pasted_error_in_one_turn(tmp_path: Path) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db")
    async with terminal_chat(settings, build_engine()) as (stdin, out):
        await shows(out, "you> ")
        stdin.type(PASTE_START + PASTED_ERROR + PASTE_END + "\n")
        await shows(out, "No, still failing")
        await asyncio.sleep(0.5)  # had the lines been read one by one, more turns would follow
        after = out.getvalue().split("never ask for passwords", 1)[1]
        # One turn: the prompt the paste answered and the next one, nothing in between.
        assert after.count("you> ") == 2, after
        assert "Authenticated SMTP is turned off for the whole organisation" in after
