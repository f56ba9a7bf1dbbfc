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

from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import (
    AuditEvent,
    AuditRepository,
    ClaimResult,
    Clock,
    EtagConflict,
    KeyValueRepository,
    Store,
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
