"""Retention (issue 18): what outlives RETENTION_DAYS goes, on both backends, from any instance."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from bot.auth import VAULT_PREFIX
from bot.settings import Settings, SettingsError
from bot.store.outbox import AuditLine, OutboxMessage, TurnWrites
from bot.store.retention import (
    CHECK_RUNS,
    EXPIRIES,
    SIGN_IN_EXCHANGES,
    TOKEN_CACHES,
    Retention,
    RetentionJob,
)
from dialogs import store_keys
from tests.store.conftest import FakeClock, StorageFactory

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = {"conversation": {"id": "a:customer"},
            "serviceUrl": "https://smba.trafficmanager.net/emea/"}
THREAD = {"conversation": {"id": "19:support;messageid=1"}}


async def fill(store: Any, tag: str) -> dict[str, Any]:
    """One of everything retention looks at, written at the clock's time; returns ids."""
    ticket = await store.tickets.create_ticket(
        customer_ref={"conversation": {"id": f"a:{tag}-closed"}}, customer_name="Dana")
    await store.tickets.close_ticket(ticket.id)
    open_ticket = await store.tickets.create_ticket(
        customer_ref={"conversation": {"id": f"a:{tag}-open"}})
    await store.transcripts.append(conversation_id=f"a:{tag}-closed", direction="customer",
                                   text="the password is not it", ticket_id=ticket.id,
                                   activity_id=f"{tag}-1")
    await store.audit.append("diagnosis", conversation_id=f"a:{tag}",
                             detail={"cause": "mfa_required"})
    await store.turns.write_turn(f"conv/msteams/a:{tag}", {"snapshot": {"state": "ask_mfa"}},
                                 TurnWrites(audit=[AuditLine("turn_audit")]))
    await store.turns.enqueue([OutboxMessage(lane=f"a:{tag}-failed", kind="send",
                                             target=CUSTOMER, activities=[{"text": "x"}])])
    (failed,) = await store.turns.lease([f"a:{tag}-failed"], 30)
    await store.turns.give_up(failed.id, "403: the customer removed the app")
    await store.turns.enqueue([OutboxMessage(lane=f"a:{tag}-pending", kind="thread",
                                             target=THREAD, activities=[{"text": "y"}])])
    await store.state.write({f"{SIGN_IN_EXCHANGES}{tag}": {"at": 1, "e_tag": "new"},
                             f"{CHECK_RUNS}{tag}": {"runs": [1.0]},
                             f"user/{tag}": {"kept": True}})
    await store.kv.set(f"{TOKEN_CACHES}{tag}", {"v": 1, "sealed": "gAAAA"})
    await store.kv.set(f"support_channel_{tag}", {"conversation": {"id": "19:x"}})
    return {"closed": ticket.id, "open": open_ticket.id}


async def test_what_outlives_the_period_goes_and_the_rest_stays(
    store: Any, clock: FakeClock
) -> None:
    old = await fill(store, "old")
    clock.advance(days=91)
    new = await fill(store, "new")
    removed = await Retention(store.db, 90, clock=clock).purge()
    assert removed == {"transcripts": 1, "audit rows": 2, "closed tickets": 1,
                       "outbox rows given up": 1, "sign-in exchanges": 1,
                       "check-run counters": 1, "token caches": 1}

    assert await store.tickets.get_ticket(old["closed"]) is None
    assert await store.tickets.get_ticket(old["open"]) is not None  # still open: kept
    assert await store.tickets.get_ticket(new["closed"]) is not None
    assert [e.conversation_id for e in await store.transcripts.list_for_conversation(
        "a:old-closed")] == []
    assert len(await store.transcripts.list_for_conversation("a:new-closed")) == 1
    assert {e.conversation_id for e in await store.audit.recent()} == {"a:new", None}
    assert await store.turns.pending() == 2  # undelivered messages are never expired
    state = await store.state.read([f"{SIGN_IN_EXCHANGES}old", f"{CHECK_RUNS}old",
                                    "user/old", "conv/msteams/a:old",
                                    f"{SIGN_IN_EXCHANGES}new", f"{CHECK_RUNS}new"])
    assert set(state) == {"user/old", "conv/msteams/a:old",  # other keys, the conversation
                          f"{SIGN_IN_EXCHANGES}new", f"{CHECK_RUNS}new"}
    assert await store.kv.get(f"{TOKEN_CACHES}old") is None
    assert await store.kv.get(f"{TOKEN_CACHES}new") is not None
    assert await store.kv.get("support_channel_old") is not None

    assert set((await Retention(store.db, 90, clock=clock).purge()).values()) == {0}


async def test_a_key_range_holds_exactly_its_prefix(store: Any, clock: FakeClock) -> None:
    """Neighbours of a prefix in any collation ("sso-exchange0", "sso-exchange", "SSO-…") stay."""
    neighbours = ["sso-exchange", "sso-exchange0", "sso-exchangeabc", "SSO-EXCHANGE/x",
                  "sso_exchange/x", "sso-exchange.x", "conv/sso-exchange/x"]
    doomed = [f"{SIGN_IN_EXCHANGES}{n}" for n in ("", "a", "Z", "~", "ā", "0/1")]
    await store.state.write({key: {"n": 1} for key in neighbours + doomed})
    clock.advance(days=200)
    removed = await Retention(store.db, 90, clock=clock).purge()
    assert removed["sign-in exchanges"] == len(doomed)
    assert set(await store.state.read(neighbours + doomed)) == set(neighbours)


async def test_batches_are_bounded_and_all_of_it_still_goes(
    store: Any, clock: FakeClock
) -> None:
    for n in range(23):
        await store.audit.append("diagnosis", conversation_id=f"a:{n}")
    clock.advance(days=100)
    await store.audit.append("diagnosis", conversation_id="a:recent")
    deleted_per_statement: list[int] = []
    query = store.db.query

    async def counted(sql: str, *params: Any, **options: Any) -> Any:
        rows = await query(sql, *params, **options)
        if sql.startswith("DELETE FROM audit_log"):
            deleted_per_statement.append(len(rows))
        return rows

    store.db.query = counted
    removed = await Retention(store.db, 90, clock=clock, batch=5, pause=0).purge()
    assert removed["audit rows"] == 23
    assert deleted_per_statement == [5, 5, 5, 5, 3]
    assert [e.conversation_id for e in await store.audit.recent()] == ["a:recent"]


async def test_instances_purging_at_once_remove_each_row_once(
    store_factory: StorageFactory, clock: FakeClock
) -> None:
    first = await store_factory()
    for n in range(60):
        await first.audit.append("diagnosis", conversation_id=f"a:{n}")
        await first.transcripts.append(conversation_id=f"a:{n}", direction="customer",
                                       text="hi", activity_id=f"act-{n}")
    clock.advance(days=91)
    stores = [first, await store_factory(), await store_factory()]
    results = await asyncio.gather(*(
        Retention(s.db, 90, clock=clock, batch=7, pause=0).purge() for s in stores))
    assert sum(r["audit rows"] for r in results) == 60
    assert sum(r["transcripts"] for r in results) == 60
    assert await first.audit.recent() == []


async def test_one_instance_takes_each_round(
    store_factory: StorageFactory, clock: FakeClock
) -> None:
    stores = [await store_factory(), await store_factory()]
    retentions = [Retention(s.db, 90, clock=clock) for s in stores]
    claims = await asyncio.gather(*(r.claim(3600) for r in retentions * 3))
    assert sorted(claims) == [False] * 5 + [True]
    clock.advance(minutes=20)
    assert not await retentions[1].claim(3600)  # this round is taken
    clock.advance(minutes=15)
    assert await retentions[1].claim(3600)  # half a period on, the next one is free
    jobs = [RetentionJob(r, every_seconds=3600) for r in retentions]
    clock.advance(hours=1)
    assert [await job.run_once() is None for job in jobs] == [False, True]


async def test_the_job_runs_in_the_background_and_stops(store: Any, clock: FakeClock) -> None:
    await store.audit.append("diagnosis")
    clock.advance(days=91)
    job = RetentionJob(Retention(store.db, 90, clock=clock), every_seconds=0.05,
                       first_after_seconds=0)
    job.start()
    try:
        for _ in range(200):
            if not await store.audit.recent():
                break
            await asyncio.sleep(0.01)
        assert await store.audit.recent() == []
    finally:
        await job.close()
    await job.close()  # twice is harmless


def test_retention_days_is_a_setting_read_once() -> None:
    assert Settings.from_env({}).retention_days == 90
    assert Settings.from_env({"RETENTION_DAYS": "30"}).retention_days == 30
    for bad in ("0", "-5", "ninety"):
        with pytest.raises(SettingsError, match="RETENTION_DAYS"):
            Settings.from_env({"RETENTION_DAYS": bad})
    with pytest.raises(ValueError, match="at least one day"):
        Retention(object(), 0)  # type: ignore[arg-type]
    documented = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert re.search(r"^RETENTION_DAYS=90$", documented, re.MULTILINE)
    assert "RETENTION_DAYS" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_expiring_prefixes_are_the_ones_the_bot_writes() -> None:
    """A renamed key prefix would keep its items forever: the writers must use these."""
    assert VAULT_PREFIX == TOKEN_CACHES
    # One list of prefixes (dialogs/store_keys.py): retention expires exactly its EXPIRING…
    assert {(e.sql.split()[2], e.prefix) for e in EXPIRIES if e.prefix} == set(
        store_keys.EXPIRING)
    assert store_keys.sign_in_exchange("d").startswith(SIGN_IN_EXCHANGES)
    assert store_keys.check_runs("u").startswith(CHECK_RUNS)
    assert store_keys.token_cache("u").startswith(TOKEN_CACHES)
    # …and no module writes a prefix of its own: every literal prefix is in that one module.
    product = [p for part in ("bot", "dialogs", "checks") for p in (ROOT / part).rglob("*.py")
               if p.name != "store_keys.py"]
    sources = "\n".join(p.read_text(encoding="utf-8") for p in product)
    for prefix in (SIGN_IN_EXCHANGES, CHECK_RUNS, TOKEN_CACHES, store_keys.CONVERSATION,
                   store_keys.THREAD_LANE, store_keys.TIMEOUT_NOTICE,
                   store_keys.SUPPORT_CHANNEL, store_keys.RETENTION_CLAIM):
        assert not re.search(rf"""f?["']{re.escape(prefix)}""", sources), prefix
    assert {e.name for e in EXPIRIES if e.prefix} == {
        "sign-in exchanges", "check-run counters", "token caches"}
