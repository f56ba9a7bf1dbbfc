"""Operations: /healthz follows the store, /metrics is Prometheus text that a conversation moves.

* ``/healthz`` is 200 while the store answers and 503 once it does not: the
  store closed under the app, or PostgreSQL cut off behind a local TCP proxy
  (and 200 again when the database is back, without a restart).
* ``/metrics`` parses with the official Prometheus client's parser; a
  conversation with a pasted error and a request for a person moves the
  turn counter, the turn-latency histogram, diagnoses by cause and handoffs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.keys import STORE_KEY
from bot.settings import Settings
from tests.security.conftest import PASTED_ERROR
from tests.store.conftest import with_schema
from tests.support.harness import Chat

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(chat: Chat) -> tuple[Samples, dict[str, str]]:
    """GET /metrics; return every sample by (name, labels) and each family's type."""
    response = await chat.client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, types


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(value for (sample, sample_labels), value in samples.items()
               if sample == name and set(labels.items()) <= set(sample_labels))


async def test_healthz_is_200_with_the_store_and_503_once_it_is_closed(chat: Chat) -> None:
    """The probe asks the store; a closed store is an unhealthy instance."""
    response = await chat.client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"
    await chat.client.app[STORE_KEY].close()
    response = await chat.client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["status"] == "store unreachable"


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; ``cut()`` drops every connection and the listener."""

    def __init__(self, target_host: str, target_port: int) -> None:
        """Describe the proxy; ``start`` listens."""
        self.target = (target_host, target_port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (on the same port again after a cut)."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    async def cut(self) -> None:
        """Stop listening and drop every open connection."""
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await self.server.wait_closed()


@pytest.mark.postgres
async def test_healthz_follows_postgresql_going_away_and_coming_back(
    aiohttp_client: Any, pg_url: str, pg_schema: str, tmp_path: Any
) -> None:
    """PostgreSQL unreachable: 503; reachable again: 200, with the same process."""
    from urllib.parse import urlsplit

    from app import create_app

    database = urlsplit(pg_url)
    proxy = TcpProxy(database.hostname or "127.0.0.1", database.port or 5432)
    await proxy.start()
    proxied = pg_url.replace(database.netloc, database.netloc.replace(
        f"{database.hostname}:{database.port or 5432}", f"127.0.0.1:{proxy.port}"), 1)
    client = await aiohttp_client(create_app(Settings(storage_url=with_schema(proxied, pg_schema))))
    try:
        assert (await client.get("/healthz")).status == 200
        await proxy.cut()
        assert (await client.get("/healthz")).status == 503
        await proxy.start()
        assert (await client.get("/healthz")).status == 200
    finally:
        await proxy.cut()


async def test_a_conversation_moves_the_counters(chat: Chat) -> None:
    """Turns, latency, a diagnosis by its cause and a handoff request all show on /metrics."""
    before, types = await scrape(chat)
    assert {"msa_turns", "msa_turn_seconds", "msa_diagnoses", "msa_questions", "msa_checks",
            "msa_handoffs"} <= set(types)
    assert types["msa_turn_seconds"] == "histogram"
    assert types["msa_turns"] == types["msa_diagnoses"] == types["msa_handoffs"] == "counter"

    await chat.install()
    await chat.say("start")
    await chat.press({"msa": "answer", "question": "mailbox", "value": "tms@contoso.com"})
    await chat.say(PASTED_ERROR)
    await chat.say("does MFA block SMTP?")
    await chat.say("talk to a person")
    after, _ = await scrape(chat)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("msa_turns_total", type="message") == 5
    assert moved("msa_turns_total") == 7  # with installationUpdate and conversationUpdate
    assert moved("msa_turn_seconds_count") == 7
    assert moved("msa_turn_seconds_sum") > 0
    assert moved("msa_turn_seconds_bucket", le="+Inf") == 7
    assert moved("msa_diagnoses_total", cause="smtp_auth_disabled_mailbox") == 1
    assert moved("msa_questions_total", cause="mfa_required") == 1
    assert moved("msa_handoffs_total", kind="requested") == 1
    # Histogram buckets are cumulative and end at the count.
    buckets = sorted(((float(dict(labels)["le"]), value) for (name, labels), value in after.items()
                      if name == "msa_turn_seconds_bucket"))
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert buckets[-1][1] == total(after, "msa_turn_seconds_count")
