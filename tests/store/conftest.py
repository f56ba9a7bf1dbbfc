"""Fixtures for the store tests: SQLite files in tmp_path, PostgreSQL in a fresh schema.

PostgreSQL tests need ``TEST_POSTGRES_URL``. Outside CI they skip with a
message when it is unset; in CI (``CI=true``) a missing URL or an unreachable
server fails them, so a broken CI database never passes silently.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store import SqliteStorage

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where nothing may be skipped."""
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL URL from TEST_POSTGRES_URL; skip (or fail in CI) without one."""
    url = os.environ.get("TEST_POSTGRES_URL", "").strip()
    if not url:
        message = (
            "PostgreSQL tests need TEST_POSTGRES_URL "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )
        if in_ci():
            pytest.fail(f"{message}; CI=true, so they must not be skipped")
        pytest.skip(f"{message}; it is not set")
    return url


def drop_schema(url: str, schema: str) -> None:
    """Drop a test schema and everything in it (runs its own short event loop)."""
    import asyncio

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A schema name unique to this test; dropped with everything in it afterwards.

    A plain (sync) fixture so async fixtures can request it lazily; the drop
    runs after the test's event loop has stopped.
    """
    schema = f"test_store_{os.getpid()}_{secrets.token_hex(4)}"
    yield schema
    drop_schema(pg_url, schema)


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    """A database path in a directory that does not exist yet (the store creates it)."""
    return tmp_path / "var" / "bot.db"


StorageFactory = Callable[[], Awaitable[Any]]


@pytest.fixture(params=BACKENDS)
async def storage_factory(
    request: pytest.FixtureRequest, sqlite_file: Path
) -> AsyncIterator[StorageFactory]:
    """Open any number of independent state storages on one shared database.

    For SQLite they are separate connections to one file; for PostgreSQL,
    separate pools on one schema. Each test gets a fresh database.
    """
    opened: list[Any] = []
    if request.param == "sqlite":

        async def make() -> Any:
            storage = await SqliteStorage(sqlite_file).open()
            opened.append(storage)
            return storage

    else:
        url: str = request.getfixturevalue("pg_url")
        schema: str = request.getfixturevalue("pg_schema")
        from bot.store.postgres import PostgresStorage

        async def make() -> Any:
            storage = await PostgresStorage(url, min_size=1, max_size=5, schema=schema).open()
            opened.append(storage)
            return storage

    try:
        yield make
    finally:
        for storage in opened:
            await storage.close()


@pytest.fixture
async def storage(storage_factory: StorageFactory) -> Any:
    """One opened state storage per backend."""
    return await storage_factory()


class FakeClock:
    """A settable UTC clock for the record repositories."""

    def __init__(self) -> None:
        """Start at 2026-11-28 09:00 UTC."""
        from datetime import UTC, datetime

        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> Any:
        """Return the current fake time."""
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward by ``timedelta(**delta)``."""
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at 2026-11-28 09:00 UTC."""
    return FakeClock()


def with_schema(url: str, schema: str) -> str:
    """Add ``schema=…`` to a PostgreSQL URL for ``open_store``."""
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@pytest.fixture(params=BACKENDS)
async def store_factory(
    request: pytest.FixtureRequest, sqlite_file: Path, clock: FakeClock
) -> AsyncIterator[StorageFactory]:
    """Open any number of independent ``Store`` bundles on one fresh database."""
    from bot.store import open_store

    if request.param == "sqlite":
        url = f"sqlite:///{sqlite_file}"
    else:
        url = with_schema(request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema"))
    opened: list[Any] = []

    async def make() -> Any:
        store = await open_store(url, clock=clock)
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            await store.close()


@pytest.fixture
async def store(store_factory: StorageFactory) -> Any:
    """One opened ``Store`` per backend."""
    return await store_factory()
