"""SQLite, on the standard library's ``sqlite3``: the embedded default store.

``STORAGE_URL=sqlite:///var/bot.db``. One connection per process, in WAL mode
(readers never block the writer), with a busy timeout, so a second process on
the same file waits for the write lock instead of failing. Statements that
belong together run in ``BEGIN IMMEDIATE`` transactions: the write lock is taken
up front, because a WAL read transaction that later tries to write fails with
``SQLITE_BUSY`` without waiting.

The small indexed statements of a turn (state read and write, a transcript or
audit row) run **inline** on the event loop: each takes a few microseconds,
while a round trip to a worker thread costs ten times that and contends for the
GIL. Inline statements never block the loop: the connection's busy timeout is 0
outside the worker thread, and a statement that finds another connection
holding the write lock (``SQLITE_BUSY``, which SQLite reports before doing
anything) is tried again a moment later, for as long as ``busy_timeout_ms``,
while the loop goes on. Statements that may read many rows (a staff report, a
retention batch) run on the database's own worker thread instead, with the busy
timeout on. An ``asyncio.Lock`` is held while the thread has the connection, so
nothing else uses it meanwhile.

Automatic WAL checkpoints are off for the same reason — a checkpoint syncs the
file to disk — and run after every ``CHECKPOINT_EVERY`` inline writes instead:
the bulk of the copy on a connection of its own in a worker thread, and only
the short remainder, which starts the log over, inline (see ``checkpoint``).

The shared SQL (``bot/store/state.py``, ``records.py``, ``outbox.py``) is
written as coroutines over a :class:`~bot.store.dialect.Tx`. Here those
coroutines never suspend — each statement is a plain ``sqlite3`` call — so
:func:`run_now` runs a whole body of statements to its end in one step, inline
or on the worker thread, as a synchronous function would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar, cast

from .base import Clock, StoreError, utc_now
from .dialect import SQLITE, Autocommit, Row, Tx
from .migrations import MIGRATIONS, Migration, apply_migrations
from .state import SqlStorage

T = TypeVar("T")
_LOGGER = logging.getLogger(__name__)
MEMORY = ":memory:"
DEFAULT_BUSY_TIMEOUT_MS = 5000
# Inline writes between two WAL checkpoints (SQLite's own default is about 1000 pages).
CHECKPOINT_EVERY = 250
# What an inline statement reports when another connection holds the lock it needs.
_WOULD_WAIT = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _would_wait(error: sqlite3.OperationalError) -> bool:
    """True when ``error`` only means another connection holds a lock (worth trying again)."""
    # The extended code's low byte is the primary code (BUSY_SNAPSHOT is BUSY).
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _WOULD_WAIT


def run_now(body: Awaitable[T]) -> T:
    """Run a coroutine that never suspends to its end, here and now, and return its result.

    The shared SQL is written as coroutines so that PostgreSQL's driver can
    await the network; on SQLite every statement completes at once, so the
    coroutine finishes on its first step. One that tries to suspend is a bug
    (it would await something other than its statements): it is closed and
    RuntimeError raised.
    """
    coroutine = cast(Coroutine[Any, Any, T], body)
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return cast(T, finished.value)
    coroutine.close()
    raise RuntimeError("a SQLite store body awaited something other than its statements")


class SqliteTx:
    """The shared SQL's connection (:class:`~bot.store.dialect.Tx`) on a ``sqlite3`` one."""

    __slots__ = ("raw",)
    dialect = SQLITE

    def __init__(self, raw: sqlite3.Connection) -> None:
        """Use ``raw`` (in whatever transaction state the caller put it)."""
        self.raw = raw

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        """Run a statement; return all its rows."""
        return self.raw.execute(SQLITE.sql(sql), params).fetchall()

    async def fetchrow(self, sql: str, *params: Any) -> Row | None:
        """Run a statement to its end; return its first row, or None."""
        # fetchall, not fetchone: a statement with RETURNING is only done when stepped out.
        rows = self.raw.execute(SQLITE.sql(sql), params).fetchall()
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *params: Any) -> Any:
        """Run a statement; return the first column of its first row, or None."""
        rows = self.raw.execute(SQLITE.sql(sql), params).fetchall()
        return rows[0][0] if rows else None

    async def execute(self, sql: str, *params: Any) -> None:
        """Run a statement for its effect."""
        self.raw.execute(SQLITE.sql(sql), params)


def _in_transaction(raw: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``body`` inside ``BEGIN IMMEDIATE``/``COMMIT``, rolling back if it raises."""
    raw.execute("BEGIN IMMEDIATE")
    try:
        result = body(raw)
        raw.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    return result


class SqliteDatabase(Autocommit):
    """One SQLite file (or ``:memory:``), the single connection used for it, and its thread."""

    dialect = SQLITE

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        migrations: tuple[Migration, ...] = MIGRATIONS,
    ) -> None:
        """Describe the database; nothing is opened until ``open``.

        Args:
            path: The database file, or ``":memory:"`` for a private in-memory one.
            busy_timeout_ms: How long a statement waits for another process's
                write lock before failing.
            migrations: Applied when opened (tests open older schemas with fewer).
        """
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.migrations = migrations
        self._raw: sqlite3.Connection | None = None
        self._worker: ThreadPoolExecutor | None = None
        self._inode: int | None = None
        self._lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()
        self._writes_since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None
        # Inline statements that met another connection's lock and had to try again
        # later (each counted once): lock contention, for tests and monitoring.
        self.lock_waits = 0

    @property
    def is_memory(self) -> bool:
        """True for a private in-memory database (nothing survives ``close``)."""
        return self.path == MEMORY or self.path == ""

    @property
    def is_open(self) -> bool:
        """True between ``open`` and ``close``."""
        return self._raw is not None

    @property
    def checkpoint_task(self) -> asyncio.Task[None] | None:
        """The checkpoint running or last started, if any (tests wait for it)."""
        return self._checkpoint

    async def open(self) -> None:
        """Connect, switch to WAL and apply migrations (on the worker thread). Idempotent."""
        async with self._open_lock:
            if self._raw is not None:
                return
            if not self.is_memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
            try:
                raw = await asyncio.get_running_loop().run_in_executor(worker, self._connect)
            except BaseException:
                worker.shutdown(wait=False)
                raise
            self._raw, self._worker = raw, worker
            self._inode = None if self.is_memory else os.stat(self.path).st_ino

    def _connect(self) -> sqlite3.Connection:
        """Open the connection, set it up and migrate (runs on the worker thread)."""
        raw = sqlite3.connect(
            self.path,
            isolation_level=None,  # autocommit; transactions are explicit
            timeout=self.busy_timeout_ms / 1000,
            # Inline statements use it from the event loop's thread; the
            # asyncio.Lock keeps them and the worker thread apart.
            check_same_thread=False,
        )
        try:
            raw.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            if not self.is_memory:
                self._switch_to_wal(raw)
                # With WAL, NORMAL survives a process crash (kill -9); only
                # an OS crash or power loss can drop the last commits.
                raw.execute("PRAGMA synchronous = NORMAL")
                raw.execute("PRAGMA wal_autocheckpoint = 0")
            raw.execute("PRAGMA foreign_keys = ON")
            _in_transaction(raw, lambda r: run_now(apply_migrations(SqliteTx(r), self.migrations)))
            raw.execute("PRAGMA busy_timeout = 0")  # inline statements never wait
        except BaseException:
            raw.close()
            raise
        return raw

    def _switch_to_wal(self, raw: sqlite3.Connection) -> None:
        """Put the file in WAL mode, trying again while other connections are in the way.

        The switch takes the file's exclusive lock, and when another connection
        is opening the same new file at that moment SQLite may report
        ``SQLITE_BUSY`` at once instead of waiting the busy timeout: 8
        storages opening one new file together failed that way about one time
        in 12. So it is tried again, a moment later, until the busy timeout
        (on the worker thread, where waiting is fine).
        """
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        pause = 0.001
        while True:
            try:
                raw.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if not _would_wait(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def migrate(self, migrations: tuple[Migration, ...] | None = None) -> list[int]:
        """Apply the missing migrations now (opening does it); return the versions applied."""
        chosen = self.migrations if migrations is None else migrations
        return await self.run(lambda tx: apply_migrations(tx, chosen), transaction=True,
                              short=False)

    def check_file(self) -> None:
        """Raise StoreError when the database file was deleted or replaced under the connection.

        SQLite keeps writing to an unlinked file without complaint, and all of it
        would be gone at the next start: a store that looks fine but is not.
        """
        if self.is_memory or self._raw is None:
            return
        try:
            inode = os.stat(self.path).st_ino
        except OSError as error:
            raise StoreError(f"the database file is gone: {error.strerror}") from error
        if inode != self._inode:
            raise StoreError("the database file was replaced under the running bot")

    async def close(self) -> None:
        """Close the connection (after the statement in progress) and its thread. Idempotent."""
        async with self._open_lock:
            checkpoint, self._checkpoint = self._checkpoint, None
            if checkpoint is not None:
                await asyncio.gather(checkpoint, return_exceptions=True)
            async with self._lock:
                raw, self._raw = self._raw, None
                if raw is not None:
                    raw.close()
            worker, self._worker = self._worker, None
            if worker is not None:
                worker.shutdown(wait=False)

    def set_trace_callback(self, callback: Callable[[str], object] | None) -> None:
        """Call ``callback`` with every statement the connection runs (None stops it).

        For tests and for finding out what a code path asks the database.
        """
        if self._raw is None:
            raise StoreError("the SQLite store is not open")
        self._raw.set_trace_callback(callback)

    # -- running statements ------------------------------------------------------------------
    async def query(self, sql: str, *params: Any, short: bool = True,
                    writes: bool | None = None) -> list[Row]:
        """Run one statement (in autocommit) and return all its rows.

        Args:
            sql: The statement, in the shared spelling (``$1`` placeholders).
            *params: Its parameters.
            short: Run it on the event loop (for small indexed statements; see
                the module docstring); False runs it on the worker thread.
            writes: Whether it may write; None guesses from the statement (all
                but ``SELECT`` do).

        Returns:
            The rows, as tuples.
        """
        text = SQLITE.sql(sql)
        if writes is None:
            writes = text.lstrip()[:6].upper() != "SELECT"
        raw = self._raw
        if short and raw is not None and not self._lock.locked():
            # Nearly every statement of a turn: run it right here, without the
            # layers _step adds for waits and retries (a third of the cost of a
            # small indexed statement). Meeting another writer's lock, it takes
            # the general path, which retries.
            try:
                rows = raw.execute(text, params).fetchall()
            except sqlite3.OperationalError as error:
                if not _would_wait(error):
                    raise
            else:
                if writes:
                    self._wrote()
                return rows

        def job(conn: sqlite3.Connection) -> list[Row]:
            return conn.execute(text, params).fetchall()

        return await self._step(job, short=short, writes=writes)

    async def run(self, body: Callable[[Tx], Awaitable[T]], *, transaction: bool = False,
                  short: bool = True, writes: bool = True) -> T:
        """Run ``body`` on the connection as one step, in ``BEGIN IMMEDIATE`` if ``transaction``.

        Args:
            body: The shared SQL, a coroutine function of a ``Tx``. An inline
                body may run again after ``SQLITE_BUSY``: a single statement,
                statements safe to repeat, or ``transaction=True``.
            transaction: All or nothing; rolled back if ``body`` raises.
            short: Run it on the event loop; False runs it on the worker thread.
            writes: It may write (counts towards the next checkpoint).

        Returns:
            What ``body`` returned.
        """
        def job(raw: sqlite3.Connection) -> T:
            return run_now(body(SqliteTx(raw)))

        step = (lambda raw: _in_transaction(raw, job)) if transaction else job
        if short and self._raw is not None and not self._lock.locked():
            # Every turn's write: the first try right here, without the two coroutines
            # _step and _run_inline add (as in query). Meeting another writer's lock,
            # it goes on waiting in _run_inline.
            done, outcome = self._inline(step, writes)
            if done:
                return cast(T, outcome)
            return await self._run_inline(step, writes,
                                          failure=cast(sqlite3.OperationalError, outcome))
        return await self._step(step, short=short, writes=writes)

    async def _step(self, job: Callable[[sqlite3.Connection], T], *, short: bool,
                    writes: bool) -> T:
        """Run a synchronous ``job`` of the connection inline, or on the worker thread."""
        if self._raw is None:
            await self.open()
        if short:
            return await self._run_inline(job, writes)
        async with self._lock:
            raw, worker = self._raw, self._worker
            if raw is None or worker is None:
                raise StoreError("the SQLite store is closed")

            def waiting_job() -> T:
                raw.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
                try:
                    return job(raw)
                finally:
                    raw.execute("PRAGMA busy_timeout = 0")

            running = asyncio.get_running_loop().run_in_executor(worker, waiting_job)
            try:
                result = await asyncio.shield(running)
            except asyncio.CancelledError:
                # The thread still has the connection: keep the lock until it is done.
                await asyncio.wait({running})
                raise
            if writes:
                self._wrote()
            return result

    async def _run_inline(self, job: Callable[[sqlite3.Connection], T], writes: bool, *,
                          failure: sqlite3.OperationalError | None = None) -> T:
        """Run ``job`` on the event loop; when another connection holds the write lock,
        try again a moment later, holding nothing meanwhile, until the busy timeout.
        ``failure``: the caller's own first try met that lock (``run``), so the next
        try comes after the first pause.

        No asyncio lock is taken unless the worker thread has the connection: an
        inline job never awaits, so it is done before any other coroutine runs.
        Queueing on the lock anyway, or waiting for another writer while
        holding it, would line every turn up behind every other, each resumed
        one loop pass after the previous one: a convoy that, once formed, kept
        turns waiting (measured under the bench load before this: 31 ms of a
        turn's 38 ms p50).
        """
        if failure is None and not self._lock.locked():
            done, outcome = self._inline(job, writes)  # almost always done at once
            if done:
                return cast(T, outcome)
            failure = cast(sqlite3.OperationalError, outcome)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.busy_timeout_ms / 1000
        pause = 0.0005
        waited = False
        while True:
            if failure is not None:  # the last try met another writer's lock
                if not waited:
                    self.lock_waits += 1
                    waited = True
                if loop.time() >= deadline:
                    raise failure
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.01)
            if self._lock.locked():
                async with self._lock:
                    done, outcome = self._inline(job, writes)
            else:
                done, outcome = self._inline(job, writes)
            if done:
                return cast(T, outcome)
            failure = cast(sqlite3.OperationalError, outcome)

    def _inline(self, job: Callable[[sqlite3.Connection], T],
                writes: bool) -> tuple[bool, T | sqlite3.OperationalError]:
        """Run ``job`` right here: (True, result), or (False, error) if it would wait."""
        raw = self._raw
        if raw is None:
            raise StoreError("the SQLite store is closed")
        try:
            result = job(raw)
        except sqlite3.OperationalError as error:
            if not _would_wait(error):
                raise
            return False, error
        if writes:
            self._wrote()
        return True, result

    # -- checkpoints ---------------------------------------------------------------------------
    def _wrote(self) -> None:
        """Count a write; start a checkpoint in a worker thread when enough have piled up."""
        self._writes_since_checkpoint += 1
        if (self._writes_since_checkpoint >= CHECKPOINT_EVERY and not self.is_memory
                and (self._checkpoint is None or self._checkpoint.done())):
            self._writes_since_checkpoint = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self.checkpoint())

    async def checkpoint(self) -> None:
        """Copy the whole WAL into the database file, so the next write starts it over.

        A PASSIVE checkpoint holds no lock writers need, but next to a steady
        stream of writes it never finishes the log, which then never starts
        over and grows without end; a RESTART one finishes it, holding the
        write lock while it copies and syncs. So both, in turn. PASSIVE copies
        the bulk on a connection of its own in a worker thread while the loop
        goes on. RESTART then copies what came meanwhile **inline**, on the
        turns' own connection with its busy timeout of 0: no turn's write can
        meet its lock, because none runs while it does. It used to run in the
        thread as well, where each write that met its lock retried until it
        was gone: one lap of the busy event loop per try, so under the bench
        load 3-5 turns per checkpoint lost 13-40 ms each, in the p99 tail.
        Inline it blocks the loop for the remainder's copy and two syncs
        instead: 3-4 ms under that load, once per ``CHECKPOINT_EVERY`` writes.

        When the inline RESTART cannot finish because another process is
        reading or writing the file, a waiting one runs in the thread, as
        before, so the log still starts over.
        """
        def copy_bulk() -> None:
            with closing(self._side_connection()) as conn:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

        def restart_waiting() -> None:
            with closing(self._side_connection()) as conn:
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()

        try:
            await asyncio.to_thread(copy_bulk)
            if not self._restart_inline():
                await asyncio.to_thread(restart_waiting)
        except Exception:  # the next checkpoint tries again; the WAL only grows meanwhile
            _LOGGER.warning("SQLite checkpoint failed", exc_info=True)

    def _side_connection(self) -> sqlite3.Connection:
        """A connection of its own for a worker thread, waiting for locks as long as allowed."""
        return sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000,
                               isolation_level=None, check_same_thread=False)

    def _restart_inline(self) -> bool:
        """Finish the checkpoint on the turns' connection, never waiting; True if it did.

        Not while the worker thread has that connection, and not when another
        connection's lock is in the way: SQLite reports that at once, with the
        busy timeout of 0.
        """
        raw = self._raw
        if raw is None or self._lock.locked():
            return False
        try:
            busy, _, _ = raw.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        except sqlite3.OperationalError as error:
            if not _would_wait(error):
                raise
            return False
        return not busy

    async def ping(self) -> None:
        """Run a trivial query; raises when the database cannot be used."""
        await self.query("SELECT 1")


class SqliteStorage(SqlStorage):
    """botbuilder ``Storage`` on a SQLite file, with e-tag optimistic concurrency.

    Usage::

        async with SqliteStorage("var/bot.db") as storage:
            conversation_state = ConversationState(storage)
    """

    def __init__(self, path: str | os.PathLike[str] | SqliteDatabase, *,
                 busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, clock: Clock = utc_now) -> None:
        """Describe the storage; the file is opened by ``open`` or on first use.

        Args:
            path: The database file (its directory is created), ``":memory:"``,
                or an already configured ``SqliteDatabase`` to share with the
                record repositories (it is then not closed by ``close``).
            busy_timeout_ms: Wait for another process's write lock this long.
            clock: Returns the current UTC time, for ``updated_at``.
        """
        if isinstance(path, SqliteDatabase):
            super().__init__(path, clock=clock)
        else:
            super().__init__(SqliteDatabase(path, busy_timeout_ms=busy_timeout_ms), clock=clock,
                             owns_db=True)
        self.db: SqliteDatabase
