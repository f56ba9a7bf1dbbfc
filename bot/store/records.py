"""The bot's own records: handoff tickets, transcripts, the audit log, settings.

Written once for both databases (``bot.store.dialect``). Each state change that
must be decided once — claiming a ticket, closing it, recording a relayed
activity — is a single conditional statement (``UPDATE … WHERE status =
'waiting' RETURNING``, ``INSERT … ON CONFLICT DO NOTHING RETURNING``), so the
answer is the same whichever process or coroutine asks first, and no explicit
lock is needed. They share the database with the state storage.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from .base import (
    UNSET,
    AuditEvent,
    ClaimResult,
    Clock,
    StoreError,
    Ticket,
    TicketStatus,
    TranscriptEntry,
    check_detail_field,
    check_rating,
    check_status,
    conversation_id_of,
    redact,
    utc_now,
)
from .codec import dumps_value, loads, storable_text
from .dialect import Database, Dialect, Row, Tx

TICKET_COLUMNS = (
    "id, status, customer_conversation_id, customer_ref, customer_name, tenant_id, summary, "
    "created_at, updated_at, support_thread_id, support_thread_ref, taken_at, closed_at, "
    "agent_id, agent_name, rating, solved"
)
TRANSCRIPT_COLUMNS = "id, conversation_id, direction, sender, text, at, activity_id, ticket_id"
TICKET_BY_ID = f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"
CLAIM_TICKET = ("UPDATE tickets SET status = 'taken', agent_id = $2, agent_name = $3, "
          "taken_at = $4, updated_at = $4 WHERE id = $1 AND status = 'waiting' "
          f"RETURNING {TICKET_COLUMNS}")
CLOSE_TICKET = ("UPDATE tickets SET status = 'closed', closed_at = $2, updated_at = $2 "
          f"WHERE id = $1 AND status <> 'closed' RETURNING {TICKET_COLUMNS}")
INSERT_TRANSCRIPT = (
    "INSERT INTO transcripts (ticket_id, conversation_id, direction, sender, text, at, "
    "activity_id) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id")
INSERT_AUDIT = ("INSERT INTO audit_log (at, kind, conversation_id, tenant_id, detail) "
                "VALUES ($1, $2, $3, $4, $5)")
UPSERT_KV = ("INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) "
             "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
             "updated_at = excluded.updated_at")


def new_ticket_id() -> str:
    """Return a short random ticket id (12 hex characters, easy to read out in a channel)."""
    return secrets.token_hex(6)


# Ticket's fields in declaration order (what its constructor stores, and in which order).
_TICKET_FIELDS = tuple(field.name for field in dataclasses.fields(Ticket))


def _new_ticket(**fields: Any) -> Ticket:
    """``Ticket(**fields)``, built in about half the time when every field is given in order.

    A frozen dataclass's ``__init__`` stores each of Ticket's 17 fields
    through ``object.__setattr__`` (4-5 µs a ticket, and every turn while a
    ticket is open reads one); filling the new instance's ``__dict__`` gives
    the same object (``==``, the same ``vars()`` in the same order). Ticket
    has no ``__post_init__`` and no slots, so the constructor does nothing else.
    """
    if tuple(fields) != _TICKET_FIELDS:
        return Ticket(**fields)
    ticket = object.__new__(Ticket)
    ticket.__dict__.update(fields)
    return ticket


def ticket_of(row: Row, dialect: Dialect) -> Ticket:
    """The ticket a row of :data:`TICKET_COLUMNS` holds."""
    (
        ticket_id, status, conv_id, customer_ref, customer_name, tenant_id, summary,
        created_at, updated_at, thread_id, thread_ref, taken_at, closed_at,
        agent_id, agent_name, rating, solved,
    ) = row
    return _new_ticket(
        id=ticket_id,
        status=cast(TicketStatus, status),
        customer_conversation_id=conv_id,
        customer_ref=loads(customer_ref) or {},
        customer_name=customer_name,
        tenant_id=tenant_id,
        summary=loads(summary) or {},
        created_at=dialect.read_time(created_at),
        updated_at=dialect.read_time(updated_at),
        support_thread_id=thread_id,
        support_thread_ref=loads(thread_ref),
        taken_at=dialect.read_time_or_none(taken_at),
        closed_at=dialect.read_time_or_none(closed_at),
        agent_id=agent_id,
        agent_name=agent_name,
        rating=rating,
        solved=None if solved is None else bool(solved),
    )


def entry_of(row: Row, dialect: Dialect) -> TranscriptEntry:
    """The transcript entry a row of :data:`TRANSCRIPT_COLUMNS` holds."""
    entry_id, conv_id, direction, sender, text, at, activity_id, ticket_id = row
    return TranscriptEntry(id=int(entry_id), conversation_id=conv_id, direction=direction,
                           sender=sender, text=text, at=dialect.read_time(at),
                           activity_id=activity_id, ticket_id=ticket_id)


def optional_text(value: str | None) -> str | None:
    """``storable_text`` for a column that may be NULL."""
    return None if value is None else storable_text(value)


def audit_params(dialect: Dialect, at: datetime, kind: str, conversation_id: str | None,
                 tenant_id: str | None, detail: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """The parameters of :data:`INSERT_AUDIT` (``detail`` redacted first)."""
    return (dialect.time(at), storable_text(kind), optional_text(conversation_id),
            optional_text(tenant_id), dumps_value(redact(dict(detail or {}))))


class _Repository:
    """What every repository has: the shared database and the clock it stamps rows with."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        """Use ``db`` for storage and ``clock`` for every timestamp written.

        Args:
            db: The shared database.
            clock: Returns the current UTC time (tests pass a fake one).
        """
        self.db = db
        self.clock = clock

    def _now(self) -> Any:
        """The clock's time as the database's time parameter."""
        return self.db.dialect.time(self.clock())


class Tickets(_Repository):
    """``TicketRepository``: handoff tickets."""

    async def create_ticket(
        self,
        *,
        customer_ref: Mapping[str, Any],
        customer_name: str = "",
        tenant_id: str = "",
        summary: Mapping[str, Any] | None = None,
        support_thread_ref: Mapping[str, Any] | None = None,
        ticket_id: str | None = None,
        customer_conversation_id: str | None = None,
    ) -> Ticket:
        """Open a ticket in ``waiting``, unless the customer already has an open one.

        A customer conversation has at most one open (waiting or taken)
        ticket; the database enforces it, so two instances escalating the
        same conversation at once end up with one ticket. Compare the returned
        ``id`` with the one you passed to tell a new ticket from an existing one.

        Args:
            customer_ref: The customer's conversation reference as JSON.
            customer_name: Shown on the handoff card.
            tenant_id: The customer's Microsoft 365 tenant id.
            summary: Answers, diagnosis, check results, last messages (JSON).
            support_thread_ref: The support thread, when already posted.
            ticket_id: Use this id instead of a random one.
            customer_conversation_id: Defaults to ``customer_ref["conversation"]["id"]``.

        Returns:
            The new ticket, or the customer's open ticket.

        Raises:
            ValueError: Without a customer conversation id.
            StoreError: ``ticket_id`` is taken by another customer's ticket.
        """
        conv_id = customer_conversation_id or conversation_id_of(customer_ref)
        if not conv_id:
            raise ValueError("customer_ref has no conversation id")
        thread_id = conversation_id_of(support_thread_ref)
        for _ in range(5):
            chosen_id = ticket_id or new_ticket_id()
            rows = await self.db.query(
                f"INSERT INTO tickets ({TICKET_COLUMNS}) "
                "VALUES ($1, 'waiting', $2, $3, $4, $5, $6, $7, $7, $8, $9, NULL, NULL, NULL, "
                f"NULL, NULL, NULL) ON CONFLICT DO NOTHING RETURNING {TICKET_COLUMNS}",
                chosen_id, storable_text(conv_id), dumps_value(customer_ref),
                storable_text(customer_name), storable_text(tenant_id), dumps_value(summary or {}),
                self._now(), thread_id,
                None if support_thread_ref is None else dumps_value(support_thread_ref))
            if rows:
                return ticket_of(rows[0], self.db.dialect)
            existing = await self.find_open_ticket_by_customer_conversation(conv_id)
            if existing is not None:
                return existing
            same_id = await self.get_ticket(chosen_id)
            if same_id is not None and ticket_id is not None:
                if same_id.customer_conversation_id == conv_id:
                    return same_id
                raise StoreError(f"ticket id {ticket_id!r} is already used")
            # A random id collided, or the open ticket closed meanwhile: try again.
        raise StoreError("could not create a ticket; the tickets table keeps changing")

    async def _one(self, where: str, param: str, *, unique: bool = False) -> Ticket | None:
        # ``unique``: an index guarantees at most one match, so no sort is needed
        # (sorting, even no rows, costs SQLite a temporary b-tree on every call).
        order = "" if unique else " ORDER BY created_at DESC, id DESC"
        rows = await self.db.query(
            f"SELECT {TICKET_COLUMNS} FROM tickets WHERE {where}{order} LIMIT 1", param)
        return ticket_of(rows[0], self.db.dialect) if rows else None

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        """Return the ticket with this id (as on the card's Take over button), or None."""
        return await self._one("id = $1", ticket_id, unique=True)

    async def find_open_ticket_by_customer_conversation(
        self, conversation_id: str
    ) -> Ticket | None:
        """Return the customer conversation's waiting or taken ticket, or None."""
        # tickets_one_open_per_customer, a unique index over exactly these rows,
        # answers it without a sort.
        return await self._one("customer_conversation_id = $1 AND status <> 'closed'",
                               conversation_id, unique=True)

    async def find_ticket_by_thread(self, thread_conversation_id: str) -> Ticket | None:
        """Return the newest ticket posted in this support thread (its conversation id), or None."""
        return await self._one("support_thread_id = $1", thread_conversation_id)

    async def list_tickets(
        self, status: TicketStatus | None = None, *, limit: int | None = None
    ) -> list[Ticket]:
        """Return tickets, oldest first (so ``waiting`` reads as the queue).

        Args:
            status: Only this status, or all when None.
            limit: At most this many.

        Returns:
            The tickets.
        """
        check_status(status)
        sql = f"SELECT {TICKET_COLUMNS} FROM tickets"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = $1"
            params.append(status)
        sql += " ORDER BY created_at, id"
        if limit is not None:
            params.append(int(limit))
            sql += f" LIMIT ${len(params)}"
        # Possibly the whole table: SQLite reads it on its worker thread.
        rows = await self.db.query(sql, *params, short=False)
        return [ticket_of(row, self.db.dialect) for row in rows]

    async def queue_position(self, ticket_id: str) -> int | None:
        """Return the 1-based place of a waiting ticket in the queue (None if not waiting)."""
        rows = await self.db.query(
            "SELECT COUNT(*) FROM tickets t, "
            "(SELECT created_at, id FROM tickets WHERE id = $1 AND status = 'waiting') me "
            "WHERE t.status = 'waiting' AND (t.created_at, t.id) <= (me.created_at, me.id)",
            ticket_id)
        return (int(rows[0][0]) if rows else 0) or None

    async def claim_ticket(self, ticket_id: str, agent_id: str, agent_name: str) -> ClaimResult:
        """Give a waiting ticket to this agent; exactly one of many simultaneous callers wins.

        Args:
            ticket_id: The ticket from the card.
            agent_id: The agent's Teams user id (aadObjectId or channel account id).
            agent_name: The agent's display name, told to the customer.

        Returns:
            ``won=True`` for the winner; everyone else learns who holds it.
        """
        async def claim(tx: Tx) -> ClaimResult:
            # The status test and the change are one statement: no read-then-write race.
            won = await tx.fetchrow(CLAIM_TICKET, ticket_id, storable_text(agent_id),
                                    storable_text(agent_name), self._now())
            if won is not None:
                ticket = ticket_of(won, tx.dialect)
                return ClaimResult(True, ticket.agent_name, ticket.agent_id, "taken")
            row = await tx.fetchrow(
                "SELECT status, agent_id, agent_name FROM tickets WHERE id = $1", ticket_id)
            if row is None:
                return ClaimResult(False, None, None, None)
            return ClaimResult(False, row[2], row[1], cast(TicketStatus, row[0]))

        return await self.db.run(claim)

    async def update_ticket(
        self,
        ticket_id: str,
        *,
        summary: Mapping[str, Any] | None = UNSET,
        support_thread_ref: Mapping[str, Any] | None = UNSET,
        customer_name: str = UNSET,
        tenant_id: str = UNSET,
        rating: int | None = UNSET,
        solved: bool | None = UNSET,
    ) -> Ticket | None:
        """Change only the fields passed; the status moves through claim/close only.

        Args:
            ticket_id: The ticket.
            summary: Replaces the whole summary JSON.
            support_thread_ref: The thread's conversation reference; also
                indexes the thread for ``find_ticket_by_thread``.
            customer_name: New display name.
            tenant_id: New tenant id.
            rating: 1 to 5, or None to clear.
            solved: Whether the customer said the problem is solved.

        Returns:
            The updated ticket, or None for an unknown id.
        """
        sets: list[str] = []
        params: list[Any] = [ticket_id]

        def bind(column: str, value: Any) -> None:
            params.append(value)
            sets.append(f"{column} = ${len(params)}")

        if summary is not UNSET:
            bind("summary", dumps_value(summary or {}))
        if support_thread_ref is not UNSET:
            bind("support_thread_ref",
                 None if support_thread_ref is None else dumps_value(support_thread_ref))
            bind("support_thread_id", conversation_id_of(support_thread_ref))
        if customer_name is not UNSET:
            bind("customer_name", storable_text(customer_name or ""))
        if tenant_id is not UNSET:
            bind("tenant_id", storable_text(tenant_id or ""))
        if rating is not UNSET:
            check_rating(rating)
            bind("rating", rating)
        if solved is not UNSET:
            bind("solved", None if solved is None else bool(solved))
        bind("updated_at", self._now())
        rows = await self.db.query(
            f"UPDATE tickets SET {', '.join(sets)} WHERE id = $1 RETURNING {TICKET_COLUMNS}",
            *params)
        return ticket_of(rows[0], self.db.dialect) if rows else None

    async def close_ticket(self, ticket_id: str) -> bool:
        """Close a waiting or taken ticket.

        Returns:
            True for the one caller that closed it; False if it was already
            closed or does not exist (so "End" pressed twice notifies once).
        """
        return bool(await self.db.query(CLOSE_TICKET, ticket_id, self._now()))


class Transcripts(_Repository):
    """``TranscriptRepository``: messages relayed between a customer and an agent."""

    async def append(
        self,
        *,
        conversation_id: str,
        direction: str,
        text: str,
        sender: str = "",
        activity_id: str | None = None,
        ticket_id: str | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Record one message, once per (conversation, direction, activity id).

        Args:
            conversation_id: The conversation the transcript belongs to
                (normally the customer's).
            direction: Who sent it: ``"customer"``, ``"agent"`` or ``"bot"``.
            text: The message text (attachments as links).
            sender: The sender's display name.
            activity_id: The Bot Framework activity id; a second append with
                the same id is ignored.
            ticket_id: The ticket the message was relayed for, if any.
            at: When it was sent (default: now).

        Returns:
            True if recorded, False if it was a duplicate.
        """
        return bool(await self.db.query(
            INSERT_TRANSCRIPT, ticket_id, storable_text(conversation_id), storable_text(direction),
            storable_text(sender or ""), storable_text(text or ""),
            self.db.dialect.time(at or self.clock()), optional_text(activity_id)))

    async def list_for_conversation(
        self, conversation_id: str, *, limit: int | None = None
    ) -> list[TranscriptEntry]:
        """Return a conversation's messages in the order they were sent.

        Args:
            conversation_id: The conversation.
            limit: Only the last ``limit`` messages (still oldest first).

        Returns:
            The entries.
        """
        if limit is None:
            # A whole conversation's history: SQLite reads it on its worker thread.
            rows = await self.db.query(
                f"SELECT {TRANSCRIPT_COLUMNS} FROM transcripts WHERE conversation_id = $1 "
                "ORDER BY at, id", conversation_id, short=False)
        else:
            rows = await self.db.query(
                f"SELECT * FROM (SELECT {TRANSCRIPT_COLUMNS} FROM transcripts "
                "WHERE conversation_id = $1 ORDER BY at DESC, id DESC LIMIT $2) last "
                "ORDER BY at, id", conversation_id, int(limit), short=limit <= 100)
        return [entry_of(row, self.db.dialect) for row in rows]

    async def list_for_ticket(self, ticket_id: str) -> list[TranscriptEntry]:
        """Return the messages recorded for a ticket, oldest first."""
        # A whole handoff's messages: on SQLite's worker thread, not on the event loop.
        rows = await self.db.query(
            f"SELECT {TRANSCRIPT_COLUMNS} FROM transcripts WHERE ticket_id = $1 ORDER BY at, id",
            ticket_id, short=False)
        return [entry_of(row, self.db.dialect) for row in rows]


class Audit(_Repository):
    """``AuditRepository``: an append-only event log for staff statistics."""

    async def append(
        self,
        kind: str,
        *,
        conversation_id: str | None = None,
        tenant_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record an event. Secrets in ``detail`` are redacted before storage.

        Args:
            kind: What happened, e.g. ``"diagnosis"``, ``"check"``, ``"handoff"``.
            conversation_id: The conversation concerned.
            tenant_id: The customer's tenant.
            detail: Anything else as JSON, e.g. ``{"cause": "mfa_required"}``.
            at: When (default: now).
        """
        await self.db.query(INSERT_AUDIT, *audit_params(
            self.db.dialect, at or self.clock(), kind, conversation_id, tenant_id, detail))

    async def recent(
        self,
        *,
        limit: int = 100,
        kind: str | None = None,
        conversation_id: str | None = None,
    ) -> list[AuditEvent]:
        """Return the newest events first.

        Args:
            limit: At most this many.
            kind: Only this kind.
            conversation_id: Only this conversation.

        Returns:
            The events.
        """
        # Up to the whole log (the staff reports read thousands of rows): SQLite's thread.
        rows = await self.db.query(
            "SELECT id, at, kind, conversation_id, tenant_id, detail FROM audit_log "
            "WHERE (CAST($1 AS TEXT) IS NULL OR kind = $1) "
            "AND (CAST($2 AS TEXT) IS NULL OR conversation_id = $2) "
            "ORDER BY at DESC, id DESC LIMIT $3", kind, conversation_id, int(limit), short=False)
        dialect = self.db.dialect
        return [AuditEvent(id=int(r[0]), at=dialect.read_time(r[1]), kind=r[2],
                           conversation_id=r[3], tenant_id=r[4], detail=loads(r[5]) or {})
                for r in rows]

    def _since(self, days: int, now: datetime | None) -> Any:
        return self.db.dialect.time((now or self.clock()) - timedelta(days=days))

    async def counts_by_kind(self, days: int, *, now: datetime | None = None) -> dict[str, int]:
        """Count events per kind over the last ``days`` days (counted back from ``now``).

        Returns:
            Kind to count, most frequent first.
        """
        rows = await self.db.query(
            "SELECT kind, COUNT(*) AS n FROM audit_log WHERE at >= $1 "
            "GROUP BY kind ORDER BY n DESC, kind", self._since(days, now), short=False)
        return {str(kind): int(n) for kind, n in rows}

    async def counts_by_detail(
        self, kind: str, field: str, days: int, *, now: datetime | None = None
    ) -> dict[str, int]:
        """Count events of one kind per value of ``detail[field]``, e.g. diagnoses by cause.

        Args:
            kind: The event kind, e.g. ``"diagnosis"``.
            field: A top-level key of ``detail``, e.g. ``"cause"``.
            days: The window, counted back from ``now``.
            now: The end of the window (default: the store clock).

        Returns:
            Value (as text; ``true``/``false`` for booleans) to count, most
            frequent first. Events without the field are not counted.
        """
        check_detail_field(field)
        value = self.db.dialect.json_text("detail", "$2")
        rows = await self.db.query(
            f"SELECT {value} AS v, COUNT(*) AS n FROM audit_log "
            f"WHERE kind = $1 AND at >= $3 AND {value} IS NOT NULL "
            "GROUP BY v ORDER BY n DESC, v", kind, field, self._since(days, now), short=False)
        return {str(v): int(n) for v, n in rows}


class KeyValue(_Repository):
    """``KeyValueRepository``: small JSON settings shared by all instances."""

    async def get(self, key: str, default: Any = None) -> Any:
        """Return the JSON value stored under ``key`` (``"support_channel"``), or ``default``."""
        rows = await self.db.query("SELECT value FROM kv WHERE key = $1", key)
        return loads(rows[0][0]) if rows else default

    async def set(self, key: str, value: Any) -> None:
        """Store ``value`` (any JSON) under ``key``, replacing what was there."""
        await self.db.query(UPSERT_KV, key, dumps_value(value), self._now())

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True if it existed."""
        return bool(await self.db.query("DELETE FROM kv WHERE key = $1 RETURNING key", key))
