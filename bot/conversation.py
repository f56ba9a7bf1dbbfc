"""Per-conversation state around a turn: read once, decide, write once — or answer 503.

The stored record is small plain JSON: the flow snapshot, whether the
conversation was greeted, the serialized conversation reference (for
proactive messages: live-check results, the handoff relay), the live checks'
own part, and three things that keep a customer's turn to one read and one
write:

* ``seen``: the last activity ids this conversation processed (bounded, with
  expiry), so an activity Teams delivers again has no second effect, on any
  instance;
* ``handoff``: the open handoff ticket or the pending feedback, so a
  conversation without one never asks the tickets table;
* ``recent``: the customer's last few messages, which a ticket card shows the
  agent (kept here, not in a transcript of every message).

Writes carry the e-tag read at the start of the turn, together with the
turn's outbox, transcript and audit rows in one transaction. When another
instance changed the conversation meanwhile the turn is recomputed on fresh
state, after a jittered pause, until the turn's deadline; a turn that cannot
be stored raises :class:`TurnNotStored` and is answered 503, so Teams delivers
it again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from botbuilder.core import Storage

from bot import budget
from bot.adapter import conversation_reference
from bot.store.base import EtagConflict, StoreError, StoreUnavailable, is_store_failure
from bot.store.outbox import TurnWrites, TurnWritten
from bot.wire import to_json
from dialogs import store_keys
from dialogs.engine import TurnResult

_LOGGER = logging.getLogger(__name__)
# Outside a turn (no deadline): how long to keep retrying a conflicted write.
UNTIMED_RETRY_SECONDS = 10.0
FIRST_PAUSE_SECONDS = 0.005
MAX_PAUSE_SECONDS = 0.25
SEEN_KEEP = 24                 # activity ids remembered per conversation
SEEN_TTL_SECONDS = 24 * 3600   # Teams redelivers within minutes; a day is plenty


class TurnNotStored(StoreError):
    """A turn's state could not be stored before its deadline: answer 503 so Teams retries."""


def reference_of(activity: Any) -> dict[str, Any]:
    """Return the serialized conversation reference of an incoming activity.

    The JSON of ``TurnContext.get_conversation_reference(activity)``; serialized
    at once, so it needs none of the copies of the activity's parts that the
    SDK makes for a reference kept as an object.
    """
    reference = conversation_reference(activity, copy_parts=False)
    return to_json(reference)  # == reference.serialize(), without msrest's per-call cost


@dataclass
class ConversationRecord:
    """What is stored for one conversation."""

    snapshot: dict[str, Any] | None
    welcomed: bool
    reference: dict[str, Any] | None
    extra: dict[str, Any]
    seen: list[list[Any]] = field(default_factory=list)
    handoff: dict[str, Any] | None = None
    recent: list[dict[str, Any]] = field(default_factory=list)

    def has_seen(self, activity_id: str | None, now: float | None = None) -> bool:
        """True when this activity was already processed here (recently enough to remember)."""
        if not activity_id:
            return False
        now = time.time() if now is None else now
        # A loop rather than any() over a generator: half the time for the usual 20 entries.
        for entry in self.seen:
            if entry[0] == activity_id and now - float(entry[1]) < SEEN_TTL_SECONDS:
                return True
        return False

    def mark_seen(self, activity_id: str | None, now: float | None = None) -> None:
        """Remember an activity id (the oldest and the expired ones go)."""
        if not activity_id:
            return
        now = time.time() if now is None else now
        kept = [e for e in self.seen if now - float(e[1]) < SEEN_TTL_SECONDS
                and e[0] != activity_id]
        kept.append([activity_id, round(now)])
        self.seen = kept[-SEEN_KEEP:]


def conversation_key(channel_id: str, conversation_id: str) -> str:
    """Return the storage key of a conversation (channel-scoped so ids cannot collide)."""
    return store_keys.conversation(channel_id, conversation_id)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class ConversationStateStore:
    """Reads and writes conversation records with optimistic concurrency."""

    def __init__(self, storage: Storage, turns: Any = None) -> None:
        """Wrap a botbuilder ``Storage`` that enforces e-tags.

        Args:
            storage: The state storage.
            turns: The store's turn writer (``Store.turns``), for writes that carry
                outbox, transcript or audit rows; without it only the state is written.
        """
        self.storage = storage
        self.turns = turns

    async def load(self, key: str) -> tuple[ConversationRecord, str | None]:
        """Return the record for ``key`` (empty when new) and its e-tag.

        Raises:
            StoreUnavailable: the store cannot be read.
        """
        try:
            items = await self.storage.read([key])
        except Exception as error:
            if is_store_failure(error) or isinstance(error, TimeoutError):
                raise StoreUnavailable(f"cannot read {key}: {error}") from error
            raise
        raw = items.get(key)
        if not isinstance(raw, dict):
            return ConversationRecord(None, False, None, {}), None
        etag = raw.get("e_tag")
        snapshot = raw.get("snapshot")
        handoff = raw.get("handoff")
        extra = raw.get("extra")
        return (
            ConversationRecord(
                snapshot=snapshot if isinstance(snapshot, dict) else None,
                welcomed=bool(raw.get("welcomed")),
                reference=raw.get("ref") if isinstance(raw.get("ref"), dict) else None,
                extra=extra if isinstance(extra, dict) else {},
                seen=[e for e in _listed(raw.get("seen"))
                      if isinstance(e, list) and len(e) == 2 and isinstance(e[0], str)
                      and isinstance(e[1], (int, float))],
                handoff=handoff if isinstance(handoff, dict) else None,
                recent=[m for m in _listed(raw.get("recent")) if isinstance(m, dict)],
            ),
            str(etag) if etag is not None else None,
        )

    async def save(self, key: str, record: ConversationRecord, etag: str | None,
                   writes: TurnWrites | None = None) -> TurnWritten:
        """Write ``record`` (and the turn's rows, in the same transaction).

        Raises:
            EtagConflict: someone else wrote since ``etag``; nothing was written.
            StoreUnavailable: the store cannot take the write.
        """
        item: dict[str, Any] = {
            "snapshot": record.snapshot,
            "welcomed": record.welcomed,
            "ref": record.reference,
            "extra": record.extra,
        }
        # Only what is there: most conversations never need these, and every byte is
        # read and written on every turn.
        if record.seen:
            item["seen"] = record.seen
        if record.handoff:
            item["handoff"] = record.handoff
        if record.recent:
            item["recent"] = record.recent
        # A new conversation must not overwrite one created concurrently: "new" is
        # expressed by the store as an e-tag that cannot match an existing row.
        item["e_tag"] = etag if etag is not None else "new"
        if writes and self.turns is None:
            raise StoreError("this conversation store has no turn writer for the turn's rows")
        try:
            if writes and self.turns is not None:
                return await self.turns.write_turn(key, item, writes)
            await self.storage.write({key: item})
            return TurnWritten()
        except EtagConflict:
            raise
        except Exception as error:
            if is_store_failure(error) or isinstance(error, TimeoutError):
                raise StoreUnavailable(f"cannot write {key}: {error}") from error
            raise

    async def run_turn(
        self,
        key: str,
        step: Callable[[ConversationRecord], TurnResult | None],
        reference: dict[str, Any] | None,
    ) -> TurnResult | None:
        """Run ``step`` on the current record and store the outcome, retrying on conflicts.

        Args:
            key: the conversation's storage key.
            step: pure function from the record to the turn's result (may mutate
                ``record.welcomed``/``record.extra``); None means nothing to store.
            reference: the conversation reference to remember for proactive messages.

        Returns:
            The result of the attempt that was stored.
        """
        async def attempt(record: ConversationRecord) -> tuple[TurnResult | None, None]:
            result = step(record)
            if result is not None:
                record.snapshot = result.snapshot
            if reference is not None:
                record.reference = reference
            return result, None

        result, _, _ = await self.transact(key, attempt)
        return result

    async def transact(
        self,
        key: str,
        attempt: Callable[[ConversationRecord], Awaitable[tuple[Any, TurnWrites | None]]],
    ) -> tuple[Any, ConversationRecord, TurnWritten]:
        """Load, decide and store, again on fresh state after a conflict, until the deadline.

        Args:
            key: the conversation's storage key.
            attempt: changes the record it is given and returns ``(outcome, rows)``;
                it may run more than once, so it must not send anything itself.

        Returns:
            The stored attempt's outcome, the record as stored and what the commit did.

        Raises:
            TurnNotStored: conflicts went on past the turn's deadline.
            StoreUnavailable: the store cannot be read or written.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + budget.remaining(UNTIMED_RETRY_SECONDS)
        pause = FIRST_PAUSE_SECONDS
        tries = 0
        while True:
            tries += 1
            record, etag = await self.load(key)
            outcome, writes = await attempt(record)
            try:
                written = await self.save(key, record, etag, writes)
                return outcome, record, written
            except EtagConflict:
                _LOGGER.info("state conflict, recomputing turn",
                             extra={"conversation_key": key, "attempt": tries})
            # Jittered: two instances that collided must not collide again in step.
            wait = random.uniform(0, pause)  # noqa: S311 - jitter, not a secret
            if loop.time() + wait >= give_up:
                raise TurnNotStored(
                    f"conversation {key} kept changing; not stored after {tries} tries")
            await asyncio.sleep(wait)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)
