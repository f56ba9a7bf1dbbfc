"""Conversation state: a botbuilder ``Storage`` with e-tag concurrency, on either database.

Items are plain JSON documents (TEXT in SQLite, JSONB in PostgreSQL); the
e_tag is a version number that the conditional ``UPDATE … WHERE key = $3 AND
etag = $4`` bumps in the same statement that checks it. On PostgreSQL under
READ COMMITTED a second writer holding the same e_tag waits for the first one's
row lock, re-checks the condition on the new row and matches nothing; on SQLite
the single writer decides. Either way exactly one wins.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from botbuilder.core import Storage

from .base import Clock, EtagConflict, utc_now
from .codec import decode_item, e_tag_of, encode_item
from .dialect import Database, Tx

_READ_ONE = "SELECT key, doc, etag FROM bot_state WHERE key = $1"
# Starts with "UPDATE bot_state": the two-instance race test waits for it by that text.
_UPDATE_IF_CURRENT = ("UPDATE bot_state SET doc = $1, etag = etag + 1, updated_at = $2 "
                      "WHERE key = $3 AND etag = $4 RETURNING etag")
_UPSERT = ("INSERT INTO bot_state (key, doc, etag, updated_at) VALUES ($1, $2, $3, $4) "
           "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, "
           "etag = bot_state.etag + 1, updated_at = excluded.updated_at")
_INSERT_IF_ABSENT = ("INSERT INTO bot_state (key, doc, etag, updated_at) VALUES ($1, $2, $3, $4) "
                     "ON CONFLICT (key) DO NOTHING RETURNING etag")


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
        ``(key, json_doc, e_tag)`` per item, in key order (so two batches over
        the same keys take their row locks in one order and cannot deadlock).

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
    if len(prepared) > 1:
        prepared.sort(key=lambda change: change[0])
    return prepared


async def save_items(tx: Tx, prepared: list[tuple[str, str, Any]], now: datetime) -> None:
    """Write prepared state items, checking each e_tag; raise EtagConflict on a stale one.

    Shared by ``SqlStorage.write`` (a single item on the database itself, in
    autocommit) and the turn writer, which runs it in the same transaction as
    the turn's outbox, transcript and audit rows.
    """
    at = tx.dialect.time(now)
    for key, doc, e_tag in prepared:
        if e_tag is None or e_tag == "*":
            await tx.execute(_UPSERT, key, doc, new_etag(), at)
            continue
        expected = parse_etag(e_tag)
        # Check and bump in one statement: no window between the two.
        if expected is not None and await tx.fetchrow(_UPDATE_IF_CURRENT, doc, at, key, expected):
            continue
        # Not matched: fine only if the key does not exist (as in MemoryStorage).
        if await tx.fetchrow(_INSERT_IF_ABSENT, key, doc, new_etag(), at) is None:
            raise EtagConflict(key, str(e_tag))


class SqlStorage(Storage):  # botbuilder ships no types: Storage is Any to mypy
    """botbuilder ``Storage`` on SQLite or PostgreSQL, with e-tag optimistic concurrency.

    Semantics follow ``MemoryStorage``: ``read`` returns the stored dict with
    an ``e_tag``; ``write`` with that e_tag succeeds only while the item is
    unchanged, and raises ``EtagConflict`` otherwise; ``"*"`` or no e_tag
    overwrites; an e_tag never issued writes only when the key is absent.
    Items are stored as plain JSON and always read back as dicts.
    """

    def __init__(self, db: Database, *, clock: Clock = utc_now, owns_db: bool = False) -> None:
        """Use an opened (or lazily opened) database.

        Args:
            db: The database, shared with the record repositories.
            clock: Returns the current UTC time, for ``updated_at``.
            owns_db: Close ``db`` in ``close`` (a storage made on its own).
        """
        super().__init__()
        self.db = db
        self.clock = clock
        self._owns_db = owns_db

    async def open(self) -> SqlStorage:
        """Open the database now, so a bad path or URL fails at startup rather than on a turn.

        Returns:
            The storage itself.
        """
        await self.db.open()
        return self

    async def close(self) -> None:
        """Close the database, unless it was passed in shared."""
        if self._owns_db:
            await self.db.close()

    async def __aenter__(self) -> SqlStorage:
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

        if len(wanted) == 1:  # every turn: one statement on the primary key
            rows = await self.db.query(_READ_ONE, wanted[0], writes=False)
        else:
            dialect = self.db.dialect
            rows = await self.db.query(
                f"SELECT key, doc, etag FROM bot_state WHERE {dialect.in_array('key', '$1')}",
                dialect.array(wanted), writes=False)
        for key, doc, etag in rows:
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
        now = self.clock()
        if len(prepared) == 1:
            # One item (every turn's save) needs no transaction: the conditional
            # update, or, when that matched nothing, an insert that only succeeds
            # for a new key, each one statement in autocommit. Leaving out BEGIN
            # and COMMIT saves two statements (on PostgreSQL two round trips) a turn.
            await save_items(self.db, prepared, now)
            return
        # Several items: one transaction, all or none.
        await self.db.run(lambda tx: save_items(tx, prepared, now), transaction=True)

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove items; unknown keys are ignored.

        Args:
            keys: The keys to remove (a list or set).
        """
        doomed = check_keys(keys, "deleting")
        if not doomed:
            return

        async def remove(tx: Tx) -> None:
            await tx.execute(f"DELETE FROM bot_state WHERE {tx.dialect.in_array('key', '$1')}",
                             tx.dialect.array(doomed))

        await self.db.run(remove)
