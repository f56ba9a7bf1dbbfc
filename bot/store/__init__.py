"""Persistence: conversation state behind botbuilder's ``Storage``, plus the bot's records.

The SQL is written once (``state``, ``records``, ``outbox``, ``migrations``)
over a small dialect layer (``dialect``); ``sqlite`` and ``postgres`` run it on
their drivers' public APIs. PostgreSQL support (asyncpg) is imported only when
a ``postgresql://`` URL is opened. ``open_store(settings.storage_url)`` opens
the configured backend and returns a ``Store``:

* ``sqlite:///relative/path`` (relative to the project root) or
  ``sqlite:////absolute/path``: the embedded default, one file, WAL mode;
* ``postgresql://user@host:port/db`` (optionally ``?schema=name``): for several
  bot instances on one database;
* ``memory://``: a private in-memory SQLite database, for tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from botbuilder.core import Storage

from .base import (
    AuditEvent,
    AuditRepository,
    ClaimResult,
    Clock,
    EtagConflict,
    KeyValueRepository,
    StoreError,
    Ticket,
    TicketRepository,
    TicketStatus,
    TranscriptEntry,
    TranscriptRepository,
    utc_now,
)
from .dialect import Database
from .outbox import Turns
from .records import Audit, KeyValue, Tickets, Transcripts
from .sqlite import MEMORY, SqliteDatabase, SqliteStorage
from .state import SqlStorage

__all__ = [
    "AuditEvent",
    "AuditRepository",
    "ClaimResult",
    "EtagConflict",
    "KeyValueRepository",
    "SqliteDatabase",
    "SqliteStorage",
    "Store",
    "StoreError",
    "Ticket",
    "TicketRepository",
    "TicketStatus",
    "TranscriptEntry",
    "TranscriptRepository",
    "open_store",
    "postgres_options",
    "redact_url",
    "sqlite_path_from_url",
]


class Store:
    """Everything the bot persists, opened by ``bot.store.open_store``.

    Attributes:
        state: The botbuilder ``Storage`` for conversation and user state.
        tickets: Handoff tickets.
        transcripts: Relayed messages.
        audit: The audit log and its statistics.
        kv: Key-value settings.
        turns: A turn's writes in one transaction, the outbox, the handoff transitions.
        db: The database under all of them.
        url: The storage URL with any password removed (safe to log).
    """

    def __init__(
        self,
        *,
        state: Storage,
        tickets: TicketRepository,
        transcripts: TranscriptRepository,
        audit: AuditRepository,
        kv: KeyValueRepository,
        turns: Turns,
        db: Database,
        ping: Callable[[], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
        url: str = "",
    ) -> None:
        """Bundle the parts of one opened backend.

        Args:
            state: The botbuilder Storage.
            tickets: Ticket repository.
            transcripts: Transcript repository.
            audit: Audit repository.
            kv: Key-value repository.
            turns: Turn writes, the outbox and the handoff transitions
                (``bot.store.outbox.Turns``).
            db: The database all of them use (for jobs such as retention).
            ping: Coroutine function that raises when the database is unreachable.
            close: Coroutine function releasing the connection or pool.
            url: Redacted storage URL, for logs.
        """
        self.state = state
        self.tickets = tickets
        self.transcripts = transcripts
        self.audit = audit
        self.kv = kv
        self.turns = turns
        self.db = db
        self.url = url
        self._ping = ping
        self._close = close
        self._closed = False

    async def ping(self) -> bool:
        """Check that the database answers (for ``/healthz``).

        Returns:
            True when a trivial query succeeded, False otherwise.
        """
        if self._closed:
            return False
        try:
            await self._ping()
        except Exception:  # noqa: BLE001 - health checks report, they do not raise
            return False
        return True

    async def can_write(self) -> bool:
        """Check that a write goes through (for ``/healthz``): a small upsert, as a turn makes.

        Returns:
            True when it was stored, False otherwise (locked, read-only, unreachable, removed).
        """
        if self._closed:
            return False
        try:
            await self.turns.probe_write()
        except Exception:  # noqa: BLE001 - health checks report, they do not raise
            return False
        return True

    async def close(self) -> None:
        """Release the connection or pool. Calling it twice is harmless."""
        if self._closed:
            return
        self._closed = True
        await self._close()

    async def __aenter__(self) -> Store:
        """Use the opened store in ``async with``."""
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close the store when the ``async with`` block ends."""
        await self.close()


def sqlite_path_from_url(storage_url: str) -> str:
    """Return the SQLite database path a ``sqlite:///`` or ``memory://`` URL names.

    Args:
        storage_url: ``sqlite:///relative/path`` (under the project root),
            ``sqlite:////absolute/path`` or ``memory://``.

    Returns:
        An absolute file path, or ``":memory:"``.

    Raises:
        ValueError: For any other URL or an empty path.
    """
    from bot.settings import PROJECT_ROOT

    if storage_url == "memory://":
        return MEMORY
    if not storage_url.startswith("sqlite:///"):
        raise ValueError(f"not a SQLite storage URL: {storage_url!r}")
    rest = storage_url[len("sqlite:///") :]
    if rest in ("", ":memory:"):
        if rest == "":
            raise ValueError("sqlite:/// needs a path, e.g. sqlite:///var/bot.db")
        return MEMORY
    path = Path(rest)
    return str(path if path.is_absolute() else PROJECT_ROOT / path)


def redact_url(storage_url: str) -> str:
    """Return the URL with any password replaced by ``***`` (safe for logs)."""
    parts = urlsplit(storage_url)
    if parts.password is None:
        return storage_url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def postgres_options(storage_url: str) -> tuple[str, dict[str, Any]]:
    """Split our own query parameters off a PostgreSQL URL.

    asyncpg passes unknown query parameters to the server as settings, so
    ``schema``, ``min_size`` and ``max_size`` are taken out first.

    Args:
        storage_url: ``postgresql://…[?schema=name&min_size=1&max_size=10]``.

    Returns:
        The DSN for asyncpg and the options for ``PostgresDatabase``.
    """
    parts = urlsplit(storage_url)
    options: dict[str, Any] = {}
    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "schema":
            options["schema"] = value
        elif name in ("min_size", "max_size"):
            options[name] = int(value)
        else:
            kept.append((name, value))
    dsn = urlunsplit(parts._replace(query=urlencode(kept)))
    return dsn, options


async def open_store(storage_url: str, *, clock: Clock = utc_now, **options: Any) -> Store:
    """Open the backend a storage URL names, apply migrations, and return the bundle.

    Args:
        storage_url: See the module docstring for the accepted forms.
        clock: Returns the current UTC time for record timestamps (tests
            pass a fake one to age tickets).
        **options: Passed to the backend's database class (e.g.
            ``busy_timeout_ms`` for SQLite, ``min_size`` for PostgreSQL).

    Returns:
        The opened ``Store``; close it with ``await store.close()``.

    Raises:
        ValueError: For an unsupported URL.
    """
    db: Database
    if storage_url == "memory://" or storage_url.startswith("sqlite:///"):
        db = SqliteDatabase(sqlite_path_from_url(storage_url), **options)
    elif storage_url.startswith(("postgresql://", "postgres://")):
        if find_spec("asyncpg") is None:  # the "postgres" extra
            raise ValueError("a postgresql:// STORAGE_URL needs asyncpg: "
                             "pip install 'mail-setup-assistant[postgres]'")
        from .postgres import PostgresDatabase

        dsn, url_options = postgres_options(storage_url)
        db = PostgresDatabase(dsn, **{**url_options, **options})
    else:
        raise ValueError(
            "STORAGE_URL must be sqlite:///relative/path, sqlite:////absolute/path, "
            f"postgresql://… or memory://, got {redact_url(storage_url)!r}"
        )
    await db.open()
    return Store(state=SqlStorage(db, clock=clock), tickets=Tickets(db, clock),
                 transcripts=Transcripts(db, clock), audit=Audit(db, clock),
                 kv=KeyValue(db, clock), ping=db.ping, close=db.close,
                 url=redact_url(storage_url), turns=Turns(db, clock), db=db)
