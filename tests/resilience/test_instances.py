"""Two ``python app.py`` processes on one PostgreSQL database serve the same conversations.

* A conversation whose turns alternate between the two instances ends in
  exactly the state the oracle computes for the whole script.
* Two turns of one conversation at the same moment, one on each instance,
  both end up recorded: the loser of the race gets an e-tag conflict and
  recomputes its turn on the fresh state (bot/conversation.py). The race is
  made certain, not hoped for: the test holds the conversation's row lock
  until both instances have read the state and are waiting to write it
  (``pg_stat_activity`` shows two waiting UPDATEs), then lets go.
* The same without the lock, many times over: no answer is ever lost.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.conversation import conversation_key
from bot.store import open_store, postgres_options
from tests.resilience.conftest import Oracle, make_script, stored_snapshot
from tests.store.conftest import with_schema
from tests.support.connector import LocalConnector
from tests.support.process import BotProcess, http_session
from tests.support.teams import activity

pytestmark = pytest.mark.postgres
CONFLICT_LOG = "state conflict, recomputing turn"


@pytest.fixture
async def instances(pg_url: str, pg_schema: str,
                    tmp_path: Path) -> Any:
    """Two bot processes on one PostgreSQL schema, started at the same time."""
    url = with_schema(pg_url, pg_schema)
    env = {"STORAGE_URL": url, "LOG_LEVEL": "INFO"}
    bots = [BotProcess(env, tmp_path / f"bot-{n}.log") for n in range(2)]
    await asyncio.gather(*(bot.start() for bot in bots))
    sessions = [http_session(bot) for bot in bots]
    try:
        yield url, bots, sessions
    finally:
        for session in sessions:
            await session.close()
        for bot in bots:
            bot.stop()


async def post(session: aiohttp.ClientSession, body: dict[str, Any]) -> int:
    """POST an activity; return the status."""
    async with session.post("/api/messages", json=body) as response:
        await response.read()
        return response.status


def press(service_url: str, conversation_id: str, question: str, value: str) -> dict[str, Any]:
    """A card press answering ``question`` with ``value``."""
    return activity("card_submit", service_url=service_url, conversation_id=conversation_id,
                    value={"msa": "answer", "question": question, "value": value})


def say(service_url: str, conversation_id: str, text: str) -> dict[str, Any]:
    """A typed message."""
    return activity("message", service_url=service_url, conversation_id=conversation_id,
                    text=text)


def conflicts(bots: list[BotProcess]) -> int:
    """How many turns the instances recomputed after an e-tag conflict so far."""
    return sum(bot.logs().count(CONFLICT_LOG) for bot in bots)


async def test_turns_alternating_between_instances_keep_the_conversation(
    instances: Any, connector: LocalConnector, oracle: Oracle
) -> None:
    """Turn n goes to instance n % 2; the stored state is the oracle's after every turn."""
    url, _, sessions = instances
    script = make_script("a:alternating", seed=7)
    expected = list(oracle.snapshots(script))
    store = await open_store(url)
    try:
        for index in range(len(script.turns)):
            status = await post(sessions[index % 2], script.body(index, connector.url))
            assert status == 200
            stored = await stored_snapshot(store, script.conversation_id)
            assert stored == expected[index + 1], f"after turn {index} on instance {index % 2}"
    finally:
        await store.close()
    replies = connector.for_conversation(script.conversation_id)
    assert len(replies) >= len(script.turns)


async def start_conversation(sessions: list[aiohttp.ClientSession], service_url: str,
                             conversation_id: str) -> None:
    """Bring a conversation to the licence question (the mailbox answered)."""
    assert await post(sessions[0], say(service_url, conversation_id, "start")) == 200
    assert await post(sessions[1], say(service_url, conversation_id,
                                       "it is tms@contoso.com")) == 200


async def answers(url: str, conversation_id: str) -> dict[str, Any]:
    """The answers stored for a conversation."""
    store = await open_store(url)
    try:
        snapshot = await stored_snapshot(store, conversation_id) or {}
    finally:
        await store.close()
    return dict(snapshot.get("facts", {}).get("answers", {}))


async def waiting_updates(conn: asyncpg.Connection) -> int:
    """How many sessions wait on a lock in an UPDATE of the state table."""
    # Inside a transaction the statistics views are a snapshot taken once: renew it.
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return int(await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE bot_state%'"))


async def test_two_simultaneous_turns_both_recorded_when_the_race_is_certain(
    instances: Any, connector: LocalConnector, pg_schema: str, report: dict[str, str]
) -> None:
    """Both instances read, both wait to write; the loser retries and keeps the winner's answer."""
    url, bots, sessions = instances
    dsn, _ = postgres_options(url)
    rounds = 3
    first = conflicts(bots)
    for round_number in range(rounds):
        conversation_id = f"a:race-{round_number}"
        await start_conversation(sessions, connector.url, conversation_id)
        before = conflicts(bots)
        locker = await asyncpg.connect(dsn)
        try:
            transaction = locker.transaction()
            await transaction.start()
            await locker.execute(
                f'SELECT 1 FROM "{pg_schema}".bot_state WHERE key = $1 FOR UPDATE',
                conversation_key("msteams", conversation_id))
            turns = [
                asyncio.create_task(post(sessions[0], press(connector.url, conversation_id,
                                                            "mfa", "yes"))),
                asyncio.create_task(post(sessions[1], press(connector.url, conversation_id,
                                                            "security_defaults", "no"))),
            ]
            for _ in range(1000):
                if await waiting_updates(locker) >= 2:
                    break
                assert not any(t.done() for t in turns), "a turn finished past the lock"
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the two turns never both waited to write")
            await transaction.commit()
        finally:
            await locker.close()
        assert await asyncio.gather(*turns) == [200, 200]
        stored = await answers(url, conversation_id)
        assert stored.get("mfa") == "yes" and stored.get("security_defaults") == "no", stored
        # The log is written before the retry; give the line a moment to reach the file.
        for _ in range(100):
            if conflicts(bots) > before:
                break
            await asyncio.sleep(0.02)
        assert conflicts(bots) > before, "the losing turn was not recomputed"
    report["instances, forced race (postgres)"] = (
        f"{rounds} rounds of two simultaneous turns on two instances: "
        f"{conflicts(bots) - first} turns recomputed after a conflict, both answers recorded "
        "every time")


async def test_many_simultaneous_turns_never_lose_an_answer(
    instances: Any, connector: LocalConnector, report: dict[str, str]
) -> None:
    """Unforced races across both instances: every answer sent is in the stored state."""
    url, bots, sessions = instances
    rounds = 12
    before = conflicts(bots)
    conversation_ids = [f"a:free-race-{n}" for n in range(rounds)]
    await asyncio.gather(*(start_conversation(sessions, connector.url, c)
                           for c in conversation_ids))
    pairs = [("mfa", "yes"), ("security_defaults", "no"), ("org_smtp_auth", "enabled"),
             ("conditional_access", "no")]
    statuses = await asyncio.gather(*(
        post(sessions[n % 2], press(connector.url, c, question, value))
        for c in conversation_ids for n, (question, value) in enumerate(pairs)))
    assert set(statuses) == {200}
    for conversation_id in conversation_ids:
        stored = await answers(url, conversation_id)
        assert {q: stored.get(q) for q, _ in pairs} == dict(pairs), (conversation_id, stored)
    report["instances, free races (postgres)"] = (
        f"{rounds} conversations x {len(pairs)} simultaneous answers over two instances: "
        f"{conflicts(bots) - before} conflicts recomputed, 0 answers lost")


async def test_two_instances_answer_bursts_of_simultaneous_turns_once_each(
    instances: Any, connector: LocalConnector, report: dict[str, str]
) -> None:
    """20 conversations x 8 simultaneous answers spread over both instances: none lost."""
    from bot.adapter import SORRY
    from tests.resilience.test_store_failures import QUESTIONS

    url, bots, sessions = instances
    conversation_ids = [f"a:burst-{n}" for n in range(20)]
    await asyncio.gather(*(start_conversation(sessions, connector.url, c)
                           for c in conversation_ids))
    bodies = [press(connector.url, c, question, value)
              for c in conversation_ids for question, value in QUESTIONS]
    statuses = await asyncio.gather(*(post(sessions[n % 2], body)
                                      for n, body in enumerate(bodies)))
    assert set(statuses) == {200}
    answered = [r.path.rsplit("/", 1)[-1] for r in connector.received if r.method == "POST"]
    assert all(answered.count(body["id"]) == 1 for body in bodies)
    assert not any(SORRY in (r.body.get("text") or "") for r in connector.received)
    for conversation_id in conversation_ids:
        stored = await answers(url, conversation_id)
        assert {q: stored.get(q) for q, _ in QUESTIONS} == dict(QUESTIONS), stored
    report["instances, bursts (postgres)"] = (
        f"2 instances x {len(conversation_ids)} conversations x {len(QUESTIONS)} simultaneous "
        f"turns: all {len(bodies)} answered once, 0 'Sorry', all stored; "
        f"{conflicts(bots)} conflicts recomputed")
