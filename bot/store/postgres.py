"""Conversation state in PostgreSQL: the same ``Storage`` contract on an asyncpg pool.

Used when several bot instances share one database
(``STORAGE_URL=postgresql://…``). Items are JSONB documents; the e_tag is a
BIGINT version that the conditional ``UPDATE … WHERE key = $1 AND etag = $2``
bumps in the same statement that checks it. Under READ COMMITTED a second
writer holding the same e_tag waits for the first one's row lock, re-checks
the condition on the new row and matches nothing, so exactly one wins.

All tables live in one schema (``public`` unless told otherwise); every pooled
connection gets it as its ``search_path``, which is also how the tests run each
case in a throwaway schema.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from botbuilder.core import Storage

from .base import EtagConflict, StoreError
from .codec import decode_item
from .migrations import check_schema_name, migrate_postgres
from .sqlite import check_keys, new_etag, parse_etag, prepare_changes

log = logging.getLogger(__name__)

DEFAULT_MIN_SIZE = 1
DEFAULT_MAX_SIZE = 10


class PostgresDatabase:
    """An asyncpg pool bound to one schema, migrated when opened."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = DEFAULT_MIN_SIZE,
        max_size: int = DEFAULT_MAX_SIZE,
        schema: str = "public",
        command_timeout: float = 30.0,
    ) -> None:
        """Describe the pool; nothing connects until ``open``.

        Args:
            dsn: ``postgresql://user[:password]@host[:port]/database``.
            min_size: Connections kept open.
            max_size: Most connections at once.
            schema: Schema holding the bot's tables (created if missing).
            command_timeout: Seconds before a statement is abandoned.
        """
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max_size
        self.schema = check_schema_name(schema)
        self.command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None
        self._open_lock = asyncio.Lock()

    @property
    def is_open(self) -> bool:
        """True between ``open`` and ``close``."""
        return self._pool is not None

    async def open(self) -> None:
        """Create the pool and apply migrations. Calling it again is a no-op."""
        async with self._open_lock:
            if self._pool is not None:
                return
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                command_timeout=self.command_timeout,
                server_settings={
                    "search_path": self.schema,
                    "application_name": "mail-setup-assistant",
                },
            )
            try:
                async with pool.acquire() as conn:
                    await migrate_postgres(conn, self.schema)
            except BaseException:
                await pool.close()
                raise
            self._pool = pool

    async def close(self) -> None:
        """Close the pool, waiting briefly for connections in use. Idempotent."""
        async with self._open_lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout=10)
        except TimeoutError:
            log.warning("postgres pool did not close within 10 s; terminating it")
            pool.terminate()

    async def pool(self) -> asyncpg.Pool:
        """Return the pool, opening it on first use.

        Returns:
            The open pool.
        """
        if self._pool is None:
            await self.open()
        if self._pool is None:
            raise StoreError("the PostgreSQL store is closed")
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """Borrow a pooled connection (autocommit per statement).

        Yields:
            A connection whose ``search_path`` is the store's schema.
        """
        pool = await self.pool()
        async with pool.acquire() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """Borrow a connection inside a transaction, rolled back on any error.

        Yields:
            The connection.
        """
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def ping(self) -> None:
        """Run a trivial query; raises when the database cannot be reached."""
        pool = await self.pool()
        # Bound both waits: a health probe must answer even when the pool is exhausted.
        async with pool.acquire(timeout=5) as conn:
            await conn.fetchval("SELECT 1", timeout=5)


async def save_items(conn: asyncpg.Connection, prepared: list[tuple[str, str, Any]],
                     now: datetime) -> None:
    """Write prepared state items inside the caller's transaction; EtagConflict on a stale one.

    Rows are locked in key order (the caller sorts) so two batches over the same
    keys cannot deadlock.
    """
    for key, doc, e_tag in prepared:
        if e_tag is None or e_tag == "*":
            await conn.execute(
                "INSERT INTO bot_state (key, doc, etag, updated_at) "
                "VALUES ($1, $2::jsonb, $3, $4) ON CONFLICT (key) DO UPDATE SET "
                "doc = EXCLUDED.doc, etag = bot_state.etag + 1, "
                "updated_at = EXCLUDED.updated_at",
                key, doc, new_etag(), now,
            )
            continue
        expected = parse_etag(e_tag)
        if expected is not None:
            bumped = await conn.fetchval(
                "UPDATE bot_state SET doc = $2::jsonb, etag = etag + 1, updated_at = $3 "
                "WHERE key = $1 AND etag = $4 RETURNING etag",
                key, doc, now, expected,
            )
            if bumped is not None:
                continue
        created = await conn.fetchval(
            "INSERT INTO bot_state (key, doc, etag, updated_at) "
            "VALUES ($1, $2::jsonb, $3, $4) ON CONFLICT (key) DO NOTHING RETURNING etag",
            key, doc, new_etag(), now,
        )
        if created is None:
            raise EtagConflict(key, str(e_tag))


class PostgresStorage(Storage):  # type: ignore[misc]  # botbuilder ships no types
    """botbuilder ``Storage`` on PostgreSQL, with e-tag optimistic concurrency.

    Same contract as ``SqliteStorage``: reads return dicts with an ``e_tag``;
    a write with a stale e_tag raises ``EtagConflict`` and saves nothing from
    the batch; ``"*"`` or no e_tag overwrites; an e_tag never issued writes
    only when the key is absent.
    """

    def __init__(
        self,
        dsn: str | PostgresDatabase,
        min_size: int = DEFAULT_MIN_SIZE,
        max_size: int = DEFAULT_MAX_SIZE,
        *,
        schema: str = "public",
    ) -> None:
        """Describe the storage; the pool is created by ``open`` or on first use.

        Args:
            dsn: A ``postgresql://`` URL, or an already configured
                ``PostgresDatabase`` shared with the record repositories (it
                is then not closed by ``close``).
            min_size: Connections kept open.
            max_size: Most connections at once.
            schema: Schema holding the tables.
        """
        super().__init__()
        if isinstance(dsn, PostgresDatabase):
            self.db = dsn
            self._owns_db = False
        else:
            self.db = PostgresDatabase(dsn, min_size=min_size, max_size=max_size, schema=schema)
            self._owns_db = True

    async def open(self) -> PostgresStorage:
        """Create the pool now, so a bad URL fails at startup rather than on a turn.

        Returns:
            The storage itself.
        """
        await self.db.open()
        return self

    async def close(self) -> None:
        """Close the pool, unless the database was passed in shared."""
        if self._owns_db:
            await self.db.close()

    async def __aenter__(self) -> PostgresStorage:
        """Open the storage for an ``async with`` block."""
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        """Close the storage when the block ends."""
        await self.close()

    async def read(self, keys: Iterable[str]) -> dict[str, Any]:
        """Load items by key; unknown keys are left out of the result.

        Args:
            keys: The keys to load.

        Returns:
            Key to item dict, each with its current ``e_tag`` (a string).
        """
        wanted = check_keys(keys, "reading")
        if not wanted:
            return {}
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT key, doc, etag FROM bot_state WHERE key = ANY($1::text[])", wanted
            )
        result: dict[str, Any] = {}
        for row in rows:
            item = decode_item(row["doc"])
            item["e_tag"] = str(row["etag"])
            result[row["key"]] = item
        return result

    async def write(self, changes: Mapping[str, Any]) -> None:
        """Save items, all or none, checking each item's ``e_tag``.

        Args:
            changes: Key to item; see the class docstring for e_tag rules.

        Raises:
            EtagConflict: An item changed since its e_tag was read; nothing
                from this call is saved.
            ValueError: ``changes`` is None or an e_tag is the empty string.
            TypeError: An item is not plain JSON.
        """
        prepared = prepare_changes(changes)
        if not prepared:
            return
        # Lock rows in key order so two batches over the same keys cannot deadlock.
        prepared.sort(key=lambda change: change[0])
        now = datetime.now(UTC)
        async with self.db.transaction() as conn:
            await save_items(conn, prepared, now)

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove items; unknown keys are ignored.

        Args:
            keys: The keys to remove (a list or set).
        """
        doomed = check_keys(keys, "deleting")
        if not doomed:
            return
        async with self.db.connection() as conn:
            await conn.execute("DELETE FROM bot_state WHERE key = ANY($1::text[])", doomed)
