"""A database that stops answering (not refusing: silent) still gets Teams an answer in time.

PostgreSQL behind a local TCP proxy that, when told, keeps every connection
open but passes nothing on — a stalled network or a database stuck behind a
lock. The driver would wait 30 s for each statement; Teams waits 15 s for the
bot and then delivers the activity again. Over HTTP:

* the turn is answered 503 well before Teams gives up, and ``/healthz`` is
  503 meanwhile, within seconds (a load balancer's probe waits a few);
* once the database answers again, the turn (left to finish rather than cut
  off mid-write) and Teams' redelivery together answer the customer exactly
  once, and the answer is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from app import create_app
from bot.settings import Settings
from tests.resilience.test_operations import TcpProxy
from tests.resilience.test_store_failures import answers
from tests.store.conftest import with_schema
from tests.support.connector import LocalConnector
from tests.support.harness import Chat


class StallingProxy(TcpProxy):
    """A TCP proxy that holds every byte while ``stalled`` is set (connections stay open)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        """Forward to the target; not stalled yet."""
        super().__init__(target_host, target_port)
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    await self.flowing.wait()
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.mark.postgres
async def test_a_stalled_database_gets_503_in_time_and_the_turn_is_answered_once(
    aiohttp_client: Any, pg_url: str, pg_schema: str, connector: LocalConnector
) -> None:
    from urllib.parse import urlsplit

    database = urlsplit(pg_url)
    proxy = StallingProxy(database.hostname or "127.0.0.1", database.port or 5432)
    await proxy.start()
    proxied = pg_url.replace(database.netloc, database.netloc.replace(
        f"{database.hostname}:{database.port or 5432}", f"127.0.0.1:{proxy.port}"), 1)
    client = await aiohttp_client(create_app(Settings(
        storage_url=with_schema(proxied, pg_schema))))
    chat = Chat(client, connector)
    try:
        await chat.say("start")
        await chat.say("it is tms@contoso.com")
        press = chat._activity("card_submit", value={"msa": "answer", "question": "mfa",
                                                     "value": "yes"})
        before = len(connector.for_conversation(chat.conversation_id))
        proxy.flowing.clear()
        started = time.monotonic()
        status, replies, _ = await chat.post(press)
        answered = time.monotonic() - started
        assert status == 503 and replies == [], status
        assert answered < 15.0, answered  # Teams waits 15 s, then delivers it again
        started = time.monotonic()
        assert (await client.get("/healthz")).status == 503
        probed = time.monotonic() - started
        assert probed < 5.0, probed  # a probe's own timeout is a few seconds
        proxy.flowing.set()
        status, _, _ = await chat.post(press)  # Teams delivers it again
        assert status == 200
        await asyncio.sleep(0.5)  # a late turn's reply, had it been sent twice, would show
        assert len(connector.for_conversation(chat.conversation_id)) == before + 1
        assert (await answers(with_schema(pg_url, pg_schema), chat.conversation_id)).get(
            "mfa") == "yes"
    finally:
        proxy.flowing.set()
        await proxy.cut()
