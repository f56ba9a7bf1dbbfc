"""The migration list itself, written once for both databases, and upgrades of older schemas."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from bot.store import SqliteDatabase, open_store
from bot.store.dialect import POSTGRES, SQLITE
from bot.store.migrations import MIGRATIONS, Migration, check_sequence


def test_the_versions_run_without_gaps() -> None:
    check_sequence(MIGRATIONS)
    with pytest.raises(ValueError, match="has version 3, expected 2"):
        check_sequence((Migration(1, "a", ()), Migration(3, "c", ())))


def test_every_type_fragment_is_spelled_by_both_dialects() -> None:
    """Rendering leaves no fragment behind, and each database gets its own types."""
    for migration in MIGRATIONS:
        for dialect in (SQLITE, POSTGRES):
            for statement in migration.statements_for(dialect):
                assert not re.search(r"\{\w+", statement), statement
    sqlite_schema = " ".join(s for m in MIGRATIONS for s in m.statements_for(SQLITE))
    postgres_schema = " ".join(s for m in MIGRATIONS for s in m.statements_for(POSTGRES))
    assert "JSONB" not in sqlite_schema and "TIMESTAMPTZ" not in sqlite_schema
    assert "AUTOINCREMENT" not in postgres_schema and "JSONB" in postgres_schema
    assert "DEFAULT '{}'" in sqlite_schema and "DEFAULT '{}'" in postgres_schema


async def test_sqlite_upgrade_from_an_older_schema_keeps_data(sqlite_file: Path) -> None:
    first = SqliteDatabase(sqlite_file, migrations=MIGRATIONS[:1])
    await first.open()
    try:
        await first.query("INSERT INTO bot_state (key, doc, etag, updated_at) "
                          "VALUES ('conv', $1, 7, '2026-01-01T00:00:00+00:00')",
                          '{"state":"asking_mfa"}')
        # Running the same list again changes nothing.
        assert await first.migrate() == []
    finally:
        await first.close()
    with sqlite3.connect(sqlite_file) as raw:
        assert raw.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]
    async with await open_store(f"sqlite:///{sqlite_file}") as store:
        assert await store.state.read(["conv"]) == {"conv": {"state": "asking_mfa", "e_tag": "7"}}
        assert await store.tickets.list_tickets() == []
    again = SqliteDatabase(sqlite_file)
    await again.open()
    try:
        assert await again.migrate() == []
    finally:
        await again.close()
