"""The bot's own records on SQLite: tickets, transcripts, audit log, settings.

Each state change that must be decided once — claiming a ticket, closing it,
recording a relayed activity — is a single conditional statement, so the
answer is the same whichever process or coroutine asks first. They share the
``SqliteDatabase`` connection (and its lock) with the state storage.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
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
from .codec import clean_text, dumps_value, loads
from .sqlite import SqliteDatabase, from_iso, iso

TICKET_COLUMNS = (
    "id, status, customer_conversation_id, customer_ref, customer_name, tenant_id, summary, "
    "created_at, updated_at, support_thread_id, support_thread_ref, taken_at, closed_at, "
    "agent_id, agent_name, rating, solved"
)


def new_ticket_id() -> str:
    """Return a short random ticket id (12 hex characters, easy to read out in a channel)."""
    return secrets.token_hex(6)


def _ticket(row: Sequence[Any]) -> Ticket:
    (
        ticket_id, status, conv_id, customer_ref, customer_name, tenant_id, summary,
        created_at, updated_at, thread_id, thread_ref, taken_at, closed_at,
        agent_id, agent_name, rating, solved,
    ) = row
    return Ticket(
        id=ticket_id,
        status=cast(TicketStatus, status),
        customer_conversation_id=conv_id,
        customer_ref=loads(customer_ref) or {},
        customer_name=customer_name,
        tenant_id=tenant_id,
        summary=loads(summary) or {},
        created_at=cast(datetime, from_iso(created_at)),
        updated_at=cast(datetime, from_iso(updated_at)),
        support_thread_id=thread_id,
        support_thread_ref=loads(thread_ref),
        taken_at=from_iso(taken_at),
        closed_at=from_iso(closed_at),
        agent_id=agent_id,
        agent_name=agent_name,
        rating=rating,
        solved=None if solved is None else bool(solved),
    )


class SqliteTickets:
    """``TicketRepository`` on SQLite."""

    def __init__(self, db: SqliteDatabase, clock: Clock = utc_now) -> None:
        """Use ``db`` for storage and ``clock`` for every timestamp written.

        Args:
            db: The shared database.
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
            now = iso(self.clock())
            rows = await self.db.query(
                f"INSERT INTO tickets ({TICKET_COLUMNS}) "
                "VALUES (?, 'waiting', ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, "
                "NULL, NULL) ON CONFLICT DO NOTHING "
                f"RETURNING {TICKET_COLUMNS}",
                (
                    chosen_id, clean_text(conv_id), dumps_value(customer_ref),
                    clean_text(customer_name), clean_text(tenant_id),
                    dumps_value(summary or {}), now, now, thread_id,
                    None if support_thread_ref is None else dumps_value(support_thread_ref),
                ),
            )
            if rows:
                return _ticket(rows[0])
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

    async def _one(self, where: str, params: Sequence[Any], *, unique: bool = False) -> Ticket | None:
        # ``unique``: an index guarantees at most one match, so no sort is needed
        # (sorting, even no rows, costs SQLite a temporary b-tree on every call).
        order = "" if unique else " ORDER BY created_at DESC, id DESC"
        rows = await self.db.query(
            f"SELECT {TICKET_COLUMNS} FROM tickets WHERE {where}{order} LIMIT 1", params)
        return _ticket(rows[0]) if rows else None

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        """Return the ticket with this id, or None.

        Args:
            ticket_id: The ticket id (as on the card's Take over button).

        Returns:
            The ticket or None.
        """
        return await self._one("id = ?", (ticket_id,), unique=True)

    async def find_open_ticket_by_customer_conversation(
        self, conversation_id: str
    ) -> Ticket | None:
        """Return the customer conversation's waiting or taken ticket, or None.

        Args:
            conversation_id: The customer's conversation id.

        Returns:
            The open ticket or None.
        """
        # Every turn asks this: tickets_one_open_per_customer, a unique index over
        # exactly these rows, answers it without a sort.
        return await self._one(
            "customer_conversation_id = ? AND status <> 'closed'", (conversation_id,), unique=True
        )

    async def find_ticket_by_thread(self, thread_conversation_id: str) -> Ticket | None:
        """Return the newest ticket posted in this support thread, or None.

        Args:
            thread_conversation_id: The conversation id of the channel thread,
                as it appears on activities posted in that thread.

        Returns:
            The ticket or None.
        """
        return await self._one("support_thread_id = ?", (thread_conversation_id,))

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
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY created_at, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        # Possibly the whole table: on the thread, not on the event loop.
        rows = await self.db.query(sql, params, inline=False)
        return [_ticket(row) for row in rows]

    async def queue_position(self, ticket_id: str) -> int | None:
        """Return the 1-based place of a waiting ticket in the queue.

        Args:
            ticket_id: The ticket.

        Returns:
            1 for the oldest waiting ticket, None if this one is not waiting.
        """
        rows = await self.db.query(
            "SELECT COUNT(*) FROM tickets t, "
            "(SELECT created_at, id FROM tickets WHERE id = ? AND status = 'waiting') me "
            "WHERE t.status = 'waiting' AND (t.created_at < me.created_at "
            "OR (t.created_at = me.created_at AND t.id <= me.id))",
            (ticket_id,),
        )
        position = int(rows[0][0]) if rows else 0
        return position or None

    async def claim_ticket(self, ticket_id: str, agent_id: str, agent_name: str) -> ClaimResult:
        """Give a waiting ticket to this agent; exactly one of many simultaneous callers wins.

        Args:
            ticket_id: The ticket from the card.
            agent_id: The agent's Teams user id (aadObjectId or channel account id).
            agent_name: The agent's display name, told to the customer.

        Returns:
            ``won=True`` for the winner; everyone else learns who holds it.
        """
        now = iso(self.clock())
        # The status test and the change are one statement: no read-then-write race.
        won = await self.db.query(
            "UPDATE tickets SET status = 'taken', agent_id = ?, agent_name = ?, "
            "taken_at = ?, updated_at = ? WHERE id = ? AND status = 'waiting' "
            "RETURNING agent_id, agent_name",
            (clean_text(agent_id), clean_text(agent_name), now, now, ticket_id),
        )
        if won:
            return ClaimResult(True, won[0][1], won[0][0], "taken")
        rows = await self.db.query(
            "SELECT status, agent_id, agent_name FROM tickets WHERE id = ?", (ticket_id,)
        )
        if not rows:
            return ClaimResult(False, None, None, None)
        status, holder_id, holder_name = rows[0]
        return ClaimResult(False, holder_name, holder_id, cast(TicketStatus, status))

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
        params: list[Any] = []
        if summary is not UNSET:
            sets.append("summary = ?")
            params.append(dumps_value(summary or {}))
        if support_thread_ref is not UNSET:
            sets += ["support_thread_ref = ?", "support_thread_id = ?"]
            params += [
                None if support_thread_ref is None else dumps_value(support_thread_ref),
                conversation_id_of(support_thread_ref),
            ]
        if customer_name is not UNSET:
            sets.append("customer_name = ?")
            params.append(clean_text(customer_name or ""))
        if tenant_id is not UNSET:
            sets.append("tenant_id = ?")
            params.append(clean_text(tenant_id or ""))
        if rating is not UNSET:
            check_rating(rating)
            sets.append("rating = ?")
            params.append(rating)
        if solved is not UNSET:
            sets.append("solved = ?")
            params.append(None if solved is None else int(bool(solved)))
        sets.append("updated_at = ?")
        params += [iso(self.clock()), ticket_id]
        rows = await self.db.query(
            f"UPDATE tickets SET {', '.join(sets)} WHERE id = ? RETURNING {TICKET_COLUMNS}",
            params,
        )
        return _ticket(rows[0]) if rows else None

    async def close_ticket(self, ticket_id: str) -> bool:
        """Close a waiting or taken ticket.

        Args:
            ticket_id: The ticket.

        Returns:
            True for the one caller that closed it; False if it was already
            closed or does not exist (so "End" pressed twice notifies once).
        """
        now = iso(self.clock())
        rows = await self.db.query(
            "UPDATE tickets SET status = 'closed', closed_at = ?, updated_at = ? "
            "WHERE id = ? AND status <> 'closed' RETURNING id",
            (now, now, ticket_id),
        )
        return bool(rows)


_TRANSCRIPT_COLUMNS = "id, conversation_id, direction, sender, text, at, activity_id, ticket_id"


def _entry(row: Sequence[Any]) -> TranscriptEntry:
    entry_id, conv_id, direction, sender, text, at, activity_id, ticket_id = row
    return TranscriptEntry(
        id=int(entry_id),
        conversation_id=conv_id,
        direction=direction,
        sender=sender,
        text=text,
        at=cast(datetime, from_iso(at)),
        activity_id=activity_id,
        ticket_id=ticket_id,
    )


class SqliteTranscripts:
    """``TranscriptRepository`` on SQLite."""

    def __init__(self, db: SqliteDatabase, clock: Clock = utc_now) -> None:
        """Use ``db`` for storage and ``clock`` for default timestamps.

        Args:
            db: The shared database.
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
        rows = await self._insert(
            (
                ticket_id, clean_text(conversation_id), clean_text(direction),
                clean_text(sender or ""), clean_text(text or ""),
                iso(at or self.clock()),
                None if activity_id is None else clean_text(activity_id),
            )
        )
        return bool(rows)

    async def _insert(self, params: Sequence[Any]) -> list[Any]:
        return await self.db.query(
            "INSERT INTO transcripts "
            "(ticket_id, conversation_id, direction, sender, text, at, activity_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            params,
        )

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
            # A whole conversation's history: on the thread.
            rows = await self.db.query(
                f"SELECT {_TRANSCRIPT_COLUMNS} FROM transcripts "
                "WHERE conversation_id = ? ORDER BY at, id",
                (conversation_id,), inline=False,
            )
        else:
            rows = await self.db.query(
                f"SELECT * FROM (SELECT {_TRANSCRIPT_COLUMNS} FROM transcripts "
                "WHERE conversation_id = ? ORDER BY at DESC, id DESC LIMIT ?) "
                "ORDER BY at, id",
                (conversation_id, int(limit)), inline=limit <= 100,
            )
        return [_entry(row) for row in rows]

    async def list_for_ticket(self, ticket_id: str) -> list[TranscriptEntry]:
        """Return the messages recorded for a ticket, oldest first.

        Args:
            ticket_id: The ticket.

        Returns:
            The entries.
        """
        # A whole handoff's messages: on the thread, not on the event loop.
        rows = await self.db.query(
            f"SELECT {_TRANSCRIPT_COLUMNS} FROM transcripts WHERE ticket_id = ? "
            "ORDER BY at, id",
            (ticket_id,), inline=False,
        )
        return [_entry(row) for row in rows]


class SqliteAudit:
    """``AuditRepository`` on SQLite."""

    def __init__(self, db: SqliteDatabase, clock: Clock = utc_now) -> None:
        """Use ``db`` for storage and ``clock`` for default timestamps.

        Args:
            db: The shared database.
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
            kind: What happened, e.g. ``"diagnosis"``, ``"check"``, ``"handoff"``.
            conversation_id: The conversation concerned.
            tenant_id: The customer's tenant.
            detail: Anything else as JSON, e.g. ``{"cause": "mfa_required"}``.
            at: When (default: now).
        """
        await self.db.query(
            "INSERT INTO audit_log (at, kind, conversation_id, tenant_id, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                iso(at or self.clock()), clean_text(kind),
                None if conversation_id is None else clean_text(conversation_id),
                None if tenant_id is None else clean_text(tenant_id),
                dumps_value(redact(detail or {})),
            ),
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
        where: list[str] = []
        params: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if conversation_id is not None:
            where.append("conversation_id = ?")
            params.append(conversation_id)
        sql = "SELECT id, at, kind, conversation_id, tenant_id, detail FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, id DESC LIMIT ?"
        params.append(int(limit))
        # Up to the whole log: the staff reports read thousands of rows.
        rows = await self.db.query(sql, params, inline=False)
        return [
            AuditEvent(
                id=int(r[0]), at=cast(datetime, from_iso(r[1])), kind=r[2],
                conversation_id=r[3], tenant_id=r[4], detail=loads(r[5]) or {},
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
        since = iso((now or self.clock()) - timedelta(days=days))
        rows = await self.db.query(
            "SELECT kind, COUNT(*) AS n FROM audit_log WHERE at >= ? "
            "GROUP BY kind ORDER BY n DESC, kind",
            (since,), inline=False,  # counts a range of the log
        )
        return {kind: int(n) for kind, n in rows}

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
        since = iso((now or self.clock()) - timedelta(days=days))
        path = f"$.{field}"
        rows = await self.db.query(
            # Spell booleans as PostgreSQL's ->> does, so both backends agree.
            "SELECT CASE json_type(detail, ?) WHEN 'true' THEN 'true' "
            "WHEN 'false' THEN 'false' ELSE CAST(json_extract(detail, ?) AS TEXT) END AS v, "
            "COUNT(*) AS n FROM audit_log WHERE kind = ? AND at >= ? "
            "AND json_type(detail, ?) IS NOT NULL AND json_type(detail, ?) <> 'null' "
            "GROUP BY v ORDER BY n DESC, v",
            (path, path, kind, since, path, path), inline=False,  # counts a range of the log
        )
        return {str(value): int(n) for value, n in rows}


class SqliteKeyValue:
    """``KeyValueRepository`` on SQLite."""

    def __init__(self, db: SqliteDatabase, clock: Clock = utc_now) -> None:
        """Use ``db`` for storage.

        Args:
            db: The shared database.
            clock: Returns the current UTC time (for ``updated_at``).
        """
        self.db = db
        self.clock = clock

    async def get(self, key: str, default: Any = None) -> Any:
        """Return the JSON value stored under ``key``, or ``default``.

        Args:
            key: The setting name, e.g. ``"support_channel"``.
            default: Returned when the key is absent.

        Returns:
            The value.
        """
        rows = await self.db.query("SELECT value FROM kv WHERE key = ?", (key,))
        return loads(rows[0][0]) if rows else default

    async def set(self, key: str, value: Any) -> None:
        """Store ``value`` (any JSON) under ``key``, replacing what was there.

        Args:
            key: The setting name.
            value: Dicts, lists and scalars.
        """
        await self.db.query(
            "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (key, dumps_value(value), iso(self.clock())),
        )

    async def delete(self, key: str) -> bool:
        """Remove ``key``.

        Args:
            key: The setting name.

        Returns:
            True if it existed.
        """
        rows = await self.db.query("DELETE FROM kv WHERE key = ? RETURNING key", (key,))
        return bool(rows)
