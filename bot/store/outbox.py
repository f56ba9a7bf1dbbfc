"""A turn's writes in one transaction, the outbox, and the handoff's decisive moments, on both backends.

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
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from .base import EtagConflict, StoreError, Ticket, TranscriptEntry, conversation_id_of, redact
from .codec import clean_text, dumps_value, loads

if TYPE_CHECKING:
    import asyncpg

    from .postgres import PostgresDatabase
    from .sqlite import SqliteDatabase

OutboxKind = Literal["send", "thread"]
PROBE_KEY = "health/write-probe"


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


def _dump_message(message: OutboxMessage) -> tuple[str, str, str, str, str | None, str | None]:
    return (clean_text(message.lane), message.kind, dumps_value(dict(message.target)),
            dumps_value([dict(a) for a in message.activities]), message.ticket_id,
            None if message.on_fail is None else dumps_value(dict(message.on_fail)))


def _message_of(lane: str, kind: str, target: Any, activities: Any, ticket_id: str | None,
                on_fail: Any) -> OutboxMessage:
    return OutboxMessage(lane=lane, kind="thread" if kind == "thread" else "send",
                         target=loads(target) or {}, activities=loads(activities) or [],
                         ticket_id=ticket_id, on_fail=loads(on_fail))


# ----- SQLite ----------------------------------------------------------------------------------
_OUTBOX_COLUMNS = "id, lane, kind, target, activities, ticket_id, on_fail, attempts, ambiguous, " \
                  "created_at"


class SqliteTurns:
    """Turn writes, the outbox and the handoff transitions on SQLite."""

    def __init__(self, db: SqliteDatabase, clock: Callable[[], datetime]) -> None:
        """Use the shared database and clock."""
        self.db = db
        self.clock = clock

    # -- a turn ----------------------------------------------------------------------------
    async def write_turn(self, key: str, item: Mapping[str, Any], writes: TurnWrites) -> TurnWritten:
        """Write the state item and the turn's rows in one transaction (EtagConflict: none)."""
        from .sqlite import iso, prepare_changes, save_items

        prepared = prepare_changes({key: item})
        now = iso(self.clock())

        def job(raw: sqlite3.Connection) -> TurnWritten:
            save_items(raw, prepared, now)
            lanes: list[str] = []
            lines: list[str] = []
            for line in writes.transcripts:
                lines.append(self._line(raw, line, now, lanes))
            for message in writes.outbox:
                self._insert(raw, message, now)
                lanes.append(message.lane)
            for row in writes.audit:
                self._audit(raw, row, now)
            return TurnWritten(tuple(dict.fromkeys(lanes)), tuple(lines))

        return await self.db.run(job, transaction=True, inline=True)

    def _line(self, raw: sqlite3.Connection, line: TranscriptLine, now: str,
              lanes: list[str]) -> str:
        status = None
        if line.ticket_id is not None:
            found = raw.execute("SELECT status FROM tickets WHERE id = ?",
                                (line.ticket_id,)).fetchone()
            status = found[0] if found else None
        added = raw.execute(
            "INSERT INTO transcripts (ticket_id, conversation_id, direction, sender, text, at, "
            "activity_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (line.ticket_id, clean_text(line.conversation_id), clean_text(line.direction),
             clean_text(line.sender), clean_text(line.text), now,
             None if line.activity_id is None else clean_text(line.activity_id))).fetchall()
        if not added:
            return "duplicate"
        if line.relay is not None and status == "taken":
            self._insert(raw, line.relay, now)
            lanes.append(line.relay.lane)
            return "relayed"
        return "kept"

    @staticmethod
    def _insert(raw: sqlite3.Connection, message: OutboxMessage, now: str) -> None:
        raw.execute(
            "INSERT INTO outbox (lane, kind, target, activities, ticket_id, on_fail, next_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*_dump_message(message), now, now))

    @staticmethod
    def _audit(raw: sqlite3.Connection, row: AuditLine, now: str) -> None:
        raw.execute(
            "INSERT INTO audit_log (at, kind, conversation_id, tenant_id, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (now, clean_text(row.kind),
             None if row.conversation_id is None else clean_text(row.conversation_id),
             None if row.tenant_id is None else clean_text(row.tenant_id),
             dumps_value(redact(dict(row.detail)))))

    # -- the outbox ------------------------------------------------------------------------
    async def enqueue(self, messages: Sequence[OutboxMessage]) -> tuple[str, ...]:
        """Add messages outside a turn (a sweep, a delivery failure notice); return their lanes."""
        from .sqlite import iso

        now = iso(self.clock())

        def job(raw: sqlite3.Connection) -> None:
            for message in messages:
                self._insert(raw, message, now)

        if messages:
            await self.db.run(job, transaction=len(messages) > 1, inline=True)
        return tuple(dict.fromkeys(m.lane for m in messages))

    async def lease(self, lanes: Sequence[str] | None, seconds: float,
                    limit: int = 50) -> list[OutboxRow]:
        """Lease the first pending row of each due lane (``lanes``: only those)."""
        from .sqlite import from_iso, iso

        now_at = self.clock()
        now, until = iso(now_at), iso(now_at + timedelta(seconds=seconds))
        lane_filter = ""
        params: list[Any] = [now, now]
        if lanes is not None:
            if not lanes:
                return []
            lane_filter = f" AND o.lane IN ({','.join('?' * len(lanes))})"
            params += list(lanes)
        params.append(limit)

        def job(raw: sqlite3.Connection) -> list[Any]:
            heads = raw.execute(
                "SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.next_at <= ? "
                "AND (o.lease_until IS NULL OR o.lease_until < ?)" + lane_filter +
                " AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.lane = o.lane "
                "AND p.status = 'pending') ORDER BY o.id LIMIT ?", params).fetchall()
            rows = []
            for (row_id,) in heads:
                rows += raw.execute(
                    f"UPDATE outbox SET lease_until = ? WHERE id = ? RETURNING {_OUTBOX_COLUMNS}",
                    (until, row_id)).fetchall()
            return rows

        rows = await self.db.run(job, transaction=True, inline=True)
        return [OutboxRow(id=int(r[0]), message=_message_of(*r[1:7]), attempts=int(r[7]),
                          ambiguous=int(r[8]), created_at=from_iso(r[9]) or now_at)
                for r in rows]

    async def delivered(self, row_id: int) -> None:
        """Forget a delivered row."""
        await self.db.query("DELETE FROM outbox WHERE id = ?", (row_id,))

    async def retry_later(self, row_id: int, *, delay: float, ambiguous: bool, error: str) -> None:
        """Release a row to be tried again after ``delay`` seconds."""
        from .sqlite import iso

        await self.db.query(
            "UPDATE outbox SET lease_until = NULL, next_at = ?, attempts = attempts + 1, "
            "ambiguous = ambiguous + ?, error = ? WHERE id = ?",
            (iso(self.clock() + timedelta(seconds=delay)), int(ambiguous), error[:500], row_id))

    async def give_up(self, row_id: int, error: str) -> None:
        """Stop trying a row (kept, marked failed, for whoever looks into it)."""
        await self.db.query(
            "UPDATE outbox SET status = 'failed', lease_until = NULL, attempts = attempts + 1, "
            "error = ? WHERE id = ?", (error[:500], row_id))

    async def pending(self) -> int:
        """How many rows still wait for delivery."""
        rows = await self.db.query("SELECT COUNT(*) FROM outbox WHERE status = 'pending'", ())
        return int(rows[0][0])

    # -- the handoff's transitions ---------------------------------------------------------
    async def take_over(self, ticket_id: str, agent_id: str, agent_name: str,
                        compose: Compose, *, from_agent: str | None = None) -> Transition:
        """Give the ticket to an agent (from ``waiting``, or from ``from_agent``) with its messages."""
        from .sqlite import iso
        from .sqlite_records import _TRANSCRIPT_COLUMNS, TICKET_COLUMNS, _entry, _ticket

        now = iso(self.clock())

        def job(raw: sqlite3.Connection) -> Transition:
            if from_agent is None:
                won = raw.execute(
                    "UPDATE tickets SET status = 'taken', agent_id = ?, agent_name = ?, "
                    "taken_at = ?, updated_at = ? WHERE id = ? AND status = 'waiting' "
                    f"RETURNING {TICKET_COLUMNS}",
                    (clean_text(agent_id), clean_text(agent_name), now, now, ticket_id)).fetchall()
            else:
                won = raw.execute(
                    "UPDATE tickets SET agent_id = ?, agent_name = ?, updated_at = ? "
                    "WHERE id = ? AND status = 'taken' AND agent_id = ? "
                    f"RETURNING {TICKET_COLUMNS}",
                    (clean_text(agent_id), clean_text(agent_name), now, ticket_id,
                     from_agent)).fetchall()
            if not won:
                current = raw.execute(f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?",
                                      (ticket_id,)).fetchall()
                return Transition(False, _ticket(current[0]) if current else None)
            ticket = _ticket(won[0])
            waiting = [] if from_agent is not None else [_entry(r) for r in raw.execute(
                f"SELECT {_TRANSCRIPT_COLUMNS} FROM transcripts WHERE ticket_id = ? "
                "AND direction = 'customer' ORDER BY at, id", (ticket_id,)).fetchall()]
            messages = compose(ticket, waiting)
            for message in messages:
                self._insert(raw, message, now)
            return Transition(True, ticket, tuple(dict.fromkeys(m.lane for m in messages)))

        return await self.db.run(job, transaction=True, inline=True)

    async def hand_back(self, ticket_id: str, compose: Compose) -> Transition:
        """Close an open ticket with the messages that say so; ``won`` only for the closer."""
        from .sqlite import iso
        from .sqlite_records import TICKET_COLUMNS, _ticket

        now = iso(self.clock())

        def job(raw: sqlite3.Connection) -> Transition:
            closed = raw.execute(
                "UPDATE tickets SET status = 'closed', closed_at = ?, updated_at = ? "
                f"WHERE id = ? AND status <> 'closed' RETURNING {TICKET_COLUMNS}",
                (now, now, ticket_id)).fetchall()
            if not closed:
                current = raw.execute(f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?",
                                      (ticket_id,)).fetchall()
                return Transition(False, _ticket(current[0]) if current else None)
            ticket = _ticket(closed[0])
            messages = compose(ticket, [])
            for message in messages:
                self._insert(raw, message, now)
            return Transition(True, ticket, tuple(dict.fromkeys(m.lane for m in messages)))

        return await self.db.run(job, transaction=True, inline=True)

    # -- health ----------------------------------------------------------------------------
    async def probe_write(self) -> None:
        """Write one small row, as a turn would; raise when the store cannot take writes."""
        from .sqlite import iso

        self.db.check_file()
        await self.db.query(
            "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) "
            "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (PROBE_KEY, dumps_value({"pid": os.getpid()}), iso(self.clock())))


# ----- PostgreSQL ------------------------------------------------------------------------------
def _pg_row(row: asyncpg.Record) -> OutboxRow:
    from .postgres_records import as_utc

    return OutboxRow(id=int(row["id"]), message=_message_of(
        row["lane"], row["kind"], row["target"], row["activities"], row["ticket_id"],
        row["on_fail"]), attempts=int(row["attempts"]), ambiguous=int(row["ambiguous"]),
        created_at=as_utc(row["created_at"]))


class PostgresTurns:
    """Turn writes, the outbox and the handoff transitions on PostgreSQL."""

    def __init__(self, db: PostgresDatabase, clock: Callable[[], datetime]) -> None:
        """Use the shared pool and clock."""
        self.db = db
        self.clock = clock

    def _now(self) -> datetime:
        from .postgres_records import as_utc

        return as_utc(self.clock())

    async def write_turn(self, key: str, item: Mapping[str, Any], writes: TurnWrites) -> TurnWritten:
        """Write the state item and the turn's rows in one transaction (EtagConflict: none)."""
        from datetime import UTC

        from .postgres import save_items
        from .sqlite import prepare_changes

        prepared = prepare_changes({key: item})
        now = self._now()
        lanes: list[str] = []
        lines: list[str] = []
        async with self.db.transaction() as conn:
            await save_items(conn, prepared, datetime.now(UTC))
            for line in writes.transcripts:
                lines.append(await self._line(conn, line, now, lanes))
            for message in writes.outbox:
                await self._insert(conn, message, now)
                lanes.append(message.lane)
            for row in writes.audit:
                await conn.execute(
                    "INSERT INTO audit_log (at, kind, conversation_id, tenant_id, detail) "
                    "VALUES ($1, $2, $3, $4, $5::jsonb)",
                    now, clean_text(row.kind),
                    None if row.conversation_id is None else clean_text(row.conversation_id),
                    None if row.tenant_id is None else clean_text(row.tenant_id),
                    dumps_value(redact(dict(row.detail))))
        return TurnWritten(tuple(dict.fromkeys(lanes)), tuple(lines))

    async def _line(self, conn: asyncpg.Connection, line: TranscriptLine, now: datetime,
                    lanes: list[str]) -> str:
        status = None
        if line.ticket_id is not None:
            # FOR SHARE: a take over's UPDATE of this ticket waits until this turn commits,
            # and this read waits for a take over in progress, so the line lands on one side.
            status = await conn.fetchval(
                "SELECT status FROM tickets WHERE id = $1 FOR SHARE", line.ticket_id)
        added = await conn.fetchval(
            "INSERT INTO transcripts (ticket_id, conversation_id, direction, sender, text, at, "
            "activity_id) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING "
            "RETURNING id",
            line.ticket_id, clean_text(line.conversation_id), clean_text(line.direction),
            clean_text(line.sender), clean_text(line.text), now,
            None if line.activity_id is None else clean_text(line.activity_id))
        if added is None:
            return "duplicate"
        if line.relay is not None and status == "taken":
            await self._insert(conn, line.relay, now)
            lanes.append(line.relay.lane)
            return "relayed"
        return "kept"

    @staticmethod
    async def _insert(conn: asyncpg.Connection, message: OutboxMessage, now: datetime) -> None:
        lane, kind, target, activities, ticket_id, on_fail = _dump_message(message)
        await conn.execute(
            "INSERT INTO outbox (lane, kind, target, activities, ticket_id, on_fail, next_at, "
            "created_at) VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6::jsonb, $7, $7)",
            lane, kind, target, activities, ticket_id, on_fail, now)

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> tuple[str, ...]:
        """Add messages outside a turn; return their lanes."""
        if messages:
            now = self._now()
            async with self.db.transaction() as conn:
                for message in messages:
                    await self._insert(conn, message, now)
        return tuple(dict.fromkeys(m.lane for m in messages))

    async def lease(self, lanes: Sequence[str] | None, seconds: float,
                    limit: int = 50) -> list[OutboxRow]:
        """Lease the first pending row of each due lane (``lanes``: only those)."""
        if lanes is not None and not lanes:
            return []
        now = self._now()
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "UPDATE outbox SET lease_until = $1 WHERE id IN ("
                " SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.next_at <= $2"
                " AND (o.lease_until IS NULL OR o.lease_until < $2)"
                " AND ($3::text[] IS NULL OR o.lane = ANY($3::text[]))"
                " AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.lane = o.lane"
                " AND p.status = 'pending') ORDER BY o.id LIMIT $4 FOR UPDATE SKIP LOCKED)"
                " AND (lease_until IS NULL OR lease_until < $2) RETURNING *",
                now + timedelta(seconds=seconds), now,
                None if lanes is None else list(lanes), limit)
        return sorted((_pg_row(r) for r in rows), key=lambda r: r.id)

    async def delivered(self, row_id: int) -> None:
        """Forget a delivered row."""
        async with self.db.connection() as conn:
            await conn.execute("DELETE FROM outbox WHERE id = $1", row_id)

    async def retry_later(self, row_id: int, *, delay: float, ambiguous: bool, error: str) -> None:
        """Release a row to be tried again after ``delay`` seconds."""
        async with self.db.connection() as conn:
            await conn.execute(
                "UPDATE outbox SET lease_until = NULL, next_at = $2, attempts = attempts + 1, "
                "ambiguous = ambiguous + $3, error = $4 WHERE id = $1",
                row_id, self._now() + timedelta(seconds=delay), int(ambiguous), error[:500])

    async def give_up(self, row_id: int, error: str) -> None:
        """Stop trying a row (kept, marked failed)."""
        async with self.db.connection() as conn:
            await conn.execute(
                "UPDATE outbox SET status = 'failed', lease_until = NULL, "
                "attempts = attempts + 1, error = $2 WHERE id = $1", row_id, error[:500])

    async def pending(self) -> int:
        """How many rows still wait for delivery."""
        async with self.db.connection() as conn:
            return int(await conn.fetchval(
                "SELECT COUNT(*) FROM outbox WHERE status = 'pending'"))

    async def take_over(self, ticket_id: str, agent_id: str, agent_name: str,
                        compose: Compose, *, from_agent: str | None = None) -> Transition:
        """Give the ticket to an agent (from ``waiting``, or from ``from_agent``) with its messages."""
        from .postgres_records import _entry, _ticket
        from .sqlite_records import TICKET_COLUMNS

        now = self._now()
        async with self.db.transaction() as conn:
            if from_agent is None:
                row = await conn.fetchrow(
                    "UPDATE tickets SET status = 'taken', agent_id = $2, agent_name = $3, "
                    "taken_at = $4, updated_at = $4 WHERE id = $1 AND status = 'waiting' "
                    f"RETURNING {TICKET_COLUMNS}",
                    ticket_id, clean_text(agent_id), clean_text(agent_name), now)
            else:
                row = await conn.fetchrow(
                    "UPDATE tickets SET agent_id = $2, agent_name = $3, updated_at = $4 "
                    "WHERE id = $1 AND status = 'taken' AND agent_id = $5 "
                    f"RETURNING {TICKET_COLUMNS}",
                    ticket_id, clean_text(agent_id), clean_text(agent_name), now, from_agent)
            if row is None:
                current = await conn.fetchrow(
                    f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1", ticket_id)
                return Transition(False, _ticket(current) if current is not None else None)
            ticket = _ticket(row)
            waiting = [] if from_agent is not None else [_entry(r) for r in await conn.fetch(
                "SELECT id, conversation_id, direction, sender, text, at, activity_id, ticket_id "
                "FROM transcripts WHERE ticket_id = $1 AND direction = 'customer' "
                "ORDER BY at, id", ticket_id)]
            messages = compose(ticket, waiting)
            for message in messages:
                await self._insert(conn, message, now)
        return Transition(True, ticket, tuple(dict.fromkeys(m.lane for m in messages)))

    async def hand_back(self, ticket_id: str, compose: Compose) -> Transition:
        """Close an open ticket with the messages that say so; ``won`` only for the closer."""
        from .postgres_records import _ticket
        from .sqlite_records import TICKET_COLUMNS

        now = self._now()
        async with self.db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE tickets SET status = 'closed', closed_at = $2, updated_at = $2 "
                f"WHERE id = $1 AND status <> 'closed' RETURNING {TICKET_COLUMNS}",
                ticket_id, now)
            if row is None:
                current = await conn.fetchrow(
                    f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1", ticket_id)
                return Transition(False, _ticket(current) if current is not None else None)
            ticket = _ticket(row)
            messages = compose(ticket, [])
            for message in messages:
                await self._insert(conn, message, now)
        return Transition(True, ticket, tuple(dict.fromkeys(m.lane for m in messages)))

    async def probe_write(self) -> None:
        """Write one small row, as a turn would; raise when the database cannot take writes."""
        pool = await self.db.pool()
        async with pool.acquire(timeout=2) as conn:
            await conn.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2::jsonb, $3) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                "updated_at = EXCLUDED.updated_at",
                PROBE_KEY, dumps_value({"pid": os.getpid()}), self._now(), timeout=2)


__all__ = [
    "AuditLine", "Compose", "EtagConflict", "OutboxMessage", "OutboxRow", "PostgresTurns",
    "SqliteTurns", "StoreError", "TranscriptLine", "Transition", "TurnWrites", "TurnWritten",
    "conversation_id_of",
]
