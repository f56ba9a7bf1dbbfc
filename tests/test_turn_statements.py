"""A customer turn with no handoff open reads the store once and writes it once (issue 18).

Every statement the app sends to SQLite is counted around the turns of a plain
conversation (after its first turn, which may also sweep for overdue tickets).
"""

from __future__ import annotations

from typing import Any

from app import create_app
from bot.keys import STORE_KEY
from bot.settings import Settings
from tests.support.connector import LocalConnector
from tests.support.harness import Chat


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
