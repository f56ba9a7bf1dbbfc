"""Retention: what the bot keeps about people and their messages expires (``RETENTION_DAYS``).

After the retention period (90 days unless ``RETENTION_DAYS`` says otherwise)
these are removed:

* **transcripts** — the messages relayed during a handoff;
* **audit rows** — the events the staff statistics count;
* **closed handoff tickets** — with the answers and last messages their cards showed;
* **outbox rows already given up** (delivered ones are removed on delivery);
* **sign-in leftovers** — Teams SSO exchange ids, check-run counters and the
  encrypted MSAL token caches of users who have not used them since.

A conversation's own record (where the flow stands, its last few messages) is
kept while the conversation exists: it is what lets the bot pick up where the
customer left off.

Any instance may run :meth:`Retention.purge`, and several may run it at once:
each pass deletes in batches of at most ``batch`` rows, one short statement a
batch, with a pause between batches, so no lock is held long; on PostgreSQL
instances skip rows another one is deleting (``SKIP LOCKED``). The
:class:`RetentionJob` runs it about once an hour; an instance first claims the
hour in the key-value table, so usually only one of them does the work.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dialogs import store_keys

from .base import Clock, utc_now
from .codec import dumps_value
from .dialect import Database

_LOGGER = logging.getLogger(__name__)
DEFAULT_RETENTION_DAYS = 90
# The key prefixes of expiring items in the state table and in the key-value table
# (the one list is dialogs/store_keys.py).
SIGN_IN_EXCHANGES = store_keys.SIGN_IN_EXCHANGE
CHECK_RUNS = store_keys.CHECK_RUNS
TOKEN_CACHES = store_keys.TOKEN_CACHE
CLAIM_KEY = store_keys.RETENTION_CLAIM


@dataclass(frozen=True)
class Expiry:
    """One kind of row that expires.

    Attributes:
        name: What it is, for the log.
        sql: Deletes at most ``$2`` rows older than ``$1`` (``$3``/``$4``: a key
            range) and returns one row per row deleted.
        prefix: The key prefix, for rows of the state or key-value table.
    """

    name: str
    sql: str
    prefix: str = ""


def _by_key(table: str, name: str, prefix: str) -> Expiry:
    # A key range rather than LIKE: the primary key's index finds it (SQLite compares
    # bytes; PostgreSQL's own collation might not keep a prefix together, so "C").
    return Expiry(name, f"DELETE FROM {table} WHERE key IN (SELECT key FROM {table} "
                        "WHERE key{binary} >= $3 AND key{binary} < $4 AND updated_at < $1 "
                        "LIMIT $2{skip_locked}) RETURNING key", prefix)


EXPIRIES: tuple[Expiry, ...] = (
    Expiry("transcripts", "DELETE FROM transcripts WHERE id IN (SELECT id FROM transcripts "
                          "WHERE at < $1 LIMIT $2{skip_locked}) RETURNING id"),
    Expiry("audit rows", "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log "
                         "WHERE at < $1 LIMIT $2{skip_locked}) RETURNING id"),
    Expiry("closed tickets", "DELETE FROM tickets WHERE id IN (SELECT id FROM tickets "
                             "WHERE status = 'closed' AND closed_at < $1 "
                             "LIMIT $2{skip_locked}) RETURNING id"),
    Expiry("outbox rows given up", "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
                                   "WHERE status <> 'pending' AND created_at < $1 "
                                   "LIMIT $2{skip_locked}) RETURNING id"),
    _by_key("bot_state", "sign-in exchanges", SIGN_IN_EXCHANGES),
    _by_key("bot_state", "check-run counters", CHECK_RUNS),
    _by_key("kv", "token caches", TOKEN_CACHES),
)
_CLAIM = ("INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) "
          "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at "
          "WHERE kv.updated_at < $4 RETURNING key")


def _after(prefix: str) -> str:
    """The first string after every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class Retention:
    """Removes what has outlived the retention period, in bounded batches."""

    def __init__(self, db: Database, days: int = DEFAULT_RETENTION_DAYS, *,
                 clock: Clock = utc_now, batch: int = 500, pause: float = 0.05) -> None:
        """Describe the purge.

        Args:
            db: The store's database.
            days: The retention period (``RETENTION_DAYS``), 1 or more.
            clock: Returns the current UTC time.
            batch: Most rows one statement deletes.
            pause: Seconds between two batches (turns go first meanwhile).
        """
        if days < 1:
            raise ValueError(f"the retention period must be at least one day, got {days}")
        self.db = db
        self.days = days
        self.clock = clock
        self.batch = batch
        self.pause = pause

    async def purge(self) -> dict[str, int]:
        """Delete everything older than the period; return how many rows of each kind went."""
        cutoff = self.db.dialect.time(self.clock() - timedelta(days=self.days))
        removed: dict[str, int] = {}
        for expiry in EXPIRIES:
            params: list[Any] = [cutoff, self.batch]
            if expiry.prefix:
                params += [expiry.prefix, _after(expiry.prefix)]
            total = 0
            while True:
                # A batch may touch many rows: on SQLite's worker thread, off the event loop.
                rows = await self.db.query(expiry.sql, *params, short=False, writes=True)
                total += len(rows)
                if len(rows) < self.batch:
                    break
                await asyncio.sleep(self.pause)
            removed[expiry.name] = total
        return removed

    async def claim(self, every_seconds: float) -> bool:
        """True for the one instance that takes this round (no other took one lately)."""
        now = self.clock()
        dialect = self.db.dialect
        won = await self.db.query(
            _CLAIM, CLAIM_KEY, dumps_value({"pid": os.getpid()}), dialect.time(now),
            dialect.time(now - timedelta(seconds=every_seconds / 2)))
        return bool(won)


class RetentionJob:
    """Runs :meth:`Retention.purge` about every ``every_seconds`` while the bot runs."""

    def __init__(self, retention: Retention, *, every_seconds: float = 3600.0,
                 first_after_seconds: float = 60.0) -> None:
        """Describe the job; ``start`` starts it.

        Args:
            retention: What to run.
            every_seconds: The period between rounds (each drawn ±10 %, so
                instances started together drift apart).
            first_after_seconds: The first round comes after a random part of
                this, not in the middle of the start.
        """
        self.retention = retention
        self.every_seconds = every_seconds
        self.first_after_seconds = first_after_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the rounds in the background (a second call does nothing)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._forever(),
                                                                name="retention")

    async def close(self) -> None:
        """Stop the rounds, cancelling one in progress (the next start finishes its work)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def run_once(self) -> dict[str, int] | None:
        """One round: claim it, purge, log what went; None when another instance had it."""
        if not await self.retention.claim(self.every_seconds):
            return None
        removed = await self.retention.purge()
        if any(removed.values()):
            _LOGGER.info("retention: removed what is older than %d days",
                         self.retention.days, extra={"removed": removed})
        return removed

    async def _forever(self) -> None:
        await asyncio.sleep(random.uniform(0, self.first_after_seconds))  # noqa: S311 - timing
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be down: try again next round
                _LOGGER.warning("retention round failed; trying again in the next one",
                                exc_info=True)
            await asyncio.sleep(self.every_seconds * random.uniform(0.9, 1.1))  # noqa: S311
