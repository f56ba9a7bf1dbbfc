"""A turn's writes in one transaction, the outbox, and the handoff's decisive moments.

Three things must be all-or-nothing with each other:

* **A turn**: the conversation's state (flow snapshot, processed activity ids)
  together with what the turn must make happen — outbox messages (a relay, a
  ticket card), transcript lines of a handoff, audit rows. Written by
  :meth:`write_turn` in one transaction, or not at all (an e-tag conflict
  rolls everything back and the turn is recomputed).
* **The outbox**: messages that must reach a person are rows, delivered after
  the commit by whichever instance leases them, in id order per *lane* (the
  conversation they go to), retried until delivered or given up. A kill -9
  between storing and delivering loses nothing: the row is still there.
* **Take over, take from, hand back**: the ticket's change and the messages it
  causes ("agent joined", what the customer wrote while waiting, the hand
  back) commit together. A customer's message during a handoff reads the
  ticket's status inside its own transaction (SQLite: the single writer;
  PostgreSQL: ``FOR SHARE`` on the ticket row, which a take over's ``UPDATE``
  waits for), so each message is either in the "while waiting" summary or
  relayed live after it, never both, never neither.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from dialogs import store_keys

from .base import Clock, EtagConflict, StoreError, Ticket, TranscriptEntry, conversation_id_of
from .codec import dumps_value, loads, storable_text
from .dialect import Database, Dialect, Row, Tx
from .records import (
    CLAIM_TICKET,
    CLOSE_TICKET,
    INSERT_AUDIT,
    INSERT_TRANSCRIPT,
    TICKET_BY_ID,
    TICKET_COLUMNS,
    TRANSCRIPT_COLUMNS,
    UPSERT_KV,
    audit_params,
    entry_of,
    optional_text,
    ticket_of,
)
from .state import prepare_changes, save_items

OutboxKind = Literal["send", "thread"]
PROBE_KEY = store_keys.HEALTH_PROBE


@dataclass(frozen=True)
class OutboxMessage:
    """One message that must arrive.

    Attributes:
        lane: The conversation it goes to (messages of one lane arrive in order).
        kind: ``send`` to a conversation reference; ``thread`` opens a new thread in
            the support channel (``target`` is the channel's reference).
        target: The conversation reference (JSON).
        activities: The activities to send (JSON), in order.
        ticket_id: The handoff ticket it belongs to, if any.
        on_fail: ``{"target": ref, "activities": [...]}`` sent when it is given up.
    """

    lane: str
    kind: OutboxKind
    target: Mapping[str, Any]
    activities: Sequence[Mapping[str, Any]]
    ticket_id: str | None = None
    on_fail: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class OutboxRow:
    """An outbox message as stored, leased to the caller for delivery."""

    id: int
    message: OutboxMessage
    attempts: int
    ambiguous: int
    created_at: datetime


@dataclass(frozen=True)
class TranscriptLine:
    """A message of a conversation with an open handoff ticket, kept for the agent.

    Attributes:
        relay: Sent (through the outbox) only when the line is new and the ticket
            is ``taken`` when the turn commits; while it waits, the line goes into
            the summary the agent gets on taking it over.
    """

    conversation_id: str
    direction: str
    text: str
    sender: str = ""
    activity_id: str | None = None
    ticket_id: str | None = None
    relay: OutboxMessage | None = None


@dataclass(frozen=True)
class AuditLine:
    """An audit-log row written with the turn."""

    kind: str
    conversation_id: str | None = None
    tenant_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class TurnWrites:
    """Rows a turn writes together with its state."""

    outbox: list[OutboxMessage] = field(default_factory=list)
    transcripts: list[TranscriptLine] = field(default_factory=list)
    audit: list[AuditLine] = field(default_factory=list)

    def __bool__(self) -> bool:
        """True when there is anything beyond the state to write."""
        return bool(self.outbox or self.transcripts or self.audit)


@dataclass(frozen=True)
class TurnWritten:
    """What a turn's commit did.

    Attributes:
        lanes: The lanes that got new outbox rows (to deliver now).
        lines: Per transcript line: ``"relayed"``, ``"kept"`` (recorded, not
            relayed: the ticket waits or has ended) or ``"duplicate"``.
    """

    lanes: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()


# compose(ticket after the change, what the customer wrote while it waited) -> messages
Compose = Callable[[Ticket, list[TranscriptEntry]], list[OutboxMessage]]


@dataclass(frozen=True)
class Transition:
    """The outcome of a take over, take from or hand back."""

    won: bool
    ticket: Ticket | None
    lanes: tuple[str, ...] = ()


# ----- the SQL, once for both databases ------------------------------------------------------
_OUTBOX_COLUMNS = ("id, lane, kind, target, activities, ticket_id, on_fail, attempts, ambiguous, "
                   "created_at")
_INSERT_OUTBOX = ("INSERT INTO outbox (lane, kind, target, activities, ticket_id, on_fail, "
                  "next_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
# FOR SHARE (PostgreSQL): a take over's UPDATE of this ticket waits until the turn reading
# it commits, and this read waits for a take over in progress, so a customer's line lands
# on one side of it. SQLite's write transaction holds the whole database already.
_TICKET_STATUS = "SELECT status FROM tickets WHERE id = $1{for_share}"
_TAKE_FROM = ("UPDATE tickets SET agent_id = $2, agent_name = $3, updated_at = $4 "
              f"WHERE id = $1 AND status = 'taken' AND agent_id = $5 RETURNING {TICKET_COLUMNS}")
_WAITING_LINES = (f"SELECT {TRANSCRIPT_COLUMNS} FROM transcripts WHERE ticket_id = $1 "
                  "AND direction = 'customer' ORDER BY at, id")


def _insert_params(message: OutboxMessage, now: Any) -> tuple[Any, ...]:
    return (storable_text(message.lane), message.kind, dumps_value(dict(message.target)),
            dumps_value([dict(a) for a in message.activities]), message.ticket_id,
            None if message.on_fail is None else dumps_value(dict(message.on_fail)), now)


def _outbox_row(row: Row, dialect: Dialect) -> OutboxRow:
    row_id, lane, kind, target, activities, ticket_id, on_fail, attempts, ambiguous, created = row
    return OutboxRow(id=int(row_id), message=OutboxMessage(
        lane=lane, kind="thread" if kind == "thread" else "send", target=loads(target) or {},
        activities=loads(activities) or [], ticket_id=ticket_id, on_fail=loads(on_fail)),
        attempts=int(attempts), ambiguous=int(ambiguous), created_at=dialect.read_time(created))


def _lanes(messages: Sequence[OutboxMessage]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.lane for m in messages))


class Turns:
    """Turn writes, the outbox and the handoff transitions (``Store.turns``)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        """Use the shared database and clock."""
        self.db = db
        self.clock = clock

    # -- a turn ----------------------------------------------------------------------------
    async def write_turn(self, key: str, item: Mapping[str, Any],
                         writes: TurnWrites) -> TurnWritten:
        """Write the state item and the turn's rows in one transaction (EtagConflict: none)."""
        prepared = prepare_changes({key: item})
        clock_now = self.clock()

        async def write(tx: Tx) -> TurnWritten:
            now = tx.dialect.time(clock_now)
            await save_items(tx, prepared, clock_now)
            lanes: list[str] = []
            lines = [await self._line(tx, line, now, lanes) for line in writes.transcripts]
            for message in writes.outbox:
                await tx.execute(_INSERT_OUTBOX, *_insert_params(message, now))
                lanes.append(message.lane)
            for row in writes.audit:
                await tx.execute(INSERT_AUDIT, *audit_params(
                    tx.dialect, clock_now, row.kind, row.conversation_id, row.tenant_id,
                    row.detail))
            return TurnWritten(tuple(dict.fromkeys(lanes)), tuple(lines))

        return await self.db.run(write, transaction=True)

    @staticmethod
    async def _line(tx: Tx, line: TranscriptLine, now: Any, lanes: list[str]) -> str:
        status = None
        if line.ticket_id is not None:
            status = await tx.fetchval(_TICKET_STATUS, line.ticket_id)
        added = await tx.fetchrow(
            INSERT_TRANSCRIPT, line.ticket_id, storable_text(line.conversation_id),
            storable_text(line.direction), storable_text(line.sender),
            storable_text(line.text), now, optional_text(line.activity_id))
        if added is None:
            return "duplicate"
        if line.relay is not None and status == "taken":
            await tx.execute(_INSERT_OUTBOX, *_insert_params(line.relay, now))
            lanes.append(line.relay.lane)
            return "relayed"
        return "kept"

    # -- the outbox ------------------------------------------------------------------------
    async def enqueue(self, messages: Sequence[OutboxMessage]) -> tuple[str, ...]:
        """Add messages outside a turn (a sweep, a delivery failure notice); return their lanes."""
        if messages:
            now = self.db.dialect.time(self.clock())

            async def insert(tx: Tx) -> None:
                for message in messages:
                    await tx.execute(_INSERT_OUTBOX, *_insert_params(message, now))

            await self.db.run(insert, transaction=len(messages) > 1)
        return _lanes(messages)

    async def lease(self, lanes: Sequence[str] | None, seconds: float,
                    limit: int = 50) -> list[OutboxRow]:
        """Lease the first pending row of each due lane (``lanes``: only those).

        One statement: the instance whose UPDATE takes a row has it until the
        lease runs out (PostgreSQL skips rows another instance is taking at
        that moment; SQLite's writer does one at a time).
        """
        if lanes is not None and not lanes:
            return []
        now_at = self.clock()
        dialect = self.db.dialect
        lane_filter = "" if lanes is None else f" AND {dialect.in_array('o.lane', '$4')}"
        params: list[Any] = [dialect.time(now_at + timedelta(seconds=seconds)),
                             dialect.time(now_at), limit]
        if lanes is not None:
            params.append(dialect.array(lanes))
        rows = await self.db.query(
            "UPDATE outbox SET lease_until = $1 WHERE id IN ("
            " SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.next_at <= $2"
            f" AND (o.lease_until IS NULL OR o.lease_until < $2){lane_filter}"
            " AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.lane = o.lane"
            " AND p.status = 'pending') ORDER BY o.id LIMIT $3{skip_locked})"
            f" AND (lease_until IS NULL OR lease_until < $2) RETURNING {_OUTBOX_COLUMNS}",
            *params)
        return sorted((_outbox_row(r, dialect) for r in rows), key=lambda r: r.id)

    async def delivered(self, row_id: int) -> None:
        """Forget a delivered row."""
        await self.db.query("DELETE FROM outbox WHERE id = $1", row_id)

    async def retry_later(self, row_id: int, *, delay: float, ambiguous: bool, error: str) -> None:
        """Release a row to be tried again after ``delay`` seconds."""
        await self.db.query(
            "UPDATE outbox SET lease_until = NULL, next_at = $2, attempts = attempts + 1, "
            "ambiguous = ambiguous + $3, error = $4 WHERE id = $1",
            row_id, self.db.dialect.time(self.clock() + timedelta(seconds=delay)),
            int(ambiguous), error[:500])

    async def give_up(self, row_id: int, error: str) -> None:
        """Stop trying a row (kept, marked failed, for whoever looks into it)."""
        await self.db.query(
            "UPDATE outbox SET status = 'failed', lease_until = NULL, attempts = attempts + 1, "
            "error = $2 WHERE id = $1", row_id, error[:500])

    async def pending(self) -> int:
        """How many rows still wait for delivery."""
        rows = await self.db.query("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
        return int(rows[0][0])

    # -- the handoff's transitions ---------------------------------------------------------
    async def take_over(self, ticket_id: str, agent_id: str, agent_name: str,
                        compose: Compose, *, from_agent: str | None = None) -> Transition:
        """Give the ticket to an agent (from ``waiting``, or from ``from_agent``), with
        the messages that say so, in one transaction."""
        clock_now = self.clock()

        async def take(tx: Tx) -> Transition:
            now = tx.dialect.time(clock_now)
            if from_agent is None:
                won = await tx.fetchrow(CLAIM_TICKET, ticket_id, storable_text(agent_id),
                                        storable_text(agent_name), now)
            else:
                won = await tx.fetchrow(_TAKE_FROM, ticket_id, storable_text(agent_id),
                                        storable_text(agent_name), now, from_agent)
            if won is None:
                return await self._lost(tx, ticket_id)
            ticket = ticket_of(won, tx.dialect)
            waiting = [] if from_agent is not None else [
                entry_of(r, tx.dialect) for r in await tx.fetch(_WAITING_LINES, ticket_id)]
            return await self._won(tx, ticket, compose(ticket, waiting), now)

        return await self.db.run(take, transaction=True)

    async def hand_back(self, ticket_id: str, compose: Compose) -> Transition:
        """Close an open ticket with the messages that say so; ``won`` only for the closer."""
        clock_now = self.clock()

        async def close(tx: Tx) -> Transition:
            now = tx.dialect.time(clock_now)
            closed = await tx.fetchrow(CLOSE_TICKET, ticket_id, now)
            if closed is None:
                return await self._lost(tx, ticket_id)
            ticket = ticket_of(closed, tx.dialect)
            return await self._won(tx, ticket, compose(ticket, []), now)

        return await self.db.run(close, transaction=True)

    @staticmethod
    async def _lost(tx: Tx, ticket_id: str) -> Transition:
        current = await tx.fetchrow(TICKET_BY_ID, ticket_id)
        return Transition(False, None if current is None else ticket_of(current, tx.dialect))

    @staticmethod
    async def _won(tx: Tx, ticket: Ticket, messages: list[OutboxMessage], now: Any) -> Transition:
        for message in messages:
            await tx.execute(_INSERT_OUTBOX, *_insert_params(message, now))
        return Transition(True, ticket, _lanes(messages))

    # -- health ----------------------------------------------------------------------------
    async def probe_write(self) -> None:
        """Write one small row, as a turn would; raise when the store cannot take writes."""
        self.db.check_file()
        await self.db.query(UPSERT_KV, PROBE_KEY, dumps_value({"pid": os.getpid()}),
                            self.db.dialect.time(self.clock()))


__all__ = [
    "AuditLine",
    "Compose",
    "EtagConflict",
    "OutboxMessage",
    "OutboxRow",
    "StoreError",
    "TranscriptLine",
    "Transition",
    "TurnWrites",
    "TurnWritten",
    "Turns",
    "conversation_id_of",
]
