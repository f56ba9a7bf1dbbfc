"""Per-conversation state around a turn: read once, run the engine, write once.

The stored record is small plain JSON: the flow snapshot, whether the
conversation was greeted, and the serialized conversation reference (needed
for proactive messages: live-check results and the human handoff relay).
Writes carry the e-tag read at the start of the turn; when another instance
changed the conversation meanwhile, the turn is recomputed on fresh state
instead of overwriting it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import Storage

from bot.store.base import EtagConflict
from dialogs.engine import TurnResult

_LOGGER = logging.getLogger(__name__)
MAX_ATTEMPTS = 4


@dataclass
class ConversationRecord:
    """What is stored for one conversation."""

    snapshot: dict[str, Any] | None
    welcomed: bool
    reference: dict[str, Any] | None
    extra: dict[str, Any]


def conversation_key(channel_id: str, conversation_id: str) -> str:
    """Return the storage key of a conversation (channel-scoped so ids cannot collide)."""
    return f"conv/{channel_id}/{conversation_id}"


class ConversationStateStore:
    """Reads and writes conversation records with optimistic concurrency."""

    def __init__(self, storage: Storage) -> None:
        """Wrap a botbuilder ``Storage`` that enforces e-tags."""
        self.storage = storage

    async def load(self, key: str) -> tuple[ConversationRecord, str | None]:
        """Return the record for ``key`` (empty when new) and its e-tag."""
        items = await self.storage.read([key])
        raw = items.get(key)
        if not isinstance(raw, dict):
            return ConversationRecord(None, False, None, {}), None
        etag = raw.get("e_tag")
        snapshot = raw.get("snapshot")
        return (
            ConversationRecord(
                snapshot=snapshot if isinstance(snapshot, dict) else None,
                welcomed=bool(raw.get("welcomed")),
                reference=raw.get("ref") if isinstance(raw.get("ref"), dict) else None,
                extra=raw.get("extra") if isinstance(raw.get("extra"), dict) else {},
            ),
            str(etag) if etag is not None else None,
        )

    async def save(self, key: str, record: ConversationRecord, etag: str | None) -> None:
        """Write ``record``; raises EtagConflict when someone else wrote since ``etag``."""
        item: dict[str, Any] = {
            "snapshot": record.snapshot,
            "welcomed": record.welcomed,
            "ref": record.reference,
            "extra": record.extra,
        }
        # A new conversation must not overwrite one created concurrently: "new" is
        # expressed by the store as an e-tag that cannot match an existing row.
        item["e_tag"] = etag if etag is not None else "new"
        await self.storage.write({key: item})

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
        for attempt in range(1, MAX_ATTEMPTS + 1):
            record, etag = await self.load(key)
            result = step(record)
            if result is not None:
                record.snapshot = result.snapshot
            if reference is not None:
                record.reference = reference
            try:
                await self.save(key, record, etag)
                return result
            except EtagConflict:
                _LOGGER.info("state conflict, recomputing turn",
                             extra={"conversation_key": key, "attempt": attempt})
        raise EtagConflict(f"conversation {key} kept changing; gave up after {MAX_ATTEMPTS} tries")
