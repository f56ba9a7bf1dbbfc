"""A customer turn with no handoff open reads the store once and writes it once (issue 18).

Every statement the app sends to SQLite is counted around the turns of a plain
conversation (after its first turn, which may also sweep for overdue tickets),
and of one waiting for a person, which also reads its ticket.
"""

from __future__ import annotations

from typing import Any

from app import create_app
from bot.keys import STORE_KEY
from bot.settings import Settings
from tests.staff.test_staff_turns import count_statements
from tests.support.connector import LocalConnector
from tests.support.handoff import support_post
from tests.support.harness import Chat, texts


async def test_a_plain_turn_is_one_read_and_one_write(
    aiohttp_client: Any, settings: Settings, connector: LocalConnector
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    chat = Chat(client, connector)
    await chat.say("start")
    db = app[STORE_KEY].state.db
    calls: list[str] = []
    query, run = db.query, db.run

    async def counted_query(sql: str, *args: Any, **kwargs: Any) -> Any:
        calls.append("READ" if sql.split()[0].upper() == "SELECT" else "WRITE")
        return await query(sql, *args, **kwargs)

    async def counted_run(job: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("WRITE" if kwargs.get("writes", True) else "READ")
        return await run(job, *args, **kwargs)

    db.query, db.run = counted_query, counted_run
    turns = ["it is tms@contoso.com", "535 5.7.139 Authentication unsuccessful",
             "does MFA block SMTP?", "zzkx qwv"]
    for text in turns:
        calls.clear()
        assert await chat.say(text)
        assert calls == ["READ", "WRITE"], (text, calls)


async def test_a_turn_while_a_person_is_awaited_is_two_reads_and_one_write(
    aiohttp_client: Any, settings: Settings, connector: LocalConnector
) -> None:
    """Handed off: the state and the ticket are read, and one transaction writes the state,
    the customer's transcript line (checking the ticket's status in it) and any audit rows."""
    app = create_app(settings)
    client = await aiohttp_client(app)
    await support_post(client, connector).say("use this channel for handoffs")
    chat = Chat(client, connector)
    await chat.say("start")
    assert "in the queue" in texts(await chat.say("talk to a person"))
    calls = count_statements(app)
    for text in ["it is tms@contoso.com", "535 5.7.139 Authentication unsuccessful",
                 "zzkx qwv"]:
        calls.clear()
        assert await chat.say(text)
        assert calls == ["READ", "READ", "WRITE"], (text, calls)
