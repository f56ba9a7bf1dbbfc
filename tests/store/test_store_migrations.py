"""The migration lists themselves, and an upgrade of an older SQLite database."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from bot.store import open_store
from bot.store.migrations import (
    POSTGRES_MIGRATIONS,
    SQLITE_MIGRATIONS,
    Migration,
    check_sequence,
    migrate_sqlite,
)


def test_both_backends_have_the_same_versions() -> None:
    check_sequence(SQLITE_MIGRATIONS)
    check_sequence(POSTGRES_MIGRATIONS)
    assert [(m.version, m.name) for m in SQLITE_MIGRATIONS] == [
        (m.version, m.name) for m in POSTGRES_MIGRATIONS
    ]


def test_gaps_are_refused() -> None:
    with pytest.raises(ValueError):
        check_sequence((Migration(1, "a", ()), Migration(3, "c", ())))


async def test_sqlite_upgrade_from_an_older_schema_keeps_data(sqlite_file: Path) -> None:
    sqlite_file.parent.mkdir(parents=True)
    async with aiosqlite.connect(sqlite_file, isolation_level=None) as conn:
        assert await migrate_sqlite(conn, SQLITE_MIGRATIONS[:1]) == [1]
        await conn.execute(
            "INSERT INTO bot_state (key, doc, etag, updated_at) "
            "VALUES ('conv', '{\"state\":\"asking_mfa\"}', 7, '2026-01-01T00:00:00+00:00')"
        )
        # Running the same list again changes nothing.
        assert await migrate_sqlite(conn, SQLITE_MIGRATIONS[:1]) == []
    async with await open_store(f"sqlite:///{sqlite_file}") as store:
        assert await store.state.read(["conv"]) == {"conv": {"state": "asking_mfa", "e_tag": "7"}}
        assert await store.tickets.list_tickets() == []
    async with aiosqlite.connect(sqlite_file, isolation_level=None) as conn:
        assert await migrate_sqlite(conn) == []
