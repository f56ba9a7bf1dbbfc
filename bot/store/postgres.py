"""PostgreSQL, on an asyncpg pool: the store for several bot instances on one database.

``STORAGE_URL=postgresql://…``. The shared SQL (``bot/store/state.py``,
``records.py``, ``outbox.py``) runs here as written: PostgreSQL's own
placeholders, JSON passed and read as text (asyncpg's default for JSONB),
times as aware datetimes in ``TIMESTAMPTZ`` columns.

All tables live in one schema (``public`` unless told otherwise); every pooled
connection gets it as its ``search_path``, which is also how the tests run each
case in a throwaway schema.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from .base import Clock, StoreError, utc_now
from .dialect import POSTGRES, Autocommit, Row, Tx
from .migrations import MIGRATIONS, Migration, apply_migrations, check_schema_name
from .state import SqlStorage

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_MIN_SIZE = 1
DEFAULT_MAX_SIZE = 10


class PostgresTx:
    """The shared SQL's connection (:class:`~bot.store.dialect.Tx`) on an asyncpg one."""

    __slots__ = ("conn",)
    dialect = POSTGRES

    def __init__(self, conn: asyncpg.Connection) -> None:
        """Use ``conn`` (in whatever transaction state the caller put it)."""
        self.conn = conn

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        """Run a statement; return all its rows."""
        rows: list[Row] = await self.conn.fetch(POSTGRES.sql(sql), *params)
        return rows

    async def fetchrow(self, sql: str, *params: Any) -> Row | None:
        """Run a statement; return its first row, or None."""
        row: Row | None = await self.conn.fetchrow(POSTGRES.sql(sql), *params)
        return row

    async def fetchval(self, sql: str, *params: Any) -> Any:
        """Run a statement; return the first column of its first row, or None."""
        return await self.conn.fetchval(POSTGRES.sql(sql), *params)

    async def execute(self, sql: str, *params: Any) -> None:
        """Run a statement for its effect."""
        await self.conn.execute(POSTGRES.sql(sql), *params)


class PostgresDatabase(Autocommit):
    """An asyncpg pool bound to one schema, migrated when opened."""

    dialect = POSTGRES

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = DEFAULT_MIN_SIZE,
        max_size: int = DEFAULT_MAX_SIZE,
        schema: str = "public",
        command_timeout: float = 30.0,
        migrations: tuple[Migration, ...] = MIGRATIONS,
    ) -> None:
        """Describe the pool; nothing connects until ``open``.

        Args:
            dsn: ``postgresql://user[:password]@host[:port]/database``.
            min_size: Connections kept open.
            max_size: Most connections at once.
            schema: Schema holding the bot's tables (created if missing).
            command_timeout: Seconds before a statement is abandoned.
            migrations: Applied when opened (tests open older schemas with fewer).
        """
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max_size
        self.schema = check_schema_name(schema)
        self.command_timeout = command_timeout
        self.migrations = migrations
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
                    await self._migrate(conn, self.migrations)
            except BaseException:
                await pool.close()
                raise
            self._pool = pool

    async def _migrate(self, conn: asyncpg.Connection,
                       migrations: tuple[Migration, ...]) -> list[int]:
        """Apply missing migrations under an advisory lock keyed on the schema."""
        async with conn.transaction():
            # Released at commit/rollback; a second process blocks here and then
            # finds everything already applied.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                               f"mail_setup_assistant.migrations:{self.schema}")
            # Only create when missing: CREATE SCHEMA IF NOT EXISTS still needs the
            # CREATE privilege on the database, which a least-privilege role lacks.
            exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1",
                                         self.schema)
            if not exists:
                await conn.execute(f'CREATE SCHEMA "{self.schema}"')
            await conn.execute(f'SET LOCAL search_path TO "{self.schema}"')
            return await apply_migrations(PostgresTx(conn), migrations)

    async def migrate(self, migrations: tuple[Migration, ...] | None = None) -> list[int]:
        """Apply the missing migrations now (opening does it); return the versions applied."""
        async with self.connection() as conn:
            return await self._migrate(conn, self.migrations if migrations is None else migrations)

    def check_file(self) -> None:
        """Nothing to check: the server keeps its own files."""

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

    async def query(self, sql: str, *params: Any, short: bool = True,
                    writes: bool | None = None) -> list[Row]:
        """Run one statement in autocommit and return its rows (``short``/``writes``: SQLite's)."""
        async with self.connection() as conn:
            rows: list[Row] = await conn.fetch(POSTGRES.sql(sql), *params)
        return rows

    async def run(self, body: Callable[[Tx], Awaitable[T]], *, transaction: bool = False,
                  short: bool = True, writes: bool = True) -> T:
        """Run ``body`` on one pooled connection, as one transaction when ``transaction``."""
        async with self.connection() as conn:
            if not transaction:
                return await body(PostgresTx(conn))
            async with conn.transaction():
                return await body(PostgresTx(conn))

    async def ping(self) -> None:
        """Run a trivial query; raises when the database cannot be reached."""
        pool = await self.pool()
        # Bound both waits: a health probe must answer even when the pool is exhausted.
        async with pool.acquire(timeout=5) as conn:
            await conn.fetchval("SELECT 1", timeout=5)


class PostgresStorage(SqlStorage):
    """botbuilder ``Storage`` on PostgreSQL, with e-tag optimistic concurrency."""

    def __init__(
        self,
        dsn: str | PostgresDatabase,
        min_size: int = DEFAULT_MIN_SIZE,
        max_size: int = DEFAULT_MAX_SIZE,
        *,
        schema: str = "public",
        clock: Clock = utc_now,
    ) -> None:
        """Describe the storage; the pool is created by ``open`` or on first use.

        Args:
            dsn: A ``postgresql://`` URL, or an already configured
                ``PostgresDatabase`` shared with the record repositories (it
                is then not closed by ``close``).
            min_size: Connections kept open.
            max_size: Most connections at once.
            schema: Schema holding the tables.
            clock: Returns the current UTC time, for ``updated_at``.
        """
        if isinstance(dsn, PostgresDatabase):
            super().__init__(dsn, clock=clock)
        else:
            super().__init__(PostgresDatabase(dsn, min_size=min_size, max_size=max_size,
                                              schema=schema), clock=clock, owns_db=True)
        self.db: PostgresDatabase
