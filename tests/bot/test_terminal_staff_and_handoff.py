"""``make chat`` runs the server's wiring: staff tools for the local user, and a local handoff.

The terminal opens the bot through the same composition root as the server
(bot/composition.py). The person at the terminal is staff there — and only
there: the rule trusts turns that came through the terminal's adapter, and the
server never builds it.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from app import build_engine
from bot.identity import StaffDirectory
from bot.keys import SERVICES_KEY
from bot.settings import Settings
from bot.terminal import PrintingAdapter, TerminalStaff, terminal_help
from tests.support.terminal import button, shows, terminal_chat

# Staff are members of a tenant the terminal is not in: nobody at the terminal is staff
# because of the configured rule, only because it is the terminal.
STAFF_ONLY_ELSEWHERE = {"staff_tenant_ids": ("0f1e2d3c-0000-4000-8000-00000000aaaa",)}


def since(out: io.StringIO, mark: int) -> str:
    return out.getvalue()[mark:]


async def test_make_chat_answers_staff_commands_and_runs_a_local_handoff(tmp_path: Path) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db", **STAFF_ONLY_ELSEWHERE)
    async with terminal_chat(settings, build_engine(settings)) as (stdin, out):
        await shows(out, "] Language")
        stdin.type("kb smtp auth disabled")
        shown = await shows(out, "Knowledge: smtp auth disabled")
        assert "Authenticated SMTP is turned off for the whole organisation" in shown
        mark = len(out.getvalue())
        stdin.type("ps tenant")
        await shows(out, "PS> Get-TransportConfig")
        assert "Question 1 of" not in since(out, mark)  # a staff command, not an answer

        # The customer asks for a person: the ticket's card shows on the agent's side.
        mark = len(out.getvalue())
        stdin.type("talk to a person")
        await shows(out, "[a] Take over")
        asked = since(out, mark)
        assert "bot>" in asked and "number 1 in the queue" in asked
        assert "support>" in asked and "Asked to talk to a person" in asked

        mark = len(out.getvalue())
        stdin.type("/agent take")
        await shows(out, "Local agent from CLOUDEX support has joined")
        assert "support> Local agent has taken this over." in since(out, mark)

        mark = len(out.getvalue())
        stdin.type("/agent Hello, I am looking at your tenant now.")
        await shows(out, "bot> Local agent (CLOUDEX support): Hello, I am looking at your "
                         "tenant now.")

        mark = len(out.getvalue())
        stdin.type("it is the shared mailbox")  # while the agent has it: relayed, not the flow
        relayed = await shows(out, "support> You: it is the shared mailbox")
        assert "Question 1 of" not in relayed[mark:]

        stdin.type("/agent done")
        ended = await shows(out, "Is your problem solved?")
        assert "support> Handed back to the bot." in ended
        assert "handed the conversation back to me" in ended
        stdin.type(button(ended, "Yes, solved"))
        await shows(out, "you> ", within=5)


async def test_help_lists_the_terminal_the_staff_and_the_agent_commands(tmp_path: Path) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db")
    async with terminal_chat(settings, build_engine(settings)) as (stdin, out):
        await shows(out, "/help")
        stdin.type("/help")
        shown = await shows(out, "/agent done")
        for line in ("kb <words>", "ps tenant", "/agent take", "/agent <text>", "quit"):
            assert line in shown
        assert terminal_help() in shown


def _turn(adapter: Any) -> Any:
    activity = SimpleNamespace(channel_data={}, conversation=SimpleNamespace(
        id="a:1", tenant_id="", conversation_type="personal"),
        from_property=SimpleNamespace(id="29:x", name="X", aad_object_id=None),
        service_url="http://localhost/terminal", channel_id="terminal")
    return SimpleNamespace(adapter=adapter, activity=activity, turn_state={})


async def test_the_terminal_user_is_staff_only_through_the_terminal() -> None:
    settings = Settings(storage_url="memory://", **STAFF_ONLY_ELSEWHERE)
    rule = TerminalStaff(settings)
    assert await rule.is_staff(_turn(PrintingAdapter(print)))
    assert not await rule.is_staff(_turn(object()))  # the same turn from anywhere else
    assert not await StaffDirectory(settings).is_staff(_turn(PrintingAdapter(print)))


async def test_the_server_never_uses_the_terminal_staff_rule(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    from app import create_app

    app = create_app(Settings(storage_url="memory://"))
    await aiohttp_client(app)
    staff = app[SERVICES_KEY].staff
    assert isinstance(staff, StaffDirectory) and not isinstance(staff, TerminalStaff)
