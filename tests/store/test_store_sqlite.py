"""SQLite specifics.

File handling, WAL, raw rows, migrations, and a model-based check of the e-tag
rules against an independent oracle.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.store import EtagConflict, SqliteDatabase, SqliteStorage
from bot.store.migrations import MIGRATIONS, latest_version
from bot.store.sqlite import CHECKPOINT_EVERY


async def test_creates_parent_directory_and_uses_wal(sqlite_file: Path) -> None:
    assert not sqlite_file.parent.exists()
    async with SqliteStorage(sqlite_file) as storage:
        await storage.write({"k": {"v": 1}})
        (mode,) = (await storage.db.query("PRAGMA journal_mode"))[0]
        # Off the event loop (the worker thread) statements wait for locks.
        (timeout,) = (await storage.db.query("PRAGMA busy_timeout", short=False))[0]
    assert sqlite_file.exists()
    assert mode == "wal" and timeout >= 1000


async def test_stored_rows_are_plain_json(sqlite_file: Path) -> None:
    async with SqliteStorage(sqlite_file) as storage:
        await storage.write({"conv": {"state": "asking_mfa", "facts": {"mfa": None}, "e_tag": "*"}})
    with sqlite3.connect(sqlite_file) as raw:
        doc, etag = raw.execute("SELECT doc, etag FROM bot_state WHERE key = 'conv'").fetchone()
    assert json.loads(doc) == {"state": "asking_mfa", "facts": {"mfa": None}}
    assert isinstance(etag, int)
    assert "py/object" not in doc  # nothing jsonpickle-shaped


async def test_record_rows_are_plain_json(sqlite_file: Path) -> None:
    from bot.store import open_store

    async with await open_store(f"sqlite:///{sqlite_file}") as store:
        await store.tickets.create_ticket(
            customer_ref={"conversation": {"id": "a:1"}}, summary={"causes": ["mfa_required"]}
        )
        await store.audit.append("diagnosis", detail={"cause": "mfa_required"})
        await store.kv.set("support_channel", {"conversation": {"id": "19:x"}})
    with sqlite3.connect(sqlite_file) as raw:
        ref, summary = raw.execute("SELECT customer_ref, summary FROM tickets").fetchone()
        (detail,) = raw.execute("SELECT detail FROM audit_log").fetchone()
        (value,) = raw.execute("SELECT value FROM kv").fetchone()
    assert json.loads(ref) == {"conversation": {"id": "a:1"}}
    assert json.loads(summary) == {"causes": ["mfa_required"]}
    assert json.loads(detail) == {"cause": "mfa_required"}
    assert json.loads(value) == {"conversation": {"id": "19:x"}}


async def test_memory_database_is_private_and_works() -> None:
    async with SqliteStorage(":memory:") as one, SqliteStorage(":memory:") as two:
        await one.write({"k": {"v": 1}})
        assert await two.read(["k"]) == {}
        assert (await one.read(["k"]))["k"]["v"] == 1


async def test_opens_lazily_on_first_use(sqlite_file: Path) -> None:
    storage = SqliteStorage(sqlite_file)
    try:
        await storage.write({"k": {"v": 1}})
        assert (await storage.read(["k"]))["k"]["v"] == 1
    finally:
        await storage.close()
    await storage.close()  # idempotent


async def test_migrations_are_recorded_and_idempotent(sqlite_file: Path) -> None:
    db = SqliteDatabase(sqlite_file)
    await db.open()
    try:
        assert await db.migrate() == []
        rows = await db.query("SELECT version FROM schema_migrations ORDER BY 1")
    finally:
        await db.close()
    assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]
    # Reopening applies nothing and keeps data.
    async with SqliteStorage(sqlite_file) as storage:
        await storage.write({"k": {"v": 1}})
    async with SqliteStorage(sqlite_file) as storage:
        assert (await storage.read(["k"]))["k"]["v"] == 1


async def test_concurrent_open_in_one_process(sqlite_file: Path) -> None:
    storages = [SqliteStorage(sqlite_file) for _ in range(8)]
    try:
        await asyncio.gather(*(s.open() for s in storages))
        await asyncio.gather(*(s.write({f"k{i}": {"i": i}}) for i, s in enumerate(storages)))
        assert len(await storages[0].read([f"k{i}" for i in range(8)])) == 8
    finally:
        await asyncio.gather(*(s.close() for s in storages))
    with sqlite3.connect(sqlite_file) as raw:
        versions = raw.execute("SELECT version FROM schema_migrations").fetchall()
    assert sorted(v for (v,) in versions) == list(range(1, latest_version(MIGRATIONS) + 1))


async def test_storages_opening_one_new_file_together_all_get_wal(tmp_path: Path) -> None:
    """Switching a new file to WAL meets the other openers' locks; each one waits its turn.

    SQLite can report that as SQLITE_BUSY at once, without the busy timeout:
    before the retry, about one round in 12 failed with "database is locked".
    """
    for round_number in range(40):
        path = tmp_path / f"round{round_number}" / "bot.db"
        storages = [SqliteStorage(path) for _ in range(8)]
        try:
            await asyncio.gather(*(s.open() for s in storages))
        finally:
            await asyncio.gather(*(s.close() for s in storages))
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


_OPEN_AND_WRITE = """
import asyncio, sys
from bot.store import SqliteStorage
async def main():
    async with SqliteStorage(sys.argv[1]) as s:
        await s.write({"proc" + sys.argv[2]: {"ok": True}})
asyncio.run(main())
"""


async def test_concurrent_open_from_separate_processes(sqlite_file: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _OPEN_AND_WRITE, str(sqlite_file), str(i), cwd=root,
            stderr=asyncio.subprocess.PIPE,
        )
        for i in range(4)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err.decode() for _, err in results]
    async with SqliteStorage(sqlite_file) as storage:
        assert len(await storage.read([f"proc{i}" for i in range(4)])) == 4


_WRITE_AND_FORGET_TO_CLOSE = """
import asyncio, sys
from bot.store import SqliteStorage
KEPT = []  # still referenced at exit, like a store in a reference cycle
async def main():
    storage = SqliteStorage(sys.argv[1])
    KEPT.append(storage)
    await storage.write({"left": {"open": True}})  # and never closed
asyncio.run(main())
"""


async def test_a_connection_left_open_does_not_keep_the_process_alive(sqlite_file: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WRITE_AND_FORGET_TO_CLOSE, str(sqlite_file), cwd=root,
        stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("the process hung at exit on the store's worker thread")
    assert proc.returncode == 0, err.decode()
    async with SqliteStorage(sqlite_file) as storage:
        assert (await storage.read(["left"]))["left"]["open"] is True


async def test_inline_write_waits_for_another_writers_lock(sqlite_file: Path) -> None:
    """A turn's write finds another connection holding the lock: it waits, it does not fail."""
    async with SqliteStorage(sqlite_file, busy_timeout_ms=5000) as storage:
        await storage.write({"k": {"n": 0}})
        other = sqlite3.connect(sqlite_file, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE bot_state SET doc = doc WHERE key = 'k'")
        writing = asyncio.ensure_future(storage.write({"k": {"n": 1}}))
        await asyncio.sleep(0.3)
        # Still waiting for the lock, and the event loop was free all along.
        assert not writing.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(writing, 5)
        assert (await storage.read(["k"]))["k"]["n"] == 1
        # Reads and writes run inline again afterwards, with no wait left configured.
        (timeout,) = (await storage.db.query("PRAGMA busy_timeout", short=False))[0]
        assert timeout == 5000
        (inline_timeout,) = await storage.db.query("PRAGMA busy_timeout")
        assert inline_timeout == (0,)


async def test_a_single_statement_also_waits_for_another_writers_lock(sqlite_file: Path) -> None:
    """db.query's direct path hands a locked write to the retrying path, then gives up in time."""
    async with SqliteStorage(sqlite_file, busy_timeout_ms=1500) as storage:
        await storage.write({"k": {"n": 0}})
        db = storage.db
        other = sqlite3.connect(sqlite_file, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        writing = asyncio.ensure_future(db.query("UPDATE bot_state SET etag = etag + 1"))
        await asyncio.sleep(0.2)
        assert not writing.done()
        other.execute("COMMIT")
        await asyncio.wait_for(writing, 5)
        other.execute("BEGIN IMMEDIATE")
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                await db.query("UPDATE bot_state SET etag = etag + 1")
            assert 1.4 <= asyncio.get_running_loop().time() - started < 5
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await db.query("SELECT COUNT(*) FROM bot_state") == [(1,)]


async def test_inline_write_gives_up_after_the_busy_timeout(sqlite_file: Path) -> None:
    async with SqliteStorage(sqlite_file, busy_timeout_ms=200) as storage:
        await storage.write({"k": {"n": 0}})
        other = sqlite3.connect(sqlite_file, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                await storage.write({"k": {"n": 1}})
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert (await storage.read(["k"]))["k"]["n"] == 0


def statements_of(db: SqliteDatabase) -> list[str]:
    """Record every statement the database's connection runs from now on."""
    seen: list[str] = []
    db.set_trace_callback(lambda sql: seen.append(" ".join(sql.split())[:40]))
    return seen


async def test_one_item_is_saved_by_one_statement_several_in_one_transaction(
        sqlite_file: Path) -> None:
    async with SqliteStorage(sqlite_file) as storage:
        await storage.write({"a": {"n": 0}, "b": {"n": 0}})
        etag = (await storage.read(["a"]))["a"]["e_tag"]
        seen = statements_of(storage.db)
        await storage.write({"a": {"n": 1, "e_tag": etag}})
        assert [s.split()[0] for s in seen] == ["UPDATE"]
        seen.clear()
        await storage.write({"new": {"n": 1, "e_tag": "new-one"}})  # no such row yet: inserted
        assert [s.split()[0] for s in seen] == ["INSERT"]
        seen.clear()
        with pytest.raises(EtagConflict):
            await storage.write({"a": {"n": 2, "e_tag": etag}, "b": {"n": 2, "e_tag": "*"}})
        assert seen[0] == "BEGIN IMMEDIATE" and seen[-1] == "ROLLBACK"
        assert {k: v["n"] for k, v in (await storage.read(["a", "b", "new"])).items()} == {
            "a": 1, "b": 0, "new": 1}


async def test_the_open_ticket_lookup_of_every_turn_needs_no_sort(sqlite_file: Path) -> None:
    from bot.store import open_store

    async with await open_store(f"sqlite:///{sqlite_file}") as store:
        ticket = await store.tickets.create_ticket(customer_ref={"conversation": {"id": "a:1"}},
                                                   summary={})
        db = store.state.db
        seen: list[str] = []
        db.set_trace_callback(seen.append)
        found = await store.tickets.find_open_ticket_by_customer_conversation("a:1")
        assert found is not None and found.id == ticket.id
        db.set_trace_callback(None)
        (sql,) = seen
        plan = " ".join(row[-1] for row in await db.query("EXPLAIN QUERY PLAN " + sql))
        assert "tickets_one_open_per_customer" in plan and "TEMP B-TREE" not in plan


async def test_checkpoints_keep_the_wal_from_growing(sqlite_file: Path) -> None:
    """Automatic checkpoints are off (they would sync on the event loop); ours run instead."""
    wal = sqlite_file.with_name(sqlite_file.name + "-wal")
    writes = CHECKPOINT_EVERY * 16
    async with SqliteStorage(sqlite_file) as storage:
        for i in range(writes):
            await storage.write({f"k{i % 50}": {"text": "x" * 2000, "i": i}})
            # Turns arrive over time; the checkpoint thread runs meanwhile.
            await asyncio.sleep(0.001 if i % 25 == 0 else 0)
        assert storage.db.checkpoint_task is not None
        await storage.db.checkpoint_task
        # Every write adds at least one 4 KB page to the WAL: without checkpoints it
        # would hold all of them (16 MB); checkpointed, it starts over after each one
        # and never holds more than the few rounds written while one was running.
        assert wal.stat().st_size < writes * 4096 / 4
    with sqlite3.connect(sqlite_file) as raw:
        assert raw.execute("SELECT count(*) FROM bot_state").fetchone() == (50,)


async def test_no_write_waits_for_a_checkpoint_of_its_own_process(sqlite_file: Path) -> None:
    """The part of a checkpoint that holds the write lock runs inline, between writes.

    Run in the worker thread, it held that lock while writes went on, and each
    write that met it waited and tried again (one lap of a busy event loop per try).
    """
    async with SqliteStorage(sqlite_file) as storage:
        # Count the checkpoints that started (each is a task of its own) and keep
        # writing until six have run alongside the writes: on a loaded machine a
        # checkpoint's thread takes longer, so fewer start per write, but the
        # test still sees six of them (and gives up, failing, after far more).
        started: list[asyncio.Task[None]] = []  # kept, so no id is reused
        for i in range(CHECKPOINT_EVERY * 200):
            await storage.write({f"k{i % 50}": {"text": "x" * 2000, "i": i}})
            task = storage.db.checkpoint_task
            if task is not None and not task.done() and task not in started:
                started.append(task)
            await asyncio.sleep(0)  # other turns' writes go on while a checkpoint runs
            if len(started) >= 6 and (task is None or task.done()):
                break
        if storage.db.checkpoint_task is not None:
            await storage.db.checkpoint_task
        assert len(started) >= 6  # the checkpoints really ran alongside the writes
        assert storage.db.lock_waits == 0


async def test_a_checkpoint_still_starts_the_log_over_when_another_process_reads(
    sqlite_file: Path,
) -> None:
    """Another connection's open read makes the inline part give up; the thread waits it out."""
    wal = sqlite_file.with_name(sqlite_file.name + "-wal")
    async with SqliteStorage(sqlite_file) as storage:
        for i in range(CHECKPOINT_EVERY):
            await storage.write({f"k{i % 50}": {"text": "x" * 2000, "i": i}})
        if storage.db.checkpoint_task is not None:
            await storage.db.checkpoint_task
        reader = sqlite3.connect(sqlite_file, isolation_level=None, check_same_thread=False)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM bot_state").fetchone()  # holds a snapshot
            for i in range(20):
                await storage.write({f"k{i}": {"text": "y" * 2000, "i": i}})
            checkpoint = asyncio.create_task(storage.db.checkpoint())
            await asyncio.sleep(0.3)
            assert not checkpoint.done()  # waiting for the reader, in the thread
            reader.execute("COMMIT")
            await asyncio.wait_for(checkpoint, 10)
        finally:
            reader.close()
        size = wal.stat().st_size
        await storage.write({"after": {"i": 1}})  # the first write after a RESTART starts over
        assert wal.stat().st_size <= size
        rows = await storage.db.query("PRAGMA wal_checkpoint(PASSIVE)")
        assert rows[0][1] <= 4  # the log holds only that last write's frames


# --- model-based: random operations against an oracle of the e-tag rules ----------

_KEYS = st.sampled_from(["a", "b", "c"])
_ETAG_CHOICE = st.sampled_from(["none", "star", "current", "stale", "bogus"])
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), _KEYS, st.integers(0, 9), _ETAG_CHOICE),
        st.tuples(st.just("delete"), _KEYS, st.just(0), st.just("none")),
        st.tuples(st.just("read"), _KEYS, st.just(0), st.just("none")),
    ),
    max_size=30,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_OPS)
async def test_etag_rules_match_an_oracle(ops: list[tuple[str, str, int, str]]) -> None:
    """Random writes, deletes and reads follow the e-tag rules.

    Matching, wildcard or missing e_tags write; stale ones conflict; e_tags
    never issued write only to absent keys.
    """
    oracle: dict[str, int] = {}
    seen_etags: dict[str, list[str]] = {}
    async with SqliteStorage(":memory:") as storage:
        for op, key, value, choice in ops:
            current = await storage.read([key])
            if op == "read":
                assert ({key: current[key]["v"]} if current else {}) == (
                    {key: oracle[key]} if key in oracle else {}
                )
                continue
            if op == "delete":
                await storage.delete([key])
                oracle.pop(key, None)
                continue
            item: dict[str, Any] = {"v": value}
            stale = [e for e in seen_etags.get(key, []) if e != current.get(key, {}).get("e_tag")]
            if choice == "star":
                item["e_tag"] = "*"
            elif choice == "current" and key in current:
                item["e_tag"] = current[key]["e_tag"]
            elif choice == "stale" and stale:
                item["e_tag"] = stale[-1]
            elif choice == "bogus":
                item["e_tag"] = "not-an-etag"
            tag = item.get("e_tag")
            expect_conflict = tag not in (None, "*") and key in oracle and (
                tag != current[key]["e_tag"]
            )
            try:
                await storage.write({key: item})
                assert not expect_conflict
                oracle[key] = value
            except EtagConflict:
                assert expect_conflict
            after = await storage.read([key])
            if key in after:
                seen_etags.setdefault(key, []).append(after[key]["e_tag"])
