"""The bot's own records on PostgreSQL: tickets, transcripts, audit log, settings.

Mirrors ``sqlite_records`` statement for statement; the shared tests run both.
Decisions that must be made once across instances are single conditional
statements (``UPDATE … WHERE status = 'waiting' RETURNING``,
``INSERT … ON CONFLICT DO NOTHING RETURNING``), so no explicit locks are needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg

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
from .codec import clean_text, dumps_value, loads
from .postgres import PostgresDatabase
from .sqlite_records import TICKET_COLUMNS, new_ticket_id


def as_utc(ts: datetime) -> datetime:
    """Return ``ts`` as an aware UTC datetime (a naive one is taken to be UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _ticket(row: asyncpg.Record) -> Ticket:
    return Ticket(
        id=row["id"],
        status=cast(TicketStatus, row["status"]),
        customer_conversation_id=row["customer_conversation_id"],
        customer_ref=loads(row["customer_ref"]) or {},
        customer_name=row["customer_name"],
        tenant_id=row["tenant_id"],
        summary=loads(row["summary"]) or {},
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        support_thread_id=row["support_thread_id"],
        support_thread_ref=loads(row["support_thread_ref"]),
        taken_at=None if row["taken_at"] is None else as_utc(row["taken_at"]),
        closed_at=None if row["closed_at"] is None else as_utc(row["closed_at"]),
        agent_id=row["agent_id"],
        agent_name=row["agent_name"],
        rating=row["rating"],
        solved=row["solved"],
    )


class PostgresTickets:
    """``TicketRepository`` on PostgreSQL. See ``SqliteTickets`` for the behaviour."""

    def __init__(self, db: PostgresDatabase, clock: Clock = utc_now) -> None:
        """Use ``db`` for storage and ``clock`` for every timestamp written.

        Args:
            db: The shared pool.
            clock: Returns the current UTC time (tests pass a fake one).
        """
        self.db = db
        self.clock = clock

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
            now = as_utc(self.clock())
            async with self.db.connection() as conn:
                row = await conn.fetchrow(
                    f"INSERT INTO tickets ({TICKET_COLUMNS}) "
                    "VALUES ($1, 'waiting', $2, $3::jsonb, $4, $5, $6::jsonb, $7, $7, $8, "
                    "$9::jsonb, NULL, NULL, NULL, NULL, NULL, NULL) ON CONFLICT DO NOTHING "
                    f"RETURNING {TICKET_COLUMNS}",
                    chosen_id, clean_text(conv_id), dumps_value(customer_ref),
                    clean_text(customer_name), clean_text(tenant_id),
                    dumps_value(summary or {}), now, thread_id,
                    None if support_thread_ref is None else dumps_value(support_thread_ref),
                )
            if row is not None:
                return _ticket(row)
            existing = await self.find_open_ticket_by_customer_conversation(conv_id)
            if existing is not None:
                return existing
            same_id = await self.get_ticket(chosen_id)
            if same_id is not None and ticket_id is not None:
                if same_id.customer_conversation_id == conv_id:
                    return same_id
                raise StoreError(f"ticket id {ticket_id!r} is already used")
        raise StoreError("could not create a ticket; the tickets table keeps changing")

    async def _one(self, where: str, *params: Any) -> Ticket | None:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {TICKET_COLUMNS} FROM tickets WHERE {where} "
                "ORDER BY created_at DESC, id DESC LIMIT 1",
                *params,
            )
        return _ticket(row) if row is not None else None

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        """Return the ticket with this id, or None.

        Args:
            ticket_id: The ticket id.

        Returns:
            The ticket or None.
        """
        return await self._one("id = $1", ticket_id)

    async def find_open_ticket_by_customer_conversation(
        self, conversation_id: str
    ) -> Ticket | None:
        """Return the customer conversation's waiting or taken ticket, or None.

        Args:
            conversation_id: The customer's conversation id.

        Returns:
            The open ticket or None.
        """
        return await self._one(
            "customer_conversation_id = $1 AND status <> 'closed'", conversation_id
        )

    async def find_ticket_by_thread(self, thread_conversation_id: str) -> Ticket | None:
        """Return the newest ticket posted in this support thread, or None.

        Args:
            thread_conversation_id: The conversation id of the channel thread.

        Returns:
            The ticket or None.
        """
        return await self._one("support_thread_id = $1", thread_conversation_id)

    async def list_tickets(
        self, status: TicketStatus | None = None, *, limit: int | None = None
    ) -> list[Ticket]:
        """Return tickets, oldest first.

        Args:
            status: Only this status, or all when None.
            limit: At most this many.

        Returns:
            The tickets.
        """
        check_status(status)
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {TICKET_COLUMNS} FROM tickets "
                "WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at, id LIMIT $2",
                status, limit,
            )
        return [_ticket(row) for row in rows]

    async def queue_position(self, ticket_id: str) -> int | None:
        """Return the 1-based place of a waiting ticket in the queue.

        Args:
            ticket_id: The ticket.

        Returns:
            1 for the oldest waiting ticket, None if this one is not waiting.
        """
        async with self.db.connection() as conn:
            position = await conn.fetchval(
                "SELECT COUNT(*) FROM tickets t, "
                "(SELECT created_at, id FROM tickets WHERE id = $1 AND status = 'waiting') me "
                "WHERE t.status = 'waiting' AND (t.created_at, t.id) <= (me.created_at, me.id)",
                ticket_id,
            )
        return int(position) or None

    async def claim_ticket(self, ticket_id: str, agent_id: str, agent_name: str) -> ClaimResult:
        """Give a waiting ticket to this agent; exactly one of many simultaneous callers wins.

        Args:
            ticket_id: The ticket from the card.
            agent_id: The agent's Teams user id.
            agent_name: The agent's display name.

        Returns:
            ``won=True`` for the winner; everyone else learns who holds it.
        """
        now = as_utc(self.clock())
        async with self.db.connection() as conn:
            won = await conn.fetchrow(
                "UPDATE tickets SET status = 'taken', agent_id = $2, agent_name = $3, "
                "taken_at = $4, updated_at = $4 WHERE id = $1 AND status = 'waiting' "
                "RETURNING agent_id, agent_name",
                ticket_id, clean_text(agent_id), clean_text(agent_name), now,
            )
            if won is not None:
                return ClaimResult(True, won["agent_name"], won["agent_id"], "taken")
            row = await conn.fetchrow(
                "SELECT status, agent_id, agent_name FROM tickets WHERE id = $1", ticket_id
            )
        if row is None:
            return ClaimResult(False, None, None, None)
        return ClaimResult(
            False, row["agent_name"], row["agent_id"], cast(TicketStatus, row["status"])
        )

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
            support_thread_ref: The thread's conversation reference (also indexed).
            customer_name: New display name.
            tenant_id: New tenant id.
            rating: 1 to 5, or None to clear.
            solved: Whether the customer said the problem is solved.

        Returns:
            The updated ticket, or None for an unknown id.
        """
        sets: list[str] = []
        params: list[Any] = [ticket_id]

        def bind(column: str, value: Any, cast_to: str = "") -> None:
            params.append(value)
            sets.append(f"{column} = ${len(params)}{cast_to}")

        if summary is not UNSET:
            bind("summary", dumps_value(summary or {}), "::jsonb")
        if support_thread_ref is not UNSET:
            bind(
                "support_thread_ref",
                None if support_thread_ref is None else dumps_value(support_thread_ref),
                "::jsonb",
            )
            bind("support_thread_id", conversation_id_of(support_thread_ref))
        if customer_name is not UNSET:
            bind("customer_name", clean_text(customer_name or ""))
        if tenant_id is not UNSET:
            bind("tenant_id", clean_text(tenant_id or ""))
        if rating is not UNSET:
            check_rating(rating)
            bind("rating", rating)
        if solved is not UNSET:
            bind("solved", None if solved is None else bool(solved))
        bind("updated_at", as_utc(self.clock()))
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                f"UPDATE tickets SET {', '.join(sets)} WHERE id = $1 RETURNING {TICKET_COLUMNS}",
                *params,
            )
        return _ticket(row) if row is not None else None

    async def close_ticket(self, ticket_id: str) -> bool:
        """Close a waiting or taken ticket.

        Args:
            ticket_id: The ticket.

        Returns:
            True for the one caller that closed it.
        """
        async with self.db.connection() as conn:
            closed = await conn.fetchval(
                "UPDATE tickets SET status = 'closed', closed_at = $2, updated_at = $2 "
                "WHERE id = $1 AND status <> 'closed' RETURNING id",
                ticket_id, as_utc(self.clock()),
            )
        return closed is not None


_TRANSCRIPT_COLUMNS = "id, conversation_id, direction, sender, text, at, activity_id, ticket_id"


def _entry(row: asyncpg.Record) -> TranscriptEntry:
    return TranscriptEntry(
        id=int(row["id"]),
        conversation_id=row["conversation_id"],
        direction=row["direction"],
        sender=row["sender"],
        text=row["text"],
        at=as_utc(row["at"]),
        activity_id=row["activity_id"],
        ticket_id=row["ticket_id"],
    )


class PostgresTranscripts:
    """``TranscriptRepository`` on PostgreSQL."""

    def __init__(self, db: PostgresDatabase, clock: Clock = utc_now) -> None:
        """Use ``db`` for storage and ``clock`` for default timestamps.

        Args:
            db: The shared pool.
            clock: Returns the current UTC time.
        """
        self.db = db
        self.clock = clock

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
            conversation_id: The conversation the transcript belongs to.
            direction: ``"customer"``, ``"agent"`` or ``"bot"``.
            text: The message text.
            sender: The sender's display name.
            activity_id: The activity id; a repeat is ignored.
            ticket_id: The ticket the message was relayed for, if any.
            at: When it was sent (default: now).

        Returns:
            True if recorded, False if it was a duplicate.
        """
        async with self.db.connection() as conn:
            new_id = await conn.fetchval(
                "INSERT INTO transcripts "
                "(ticket_id, conversation_id, direction, sender, text, at, activity_id) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
                ticket_id, clean_text(conversation_id), clean_text(direction),
                clean_text(sender or ""), clean_text(text or ""), as_utc(at or self.clock()),
                None if activity_id is None else clean_text(activity_id),
            )
        return new_id is not None

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
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT * FROM (SELECT {_TRANSCRIPT_COLUMNS} FROM transcripts "
                "WHERE conversation_id = $1 ORDER BY at DESC, id DESC LIMIT $2) last "
                "ORDER BY at, id",
                conversation_id, limit,
            )
        return [_entry(row) for row in rows]

    async def list_for_ticket(self, ticket_id: str) -> list[TranscriptEntry]:
        """Return the messages recorded for a ticket, oldest first.

        Args:
            ticket_id: The ticket.

        Returns:
            The entries.
        """
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_TRANSCRIPT_COLUMNS} FROM transcripts WHERE ticket_id = $1 "
                "ORDER BY at, id",
                ticket_id,
            )
        return [_entry(row) for row in rows]


class PostgresAudit:
    """``AuditRepository`` on PostgreSQL."""

    def __init__(self, db: PostgresDatabase, clock: Clock = utc_now) -> None:
        """Use ``db`` for storage and ``clock`` for default timestamps.

        Args:
            db: The shared pool.
            clock: Returns the current UTC time.
        """
        self.db = db
        self.clock = clock

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
            kind: What happened.
            conversation_id: The conversation concerned.
            tenant_id: The customer's tenant.
            detail: Anything else as JSON.
            at: When (default: now).
        """
        async with self.db.connection() as conn:
            await conn.execute(
                "INSERT INTO audit_log (at, kind, conversation_id, tenant_id, detail) "
                "VALUES ($1, $2, $3, $4, $5::jsonb)",
                as_utc(at or self.clock()), clean_text(kind),
                None if conversation_id is None else clean_text(conversation_id),
                None if tenant_id is None else clean_text(tenant_id),
                dumps_value(redact(detail or {})),
            )

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
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT id, at, kind, conversation_id, tenant_id, detail FROM audit_log "
                "WHERE ($1::text IS NULL OR kind = $1) "
                "AND ($2::text IS NULL OR conversation_id = $2) "
                "ORDER BY at DESC, id DESC LIMIT $3",
                kind, conversation_id, int(limit),
            )
        return [
            AuditEvent(
                id=int(r["id"]), at=as_utc(r["at"]), kind=r["kind"],
                conversation_id=r["conversation_id"], tenant_id=r["tenant_id"],
                detail=loads(r["detail"]) or {},
            )
            for r in rows
        ]

    async def counts_by_kind(self, days: int, *, now: datetime | None = None) -> dict[str, int]:
        """Count events per kind over the last ``days`` days.

        Args:
            days: The window, counted back from ``now``.
            now: The end of the window (default: the store clock).

        Returns:
            Kind to count, most frequent first.
        """
        since = as_utc(now or self.clock()) - timedelta(days=days)
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT kind, COUNT(*) AS n FROM audit_log WHERE at >= $1 "
                "GROUP BY kind ORDER BY n DESC, kind",
                since,
            )
        return {r["kind"]: int(r["n"]) for r in rows}

    async def counts_by_detail(
        self, kind: str, field: str, days: int, *, now: datetime | None = None
    ) -> dict[str, int]:
        """Count events of one kind per value of ``detail[field]``.

        Args:
            kind: The event kind, e.g. ``"diagnosis"``.
            field: A top-level key of ``detail``, e.g. ``"cause"``.
            days: The window, counted back from ``now``.
            now: The end of the window (default: the store clock).

        Returns:
            Value (as text) to count, most frequent first; events without the
            field are not counted.
        """
        check_detail_field(field)
        since = as_utc(now or self.clock()) - timedelta(days=days)
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT detail->>$2 AS v, COUNT(*) AS n FROM audit_log "
                "WHERE kind = $1 AND at >= $3 AND detail->>$2 IS NOT NULL "
                "GROUP BY v ORDER BY n DESC, v",
                kind, field, since,
            )
        return {str(r["v"]): int(r["n"]) for r in rows}


class PostgresKeyValue:
    """``KeyValueRepository`` on PostgreSQL."""

    def __init__(self, db: PostgresDatabase, clock: Clock = utc_now) -> None:
        """Use ``db`` for storage.

        Args:
            db: The shared pool.
            clock: Returns the current UTC time (for ``updated_at``).
        """
        self.db = db
        self.clock = clock

    async def get(self, key: str, default: Any = None) -> Any:
        """Return the JSON value stored under ``key``, or ``default``.

        Args:
            key: The setting name.
            default: Returned when the key is absent.

        Returns:
            The value.
        """
        async with self.db.connection() as conn:
            row = await conn.fetchrow("SELECT value FROM kv WHERE key = $1", key)
        return loads(row["value"]) if row is not None else default

    async def set(self, key: str, value: Any) -> None:
        """Store ``value`` (any JSON) under ``key``, replacing what was there.

        Args:
            key: The setting name.
            value: Dicts, lists and scalars.
        """
        async with self.db.connection() as conn:
            await conn.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2::jsonb, $3) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                "updated_at = EXCLUDED.updated_at",
                key, dumps_value(value), as_utc(self.clock()),
            )

    async def delete(self, key: str) -> bool:
        """Remove ``key``.

        Args:
            key: The setting name.

        Returns:
            True if it existed.
        """
        async with self.db.connection() as conn:
            deleted = await conn.fetchval("DELETE FROM kv WHERE key = $1 RETURNING key", key)
        return deleted is not None
