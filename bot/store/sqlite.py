"""Conversation state in SQLite: a botbuilder ``Storage`` with e-tag concurrency.

SQLite is the embedded default (``STORAGE_URL=sqlite:///var/bot.db``). One
``aiosqlite`` connection per process is opened in WAL mode, so readers never
block the writer, with a busy timeout, so a second process on the same file
waits for the write lock instead of failing. Statements that belong together
run in ``BEGIN IMMEDIATE`` transactions: the write lock is taken up front,
because a WAL read transaction that later tries to write fails with
``SQLITE_BUSY`` without waiting.

Every use of the connection holds an ``asyncio.Lock``: aiosqlite runs one
statement at a time, but two coroutines interleaving their statements on one
connection would otherwise share each other's transaction.

The small indexed statements of a turn (state read and write, the open
ticket, a transcript or audit row) run **inline** on the event loop: each
takes a few microseconds, while a round trip to aiosqlite's thread costs
ten times that and contends for the GIL. Inline statements never block the
loop: the connection's busy timeout is 0 outside the thread, and a statement
that finds another connection holding the write lock (``SQLITE_BUSY``, which
SQLite reports before doing anything) is tried again a moment later, for as
long as ``busy_timeout_ms``, while the loop goes on. Automatic WAL checkpoints
are off for the same reason — a checkpoint syncs the file to disk — and run
after every ``CHECKPOINT_EVERY`` inline writes instead: the bulk of the copy
on a connection of its own in a worker thread, and only the short remainder,
which starts the log over, inline (see ``checkpoint``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
from botbuilder.core import Storage

from .base import EtagConflict, StoreError
from .codec import decode_item, e_tag_of, encode_item
from .migrations import migrate_sqlite

T = TypeVar("T")
_LOGGER = logging.getLogger(__name__)
MEMORY = ":memory:"
DEFAULT_BUSY_TIMEOUT_MS = 5000
# SQLite's default limit on bound parameters is far higher, but keep IN lists short.
_CHUNK = 500
# Inline writes between two WAL checkpoints (SQLite's own default is about 1000 pages).
CHECKPOINT_EVERY = 250
# What an inline statement reports when another connection holds the lock it needs.
_WOULD_WAIT = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _would_wait(error: sqlite3.OperationalError) -> bool:
    """True when ``error`` only means another connection holds a lock (worth trying again)."""
    # The extended code's low byte is the primary code (BUSY_SNAPSHOT is BUSY).
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _WOULD_WAIT


def iso(ts: datetime) -> str:
    """Format a timestamp the way SQLite rows store it (UTC, fixed width, sortable).

    Args:
        ts: An aware datetime; a naive one is taken to be UTC.

    Returns:
        ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``; equal-width strings compare like times.
    """
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    """Parse a timestamp written by ``iso``; None stays None."""
    return datetime.fromisoformat(text) if text else None


class SqliteDatabase:
    """One SQLite file (or ``:memory:``) and the single connection used for it."""

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
    ) -> None:
        """Describe the database; nothing is opened until ``open``.

        Args:
            path: The database file, or ``":memory:"`` for a private in-memory one.
            busy_timeout_ms: How long a statement waits for another process's
                write lock before failing.
        """
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None
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
        return self._conn is not None

    async def open(self) -> None:
        """Connect, switch to WAL and apply migrations. Calling it again is a no-op."""
        async with self._open_lock:
            if self._conn is not None:
                return
            if not self.is_memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            connecting = aiosqlite.connect(
                self.path,
                isolation_level=None,  # autocommit; transactions are explicit
                timeout=self.busy_timeout_ms / 1000,
                # Inline statements use it from the event loop's thread; the
                # asyncio.Lock keeps them and aiosqlite's thread apart.
                check_same_thread=False,
            )
            # aiosqlite's worker thread is not a daemon, so one connection left
            # open (a task cancelled mid-open, a test that crashed) would keep
            # the process from ever exiting. WAL survives a process that just
            # stops; a daemon thread lets it stop.
            connecting._thread.daemon = True
            conn = await connecting
            try:
                await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
                if not self.is_memory:
                    await self._switch_to_wal(conn)
                    # With WAL, NORMAL survives a process crash (kill -9); only
                    # an OS crash or power loss can drop the last commits.
                    await conn.execute("PRAGMA synchronous = NORMAL")
                    await conn.execute("PRAGMA wal_autocheckpoint = 0")
                await conn.execute("PRAGMA foreign_keys = ON")
                await migrate_sqlite(conn)
                await conn.execute("PRAGMA busy_timeout = 0")  # inline statements never wait
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
            self._inode = None if self.is_memory else os.stat(self.path).st_ino

    def check_file(self) -> None:
        """Raise StoreError when the database file was deleted or replaced under the connection.

        SQLite keeps writing to an unlinked file without complaint, and all of it
        would be gone at the next start: a store that looks fine but is not.
        """
        if self.is_memory or self._conn is None:
            return
        try:
            inode = os.stat(self.path).st_ino
        except OSError as error:
            raise StoreError(f"the database file is gone: {error.strerror}") from error
        if inode != self._inode:
            raise StoreError("the database file was replaced under the running bot")

    async def _switch_to_wal(self, conn: aiosqlite.Connection) -> None:
        """Put the file in WAL mode, trying again while other connections are in the way.

        The switch takes the file's exclusive lock, and when another connection
        is opening the same new file at that moment SQLite may report
        ``SQLITE_BUSY`` at once instead of waiting the busy timeout: 8
        storages opening one new file together failed that way about one time
        in 12. So it is tried again, a moment later, until the busy timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.busy_timeout_ms / 1000
        pause = 0.001
        while True:
            try:
                await conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if not _would_wait(error) or loop.time() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def close(self) -> None:
        """Close the connection (waiting for the statement in progress). Idempotent."""
        async with self._open_lock:
            checkpoint, self._checkpoint = self._checkpoint, None
            if checkpoint is not None:
                await asyncio.gather(checkpoint, return_exceptions=True)
            conn, self._conn = self._conn, None
            if conn is not None:
                async with self._lock:
                    await conn.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosqlite.Connection]:
        """Use the connection exclusively, in autocommit mode (each statement commits).

        Yields:
            The open connection.
        """
        if self._conn is None:
            await self.open()
        async with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError("the SQLite store is closed")
            # Statements through aiosqlite run on its thread, where waiting is fine.
            conn._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            try:
                yield conn
            finally:
                if self._conn is conn:
                    conn._conn.execute("PRAGMA busy_timeout = 0")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run statements in one ``BEGIN IMMEDIATE`` transaction; roll back on any error.

        Yields:
            The open connection, inside the transaction.
        """
        async with self.connection() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise
            else:
                await conn.execute("COMMIT")

    async def query(self, sql: str, params: Sequence[Any] = (), *,
                    inline: bool = True, writes: bool | None = None) -> list[Any]:
        """Run one statement (in autocommit) and return all its rows.

        Args:
            sql: The statement.
            params: Its parameters.
            inline: Run it on the event loop (for small indexed statements;
                see the module docstring); False runs it on the thread, for
                statements that may read many rows.
            writes: Whether it may write; None guesses from the statement (all
                but ``SELECT`` do).

        Returns:
            The rows, as tuples.
        """
        if writes is None:
            writes = sql.lstrip()[:6].upper() != "SELECT"
        conn = self._conn
        if inline and conn is not None and not self._lock.locked():
            # Nearly every statement of a turn: run it right here, without the
            # layers run() adds for jobs, waits and retries (a third of the
            # cost of a small indexed statement). Meeting another writer's
            # lock, it takes the general path, which retries.
            try:
                rows = conn._conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as error:
                if not _would_wait(error):
                    raise
            else:
                if writes:
                    self._wrote()
                return rows

        def job(raw: sqlite3.Connection) -> list[Any]:
            return raw.execute(sql, params).fetchall()

        return await self.run(job, inline=inline, writes=writes)

    async def run(self, job: Callable[[sqlite3.Connection], T], *,
                  transaction: bool = False, inline: bool = False, writes: bool = True) -> T:
        """Run ``job`` with the raw connection, as one step.

        Each aiosqlite call is a round trip to its thread (costlier than a small
        statement itself); a job of several statements makes one. An inline job
        makes none.

        Args:
            job: A synchronous function of the ``sqlite3.Connection``. An inline
                job must be safe to run again after ``SQLITE_BUSY``: a single
                statement, or ``transaction=True``.
            transaction: Wrap the job in ``BEGIN IMMEDIATE``/``COMMIT``, rolling
                back if it raises.
            inline: Run it on the event loop; when another connection holds the
                write lock, try again a moment later (see ``_run_inline``).
            writes: The job may write (counts towards the next checkpoint).

        Returns:
            What ``job`` returned.
        """
        def step(raw: sqlite3.Connection) -> T:
            if not transaction:
                return job(raw)
            raw.execute("BEGIN IMMEDIATE")
            try:
                result = job(raw)
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
            return result

        if self._conn is None:
            await self.open()
        if inline:
            return await self._run_inline(step, writes)
        async with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError("the SQLite store is closed")

            def waiting_step(raw: sqlite3.Connection) -> T:
                raw.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
                try:
                    return step(raw)
                finally:
                    raw.execute("PRAGMA busy_timeout = 0")

            # aiosqlite's own way to run a call on its thread (all its methods use it).
            result = await conn._execute(waiting_step, conn._conn)
            if writes:
                self._wrote()
            return result  # type: ignore[no-any-return]

    async def _run_inline(self, step: Callable[[sqlite3.Connection], T], writes: bool) -> T:
        """Run ``step`` on the event loop; when another connection holds the write lock,
        try again a moment later, holding nothing meanwhile, until the busy timeout.

        No asyncio lock is taken unless a coroutine holds the connection across
        an await (a thread-side job or transaction): an inline job never
        awaits, so it is done before any other coroutine runs. Queueing on the
        lock anyway, or waiting for another writer while holding it, would
        line every turn up behind every other, each resumed one loop pass
        after the previous one: a convoy that, once formed, kept turns waiting
        (measured under the bench load before this: 31 ms of a turn's 38 ms p50).
        """
        failure: sqlite3.OperationalError | None = None
        if not self._lock.locked():
            done, outcome = self._inline(step, writes)  # almost always done at once
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
                    done, outcome = self._inline(step, writes)
            else:
                done, outcome = self._inline(step, writes)
            if done:
                return cast(T, outcome)
            failure = cast(sqlite3.OperationalError, outcome)

    def _inline(self, step: Callable[[sqlite3.Connection], T],
                writes: bool) -> tuple[bool, T | sqlite3.OperationalError]:
        """Run ``step`` right here: (True, result), or (False, error) if it would wait."""
        conn = self._conn
        if conn is None:
            raise StoreError("the SQLite store is closed")
        try:
            result = step(conn._conn)
        except sqlite3.OperationalError as error:
            if not _would_wait(error):
                raise
            return False, error
        if writes:
            self._wrote()
        return True, result

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

        Not while a thread-side job holds that connection (it is aiosqlite's
        thread's then), and not when another connection's lock is in the way:
        SQLite reports that at once, with the busy timeout of 0.
        """
        conn = self._conn
        if conn is None or self._lock.locked():
            return False
        try:
            busy, _, _ = conn._conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        except sqlite3.OperationalError as error:
            if not _would_wait(error):
                raise
            return False
        return not busy

    async def ping(self) -> None:
        """Run a trivial query; raises when the database cannot be used."""
        async with self.connection() as conn:
            await conn.execute_fetchall("SELECT 1")


def new_etag() -> int:
    """Pick the first version number of a newly created item.

    Random rather than 1: after a key is deleted and created again, an e_tag
    someone read before the delete must not match the new item by accident.
    """
    return secrets.randbelow(2**31) + 1


def parse_etag(e_tag: Any) -> int | None:
    """Return the version number an e_tag names, or None if it names none we issue.

    An e_tag we never issued (say ``"new"``) matches no stored item, so a write
    carrying one only succeeds when the key does not exist yet.
    """
    text = str(e_tag).strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def check_keys(keys: Iterable[str] | str | None, action: str) -> list[str]:
    """Normalise the ``keys`` argument of ``read``/``delete`` to a list of unique strings.

    Args:
        keys: A list, set, dict view or a single key.
        action: ``"reading"`` or ``"deleting"``, for the error message.

    Returns:
        The keys, duplicates removed, in first-seen order.

    Raises:
        ValueError: When ``keys`` is None (the message is the one
            botbuilder-testing expects).
        TypeError: When a key is not a string.
    """
    if keys is None:
        raise ValueError(f"Keys are required when {action}")
    if isinstance(keys, str):
        keys = [keys]
    out: list[str] = []
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"storage keys must be strings, got {type(key).__name__}")
        out.append(key)
    return list(dict.fromkeys(out))


def prepare_changes(changes: Mapping[str, Any] | None) -> list[tuple[str, str, Any]]:
    """Validate and serialize the ``changes`` argument of ``write``.

    Done before any database work so a bad item never holds a lock.

    Args:
        changes: Key to item (dict or object with attributes).

    Returns:
        ``(key, json_doc, e_tag)`` per item.

    Raises:
        ValueError: For ``changes=None`` or an empty-string ``e_tag``.
        TypeError: For a non-string key or an item that is not plain JSON.
    """
    if changes is None:
        raise ValueError("Changes are required when writing")
    if not changes:
        # MemoryStorage accepts any empty container here, an empty list included.
        return []
    prepared: list[tuple[str, str, Any]] = []
    for key, item in changes.items():
        if not isinstance(key, str):
            raise TypeError(f"storage keys must be strings, got {type(key).__name__}")
        e_tag = e_tag_of(item)
        if e_tag == "":
            # Same rule as MemoryStorage: an empty e_tag is a bug, not a wildcard.
            raise ValueError(f"e_tag of {key!r} is empty; use '*' or leave it out to overwrite")
        prepared.append((key, encode_item(item), e_tag))
    return prepared


def save_items(raw: sqlite3.Connection, prepared: list[tuple[str, str, Any]], now: str) -> None:
    """Write prepared state items on ``raw``, checking each e_tag; raise EtagConflict on a stale one.

    Shared by ``SqliteStorage.write`` and the turn writer, which runs it in the
    same transaction as the turn's outbox, transcript and audit rows.
    """
    for key, doc, e_tag in prepared:
        if e_tag is None or e_tag == "*":
            raw.execute(
                "INSERT INTO bot_state (key, doc, etag, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, "
                "etag = bot_state.etag + 1, updated_at = excluded.updated_at",
                (key, doc, new_etag(), now),
            )
            continue
        expected = parse_etag(e_tag)
        if expected is not None:
            # Check and bump in one statement: no window between the two.
            updated = raw.execute(
                "UPDATE bot_state SET doc = ?, etag = etag + 1, updated_at = ? "
                "WHERE key = ? AND etag = ? RETURNING etag",
                (doc, now, key, expected),
            ).fetchall()
            if updated:
                continue
        # Not matched: fine only if the key does not exist (as in MemoryStorage).
        inserted = raw.execute(
            "INSERT INTO bot_state (key, doc, etag, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING RETURNING etag",
            (key, doc, new_etag(), now),
        ).fetchall()
        if not inserted:
            raise EtagConflict(key, str(e_tag))


class SqliteStorage(Storage):  # type: ignore[misc]  # botbuilder ships no types
    """botbuilder ``Storage`` on SQLite, with e-tag optimistic concurrency.

    Semantics follow ``MemoryStorage``: ``read`` returns the stored dict with
    an ``e_tag``; ``write`` with that e_tag succeeds only while the item is
    unchanged, and raises ``EtagConflict`` otherwise; ``"*"`` or no e_tag
    overwrites. Items are stored as plain JSON and always read back as dicts.

    Usage::

        async with SqliteStorage("var/bot.db") as storage:
            conversation_state = ConversationState(storage)
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | SqliteDatabase,
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> None:
        """Describe the storage; the file is opened by ``open`` or on first use.

        Args:
            path: The database file (its directory is created), ``":memory:"``,
                or an already configured ``SqliteDatabase`` to share with the
                record repositories (it is then not closed by ``close``).
            busy_timeout_ms: Wait for another process's write lock this long.
        """
        super().__init__()
        if isinstance(path, SqliteDatabase):
            self.db = path
            self._owns_db = False
        else:
            self.db = SqliteDatabase(path, busy_timeout_ms=busy_timeout_ms)
            self._owns_db = True

    async def open(self) -> SqliteStorage:
        """Open the database now, so a bad path fails at startup rather than on a turn.

        Returns:
            The storage itself.
        """
        await self.db.open()
        return self

    async def close(self) -> None:
        """Close the connection, unless the database was passed in shared."""
        if self._owns_db:
            await self.db.close()

    async def __aenter__(self) -> SqliteStorage:
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
        result: dict[str, Any] = {}
        if not wanted:
            return result

        def select(raw: sqlite3.Connection) -> list[Any]:
            rows: list[Any] = []
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows += raw.execute(
                    f"SELECT key, doc, etag FROM bot_state WHERE key IN ({marks})", chunk
                ).fetchall()
            return rows

        for key, doc, etag in await self.db.run(select, inline=True, writes=False):
            item = decode_item(doc)
            item["e_tag"] = str(etag)
            result[key] = item
        return result

    async def write(self, changes: Mapping[str, Any]) -> None:
        """Save items, all or none, checking each item's ``e_tag``.

        Args:
            changes: Key to item. An item whose ``e_tag`` is a value read
                earlier is written only if the stored item still has that
                e_tag; ``"*"``, None or no e_tag overwrites unconditionally.

        Raises:
            EtagConflict: An item changed since its e_tag was read. Nothing
                from this call is saved.
            ValueError: ``changes`` is None or an e_tag is the empty string.
            TypeError: An item is not plain JSON.
        """
        prepared = prepare_changes(changes)
        if not prepared:
            return
        now = iso(datetime.now(UTC))

        def save(raw: sqlite3.Connection) -> None:
            save_items(raw, prepared, now)

        # Several items: one transaction, all or none. One item (every turn's
        # save) needs none: it is one statement that checks and writes at once,
        # or, when that matched nothing, an insert that only succeeds for a new
        # key, with nothing written in between; so it may also run again after
        # SQLITE_BUSY. Leaving out BEGIN and COMMIT saves two statements a turn.
        await self.db.run(save, transaction=len(prepared) > 1, inline=True)

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove items; unknown keys are ignored.

        Args:
            keys: The keys to remove (a list or set).
        """
        doomed = check_keys(keys, "deleting")
        if not doomed:
            return
        async with self.db.transaction() as conn:
            for start in range(0, len(doomed), _CHUNK):
                chunk = doomed[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                await conn.execute(f"DELETE FROM bot_state WHERE key IN ({marks})", chunk)
