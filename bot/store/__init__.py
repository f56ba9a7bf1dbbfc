"""Persistence: conversation state behind botbuilder's ``Storage``, plus the bot's records.

``open_store(settings.storage_url)`` opens the configured backend and returns a
``Store``:

* ``sqlite:///relative/path`` (relative to the project root) or
  ``sqlite:////absolute/path``: the embedded default, one file, WAL mode;
* ``postgresql://user@host:port/db`` (optionally ``?schema=name``): for several
  bot instances on one database;
* ``memory://``: a private in-memory SQLite database, for tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .base import EtagConflict, Store, StoreError
from .sqlite import MEMORY, SqliteDatabase, SqliteStorage

__all__ = [
    "EtagConflict",
    "SqliteDatabase",
    "SqliteStorage",
    "Store",
    "StoreError",
    "open_store",
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


async def open_store(storage_url: str, **options: Any) -> Store:
    """Open the backend a storage URL names, apply migrations, and return the bundle.

    Args:
        storage_url: See the module docstring for the accepted forms.
        **options: Passed to the backend (e.g. ``busy_timeout_ms`` for SQLite).

    Returns:
        The opened ``Store``; close it with ``await store.close()``.

    Raises:
        ValueError: For an unsupported URL.
    """
    if storage_url == "memory://" or storage_url.startswith("sqlite:///"):
        db = SqliteDatabase(sqlite_path_from_url(storage_url), **options)
        await db.open()
        return Store(
            state=SqliteStorage(db),
            tickets=None,  # type: ignore[arg-type]  # records arrive in the next change
            transcripts=None,  # type: ignore[arg-type]
            audit=None,  # type: ignore[arg-type]
            kv=None,  # type: ignore[arg-type]
            ping=db.ping,
            close=db.close,
            url=redact_url(storage_url),
        )
    raise ValueError(
        "STORAGE_URL must be sqlite:///relative/path, sqlite:////absolute/path, "
        f"postgresql://… or memory://, got {redact_url(storage_url)!r}"
    )
