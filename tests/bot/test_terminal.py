"""``make chat`` draws cards for a terminal: markdown as text, lettered buttons, details on ask."""

from __future__ import annotations

import io
import re
from pathlib import Path

from app import build_engine
from bot.settings import Settings
from bot.terminal import CardPrinter, terminal_text
from tests.support.terminal import button, shows, terminal_chat


def test_markdown_becomes_terminal_text() -> None:
    shown = "**[Microsoft 365 admin center](https://admin.microsoft.com)** › Users"
    assert terminal_text(shown, bold=False) == (
        "Microsoft 365 admin center (https://admin.microsoft.com) › Users")
    assert terminal_text("Press **Start**", bold=True) == "Press \033[1mStart\033[0m"


def test_buttons_are_letters_and_a_toggle_prints_what_it_hid(knowledge) -> None:  # type: ignore[no-untyped-def]
    from dialogs import cards

    out = io.StringIO()
    printer = CardPrinter(out)
    facts = {"answers": {"mailbox": "tms@contoso.com", "org_smtp_auth": "disabled"}}
    card = cards.summary_card(knowledge, facts)
    printer._card(card, indent="  ")
    shown = out.getvalue()
    assert "1. Authenticated SMTP is turned off for the whole organisation" in shown
    assert re.findall(r"\[(\w+)\] ", shown) == list("abcdefg")[:len(re.findall(r"\[\w+\] ", shown))]
    assert "Set-CASMailbox" not in shown  # behind "Details"
    details = printer.button(button(shown, "Details"))
    assert details is not None and details["type"] == "Action.ToggleVisibility"
    printer.open(details)
    assert ("PS> Set-CASMailbox -Identity 'tms@contoso.com' -SmtpClientAuthenticationDisabled "
            "$false") in out.getvalue()
    assert printer.button("z") is None and printer.button("1") is None


async def test_a_chat_in_the_terminal_shows_no_raw_markdown(tmp_path: Path) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db")
    async with terminal_chat(settings, build_engine(settings)) as (stdin, out):
        welcome = await shows(out, "] Language")
        assert "Check my tenant" not in welcome  # no sign-in configured here
        stdin.type(button(welcome, "Start"))
        question = await shows(out, "Question 1 of 10")
        stdin.type("tms@contoso.com")
        await shows(out, "Question 2 of 10")
        stdin.type("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                   "disabled for the Mailbox")
        shown = await shows(out, "Yes, it works")
        assert "**" not in shown and "](http" not in shown
        assert "Microsoft 365 admin center (https://admin.microsoft.com) › Users" in shown
        assert question
