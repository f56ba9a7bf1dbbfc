"""Staff commands are turns like any other: decided, stored once, then answered (issue 18 Build 1).

The staff desk (:class:`dialogs.staff.StaffTools`) returns effects; the edge
adds them to the turn and :mod:`bot.effects` sends the replies after the
turn's state is stored. Over HTTP with the local Bot Connector:

* a staff command costs one read and one write of the store, as a customer's
  turn does (``tests/test_turn_statements.py`` counts the same way);
* a command Teams delivers twice is answered once;
* when the store cannot take the turn, the command is answered 503 with no
  reply (Teams delivers it again), and the redelivery is answered once;
* a connector that takes 30 s does not hold Teams' request (it waits 15 s).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from bot.keys import STORE_KEY
from bot.settings import Settings
from dialogs.effects import Count, Say
from dialogs.knowledge import Knowledge
from dialogs.staff import METRIC, STAFF_ONLY, StaffCommand, StaffContext, StaffTools
from tests.staff.conftest import STAFF_TENANT
from tests.support.cards import cards_in
from tests.support.connector import LocalConnector
from tests.support.harness import Chat, texts
from tests.support.locked import sqlite_locked
from tests.support.teams import activity

SUPPORT_THREAD = "19:supportchannel@thread.tacv2;messageid=1732788720000"


def staff_chat(client: Any, connector: LocalConnector) -> Chat:
    """A personal chat between a CLOUDEX staff member (a member of the tenant) and the bot."""
    connector.add_member("29:staff-user", STAFF_TENANT, name="Dana Agent")
    return Chat(client, connector, user_id="29:staff-user", user_name="Dana Agent",
                tenant_id=STAFF_TENANT)


def channel_message(chat: Chat, text: str) -> dict[str, Any]:
    """A staff member's message in a support-channel thread, mentioning the bot."""
    return activity("channel_message", service_url=chat.connector.url,
                    conversation_id=chat.conversation_id, user_id=chat.user_id,
                    tenant_id=STAFF_TENANT, text=f"<at>Mail Setup Assistant</at> {text}")


def count_statements(app: Any) -> list[str]:
    """Record every statement the app sends to SQLite from now on, as READ or WRITE.

    A statement is a ``query`` (which may hand itself to ``run``: counted once)
    or a ``run`` job.
    """
    db = app[STORE_KEY].state.db
    calls: list[str] = []
    query, run = db.query, db.run
    inside = [0]

    async def counted_query(sql: str, *args: Any, **kwargs: Any) -> Any:
        writes = kwargs.get("writes")
        calls.append("READ" if writes is False or (
            writes is None and sql.lstrip()[:6].upper() == "SELECT") else "WRITE")
        inside[0] += 1
        try:
            return await query(sql, *args, **kwargs)
        finally:
            inside[0] -= 1

    async def counted_run(job: Any, *args: Any, **kwargs: Any) -> Any:
        if not inside[0]:
            calls.append("WRITE" if kwargs.get("writes", True) else "READ")
        return await run(job, *args, **kwargs)

    db.query, db.run = counted_query, counted_run
    return calls


# ----- the desk, on its own ---------------------------------------------------------------
def test_a_command_is_its_replies_and_one_count(knowledge: Knowledge) -> None:
    tools = StaffTools(knowledge)
    command = StaffCommand("ps tenant")
    effects = tools.answer(command, StaffContext(now=datetime.now(UTC)))
    replies = tools.run(command)
    assert effects == [*(Say(reply) for reply in replies), Count(METRIC, {"command": "ps tenant"})]


def test_the_compose_search_gives_staff_cards_and_others_one_line(knowledge: Knowledge) -> None:
    tools = StaffTools(knowledge)
    stranger = tools.compose("smtp disabled", staff=False)
    assert stranger.message == STAFF_ONLY and stranger.items == () and stranger.effects == ()
    staff = tools.compose("smtp disabled", staff=True, skip=1, count=2)
    assert [i.cause_id for i in staff.items] == [
        i.cause_id for i in tools.compose_items("smtp disabled", limit=3)][1:]
    assert staff.message is None
    assert staff.effects == (Count(METRIC, {"command": "search"}),)


# ----- over HTTP ----------------------------------------------------------------------------
async def test_a_staff_command_is_one_read_and_one_write(
    aiohttp_client: Any, settings: Settings, connector: LocalConnector
) -> None:
    app = create_app(settings)
    chat = staff_chat(await aiohttp_client(app), connector)
    await chat.say("kb smtp")  # the first turn also sweeps tickets and reads the common topics
    calls = count_statements(app)
    for text in ("kb app password", "ps tenant", "ps mailbox tms@contoso.com",
                 "diagnose 535 5.7.139 Authentication unsuccessful", "explain mfa_required"):
        calls.clear()
        assert await chat.say(text), text
        assert calls == ["READ", "WRITE"], (text, calls)
    # stats reads the audit log it reports on, and nothing more.
    calls.clear()
    assert await chat.say("stats 7")
    assert calls == ["READ", "READ", "WRITE"], calls


async def test_a_staff_command_in_a_support_thread_is_one_read_and_one_write(
    aiohttp_client: Any, settings: Settings, connector: LocalConnector
) -> None:
    app = create_app(settings)
    chat = staff_chat(await aiohttp_client(app), connector)
    chat.conversation_id = SUPPORT_THREAD
    status, _, _ = await chat.post(channel_message(chat, "kb smtp"))
    assert status == 200
    calls = count_statements(app)
    status, replies, _ = await chat.post(channel_message(chat, "ps tenant"))
    assert status == 200 and len(replies) == 1
    assert calls == ["READ", "WRITE"], calls


async def test_a_staff_command_delivered_twice_is_answered_once(
    aiohttp_client: Any, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    chat = staff_chat(client, connector)
    body = chat._activity("message", text="ps tenant")
    first = await chat.post(body)
    again = await chat.post(body)  # Teams did not hear back in time and delivers it again
    assert first[0] == again[0] == 200
    assert len(first[1]) == 1 and again[1] == []
    metrics = await (await client.get("/metrics")).text()
    counted = {tuple(sorted(s.labels.items())): s.value
               for family in text_string_to_metric_families(metrics)
               for s in family.samples if s.name == METRIC}
    assert counted == {(("command", "ps tenant"),): 1.0}


async def test_a_staff_command_that_cannot_be_stored_gets_503_and_no_reply(
    aiohttp_client: Any, tmp_path: Path, connector: LocalConnector
) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db",
                        staff_tenant_ids=(STAFF_TENANT,))
    chat = staff_chat(await aiohttp_client(create_app(settings)), connector)
    await chat.say("kb smtp")
    body = chat._activity("message", text="ps tenant")
    with sqlite_locked(tmp_path / "bot.db"):
        status, replies, _ = await chat.post(body)
        assert status == 503 and replies == []
    status, replies, _ = await chat.post(body)  # Teams delivers it again
    assert status == 200 and len(replies) == 1
    assert "Set-TransportConfig -SmtpClientAuthenticationDisabled $false" in texts(replies)
    assert len(connector.for_conversation(chat.conversation_id)) == 2  # kb, then ps once


async def test_a_slow_connector_does_not_hold_a_staff_command(
    aiohttp_client: Any, settings: Settings, connector: LocalConnector
) -> None:
    chat = staff_chat(await aiohttp_client(create_app(settings)), connector)
    connector.delay_seconds = 16.0  # past the 10 s budget and Teams' 15 s
    started = time.monotonic()
    response = await chat.client.post("/api/messages",
                                      json=chat._activity("message", text="kb app password"))
    answered = time.monotonic() - started
    assert response.status == 200 and answered < 15.0, answered  # Teams waits 15 s
    await connector.wait_for(1, timeout=30.0)  # the reply goes on, and arrives
    [reply] = connector.for_conversation(chat.conversation_id)
    assert cards_in(reply)[0]["body"][0]["text"] == "Knowledge: app password"
