"""A turn is acknowledged only once its state is stored: otherwise 503, and Teams delivers it again.

* SQLite locked by another process holding ``BEGIN EXCLUSIVE``, SQLite that
  refuses writes (``PRAGMA query_only``: the error a read-only file gives), and
  PostgreSQL cut off behind a local TCP proxy: the turn gets 503, ``/healthz``
  503, and the same activity delivered again after recovery is stored.
* Turns of one conversation arriving all at once (8 at a time for 20
  conversations) are each answered once, never "Sorry", and all stored.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from bot.adapter import SORRY
from bot.keys import STORE_KEY
from bot.settings import Settings
from bot.store import open_store
from tests.resilience.test_operations import TcpProxy
from tests.store.conftest import with_schema
from tests.support.connector import LocalConnector
from tests.support.harness import Chat, texts

QUESTIONS = [("mfa", "yes"), ("security_defaults", "no"), ("org_smtp_auth", "enabled"),
             ("conditional_access", "no"), ("mailbox_smtp_auth", "enabled"),
             ("auth_method", "oauth"), ("license", "yes"), ("mailbox_type", "user")]


async def answers(storage_url: str, conversation_id: str) -> dict[str, Any]:
    async with await open_store(storage_url) as store:
        key = f"conv/msteams/{conversation_id}"
        item = (await store.state.read([key])).get(key) or {}
    return dict(((item.get("snapshot") or {}).get("facts") or {}).get("answers") or {})


async def refused_then_stored(chat: Chat, storage_url: str, recover: Any) -> None:
    """One answer refused with 503 while the store is down, stored when it is redelivered."""
    press = chat._activity("card_submit", value={"msa": "answer", "question": "mfa",
                                                 "value": "yes"})
    status, replies, _ = await chat.post(press)
    assert status == 503 and replies == []
    health = await chat.client.get("/healthz")
    assert health.status == 503
    await recover()
    status, replies, _ = await chat.post(press)  # Teams delivers it again
    assert status == 200 and SORRY not in texts(replies)
    assert (await answers(storage_url, chat.conversation_id)).get("mfa") == "yes"
    await asyncio.sleep(1.1)  # past the write probe's cache
    assert (await chat.client.get("/healthz")).status == 200


async def test_sqlite_locked_by_another_process_gets_503_then_stores_the_redelivery(
    aiohttp_client: Any, tmp_path: Path, connector: LocalConnector
) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    client = await aiohttp_client(create_app(Settings(storage_url=url)))
    chat = Chat(client, connector)
    await chat.say("start")
    await chat.say("it is tms@contoso.com")
    locker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(tmp_path / 'bot.db')!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)",
        stdout=asyncio.subprocess.PIPE)

    async def recover() -> None:
        if locker.returncode is None:
            locker.kill()
        await locker.wait()

    try:
        assert locker.stdout is not None and (await locker.stdout.readline()).strip() == b"locked"
        await refused_then_stored(chat, url, recover)
    finally:
        await recover()


async def test_sqlite_refusing_writes_gets_503_then_stores_the_redelivery(
    aiohttp_client: Any, tmp_path: Path, connector: LocalConnector
) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    app = create_app(Settings(storage_url=url))
    client = await aiohttp_client(app)
    chat = Chat(client, connector)
    await chat.say("start")
    await chat.say("it is tms@contoso.com")
    db = app[STORE_KEY].state.db  # the bot's own connection
    await db.query("PRAGMA query_only = ON")  # writes now fail as on a read-only file

    async def recover() -> None:
        await db.query("PRAGMA query_only = OFF")

    await refused_then_stored(chat, url, recover)


@pytest.mark.postgres
async def test_postgresql_going_away_gets_503_then_stores_the_redelivery(
    aiohttp_client: Any, pg_url: str, pg_schema: str, connector: LocalConnector
) -> None:
    from urllib.parse import urlsplit

    database = urlsplit(pg_url)
    proxy = TcpProxy(database.hostname or "127.0.0.1", database.port or 5432)
    await proxy.start()
    proxied = pg_url.replace(database.netloc, database.netloc.replace(
        f"{database.hostname}:{database.port or 5432}", f"127.0.0.1:{proxy.port}"), 1)
    url = with_schema(proxied, pg_schema)
    client = await aiohttp_client(create_app(Settings(storage_url=url)))
    chat = Chat(client, connector)
    try:
        await chat.say("start")
        await chat.say("it is tms@contoso.com")
        await proxy.cut()
        await refused_then_stored(chat, with_schema(pg_url, pg_schema), proxy.start)
    finally:
        await proxy.cut()


async def test_simultaneous_turns_of_each_conversation_are_all_answered_and_stored(
    aiohttp_client: Any, tmp_path: Path, connector: LocalConnector, report: dict[str, str]
) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    client = await aiohttp_client(create_app(Settings(storage_url=url)))
    chats = [Chat(client, connector) for _ in range(20)]
    for chat in chats:
        await chat.say("start")
        await chat.say("it is tms@contoso.com")

    async def press(chat: Chat, question: str, value: str) -> tuple[int, str]:
        body = chat._activity("card_submit", value={"msa": "answer", "question": question,
                                                    "value": value})
        response = await client.post("/api/messages", json=body)
        await response.read()
        return response.status, body["id"]

    sent = await asyncio.gather(*(press(chat, q, v) for chat in chats for q, v in QUESTIONS))
    assert {status for status, _ in sent} == {200}
    answered = [r.path.rsplit("/", 1)[-1] for r in connector.received if r.method == "POST"]
    for _, activity_id in sent:
        assert answered.count(activity_id) == 1, activity_id  # one reply each, to that turn
    assert SORRY not in texts([r.body for r in connector.received])
    for chat in chats:
        stored = await answers(url, chat.conversation_id)
        assert {q: stored.get(q) for q, _ in QUESTIONS} == dict(QUESTIONS), stored
    report["simultaneous turns (sqlite, one instance)"] = (
        f"{len(chats)} conversations x {len(QUESTIONS)} simultaneous answers: every turn "
        "answered once, 0 'Sorry', all stored")
