"""PostgreSQL specifics.

Raw rows, migrations under concurrency, pools, and the rule that these tests
skip only outside CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from bot.store import open_store, postgres_options
from bot.store.migrations import MIGRATIONS, latest_version
from bot.store.postgres import PostgresDatabase, PostgresStorage

ROOT = Path(__file__).resolve().parents[2]


def test_our_url_options_do_not_reach_asyncpg() -> None:
    dsn, options = postgres_options(
        "postgresql://bot:pw@db:5432/bot?schema=tenant_a&min_size=2&max_size=20&sslmode=require"
    )
    assert dsn == "postgresql://bot:pw@db:5432/bot?sslmode=require"
    assert options == {"schema": "tenant_a", "min_size": 2, "max_size": 20}


def test_schema_names_are_checked() -> None:
    with pytest.raises(ValueError, match="schema must match"):
        PostgresDatabase("postgresql://x/y", schema='x"; DROP TABLE bot_state; --')


@pytest.mark.postgres
async def test_stored_rows_are_plain_json(pg_url: str, pg_schema: str) -> None:
    async with PostgresStorage(pg_url, schema=pg_schema) as storage:
        await storage.write({"conv": {"state": "asking_mfa", "facts": {"mfa": None}}})
    async with await open_store(f"{pg_url}?schema={pg_schema}") as store:
        await store.tickets.create_ticket(customer_ref={"conversation": {"id": "a:1"}})
    conn = await asyncpg.connect(pg_url)
    try:
        doc = await conn.fetchval(f'SELECT doc::text FROM "{pg_schema}".bot_state')
        ref = await conn.fetchval(f'SELECT customer_ref::text FROM "{pg_schema}".tickets')
        column_type = await conn.fetchval(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = 'bot_state' AND column_name = 'doc'",
            pg_schema,
        )
    finally:
        await conn.close()
    assert json.loads(doc) == {"state": "asking_mfa", "facts": {"mfa": None}}
    assert json.loads(ref) == {"conversation": {"id": "a:1"}}
    assert column_type == "jsonb"


@pytest.mark.postgres
async def test_migrations_idempotent_and_safe_when_opened_at_once(
    pg_url: str, pg_schema: str
) -> None:
    databases = [PostgresDatabase(pg_url, schema=pg_schema, max_size=2) for _ in range(6)]
    try:
        await asyncio.gather(*(db.open() for db in databases))
        assert await databases[0].migrate() == []
        versions = [r[0] for r in await databases[0].query(
            "SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        await asyncio.gather(*(db.close() for db in databases))
    assert versions == list(range(1, latest_version(MIGRATIONS) + 1))


@pytest.mark.postgres
async def test_upgrade_from_an_older_schema_keeps_data(pg_url: str, pg_schema: str) -> None:
    first = PostgresDatabase(pg_url, schema=pg_schema, migrations=MIGRATIONS[:1])
    await first.open()
    try:
        # updated_at left to the column's default, as rows written by old releases may be.
        await first.query("INSERT INTO bot_state (key, doc, etag) VALUES ('conv', $1, 7)",
                          '{"state": "asking_mfa"}')
        assert await first.migrate() == []
        assert [r[0] for r in await first.query("SELECT version FROM schema_migrations")] == [1]
    finally:
        await first.close()
    async with await open_store(f"{pg_url}?schema={pg_schema}") as store:
        assert await store.state.read(["conv"]) == {"conv": {"state": "asking_mfa", "e_tag": "7"}}
        assert await store.tickets.list_tickets() == []


@pytest.mark.postgres
async def test_ping_fails_when_closed_and_pool_reopens_lazily(pg_url: str, pg_schema: str) -> None:
    storage = PostgresStorage(pg_url, schema=pg_schema)
    try:
        await storage.write({"k": {"v": 1}})  # opens on first use
        assert (await storage.read(["k"]))["k"]["v"] == 1
    finally:
        await storage.close()
    store = await open_store(f"{pg_url}?schema={pg_schema}")
    assert await store.ping() is True
    await store.close()
    assert await store.ping() is False


def _run_one_postgres_test(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "tests/store/test_store_postgres.py::test_stored_rows_are_plain_json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_postgres_tests_skip_outside_ci_and_fail_inside() -> None:
    """Without TEST_POSTGRES_URL: a clear skip on a laptop, a failure in CI."""
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "TEST_POSTGRES_URL")}

    laptop = _run_one_postgres_test(base)
    assert laptop.returncode == 0, laptop.stdout + laptop.stderr
    assert "skipped" in laptop.stdout and "TEST_POSTGRES_URL" in laptop.stdout

    ci = _run_one_postgres_test({**base, "CI": "true"})
    assert ci.returncode != 0, ci.stdout
    assert "must not be skipped" in ci.stdout
