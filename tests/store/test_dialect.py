"""The dialect layer: one spelling of each statement, made right for each database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.store import SqliteDatabase
from bot.store.dialect import POSTGRES, SQLITE, Tx
from bot.store.sqlite import run_now


def test_placeholders_are_numbered_for_sqlite_and_kept_for_postgres() -> None:
    statement = "UPDATE t SET a = $2, b = $10, c = $2 WHERE d = $1 AND e = '$.x'"
    assert SQLITE.sql(statement) == (
        "UPDATE t SET a = ?2, b = ?10, c = ?2 WHERE d = ?1 AND e = '$.x'")
    assert POSTGRES.sql(statement) == statement


def test_fragments_lock_on_postgres_only() -> None:
    statement = "SELECT status FROM tickets WHERE id = $1{for_share}"
    assert SQLITE.sql(statement) == "SELECT status FROM tickets WHERE id = ?1"
    assert POSTGRES.sql(statement) == "SELECT status FROM tickets WHERE id = $1 FOR SHARE"
    assert POSTGRES.sql("... LIMIT $3{skip_locked}") == "... LIMIT $3 FOR UPDATE SKIP LOCKED"
    # Each text is translated once and then looked up.
    assert SQLITE.sql(statement) is SQLITE.sql(statement)


def test_times_are_sortable_text_in_sqlite_and_aware_datetimes_in_postgres() -> None:
    riga = timezone(timedelta(hours=2))
    local = datetime(2026, 12, 6, 11, 30, tzinfo=riga)
    assert SQLITE.time(local) == "2026-12-06T09:30:00.000000+00:00"
    assert SQLITE.time(datetime(2026, 12, 6, 9, 30)) == SQLITE.time(local)  # naive = UTC
    assert POSTGRES.time(local) == local and POSTGRES.time(local).tzinfo == UTC
    for dialect in (SQLITE, POSTGRES):
        back = dialect.read_time(dialect.time(local))
        assert back == local and back.tzinfo == UTC
        assert dialect.read_time_or_none(None) is None
    earlier, later = (SQLITE.time(local + timedelta(microseconds=n)) for n in (9, 10))
    assert earlier < later  # fixed width: text order is time order



def test_a_moment_stamped_on_several_rows_is_made_once_and_never_mixed_up() -> None:
    # One turn stamps the same datetime on several rows: the value is made once; another
    # moment, even one equal in value but in another zone, gets its own.
    first = datetime(2026, 12, 6, 9, 30, 0, 1, tzinfo=UTC)
    made = SQLITE.time(first)
    assert SQLITE.time(first) is made
    later = first + timedelta(seconds=1)
    assert SQLITE.time(later) == "2026-12-06T09:30:01.000001+00:00"
    assert SQLITE.time(first) == made
    riga = first.astimezone(timezone(timedelta(hours=2)))
    assert POSTGRES.time(riga) == first and POSTGRES.time(riga).tzinfo == UTC
    assert POSTGRES.time(first + timedelta(hours=1)) == first + timedelta(hours=1)

async def test_a_sqlite_body_that_would_suspend_is_refused_and_rolled_back(
    sqlite_file: Path,
) -> None:
    db = SqliteDatabase(sqlite_file)
    await db.open()
    try:
        async def wanders_off(tx: Tx) -> None:
            await tx.execute("INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3)",
                             "half", "1", "2026-12-06T00:00:00.000000+00:00")
            await asyncio.sleep(0)  # not a statement: on SQLite a body never waits

        with pytest.raises(RuntimeError, match="awaited something other"):
            await db.run(wanders_off, transaction=True)
        assert await db.query("SELECT key FROM kv WHERE key = 'half'") == []
    finally:
        await db.close()


def test_run_now_returns_what_a_finished_body_returns() -> None:
    async def three() -> int:
        return 3

    assert run_now(three()) == 3
