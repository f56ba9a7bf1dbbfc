"""The storage contract shared by the SQLite and PostgreSQL backends.

Two kinds of data live in the store:

* conversation state, behind botbuilder's ``Storage`` (``read``/``write``/
  ``delete`` with optimistic concurrency on ``e_tag``), and
* the bot's own records: handoff tickets, relay transcripts, an audit log and a
  small key-value table for settings such as the support channel's
  conversation reference.

The records are reached through the Protocols below. The domain packages
(``dialogs``, ``checks``) never import this module; they receive these objects
and use them by duck typing, so a later move away from botbuilder only touches
``bot/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

TicketStatus = Literal["waiting", "taken", "closed"]
TICKET_STATUSES: tuple[TicketStatus, ...] = ("waiting", "taken", "closed")

# Who a transcript line came from. Free-form in the schema; these are the
# values the relay uses so that listings read the same everywhere.
DIRECTION_CUSTOMER = "customer"
DIRECTION_AGENT = "agent"
DIRECTION_BOT = "bot"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default store clock)."""
    return datetime.now(UTC)


class StoreError(Exception):
    """The store was used wrongly (not opened, bad argument) or cannot be reached."""


class StoreUnavailable(StoreError):
    """The store could not take a turn's write (or read) now: locked, read-only, unreachable.

    The HTTP layer answers such a turn 503, so Teams delivers it again later.
    """


def is_store_failure(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) means the database could not be used.

    SQLite's operational errors (locked, read-only, disk I/O), asyncpg's
    connection and interface errors, refused or dropped connections and the
    store's own errors. Integrity and programming errors are bugs, not outages.
    """
    import sqlite3
    import sys

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (StoreError, sqlite3.OperationalError, ConnectionError)):
            return True
        if isinstance(current, sqlite3.DatabaseError) and not isinstance(
                current, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
            return True
        asyncpg = sys.modules.get("asyncpg")
        if asyncpg is not None and isinstance(current, (
                asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                asyncpg.CannotConnectNowError, asyncpg.ReadOnlySQLTransactionError,
                asyncpg.InsufficientResourcesError, asyncpg.OperatorInterventionError)):
            return True
        if isinstance(current, OSError) and not isinstance(current, TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


class EtagConflict(KeyError):
    """A write carried an ``e_tag`` that no longer matches the stored item.

    It subclasses ``KeyError`` because botbuilder's ``MemoryStorage`` raises a
    ``KeyError`` for the same condition, so code written against either storage
    catches both.
    """

    def __init__(self, key: str, e_tag: str | None = None) -> None:
        """Build the error for ``key`` written with the stale ``e_tag``.

        Args:
            key: The storage key whose write was refused (or, without
                ``e_tag``, a complete message, for callers re-raising after
                giving up on retries).
            e_tag: The e_tag the writer sent.
        """
        if e_tag is None:
            message = key
        else:
            message = f"Etag conflict on {key!r}: the item changed since e_tag {e_tag!r}"
        super().__init__(message)
        self.key = key
        self.e_tag = e_tag

    def __str__(self) -> str:
        """Return the message itself (KeyError would show its repr)."""
        # KeyError's __str__ repr()s its argument; keep the message readable.
        return str(self.args[0])


@dataclass(frozen=True)
class Ticket:
    """A request for a human agent, as stored.

    Conversation references are the JSON form of botbuilder's
    ``ConversationReference`` (whatever dict the bot layer stored); the store
    only reads ``["conversation"]["id"]`` out of them to index the conversation.
    """

    id: str
    status: TicketStatus
    customer_conversation_id: str
    customer_ref: dict[str, Any]
    customer_name: str
    tenant_id: str
    summary: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    support_thread_id: str | None = None
    support_thread_ref: dict[str, Any] | None = None
    taken_at: datetime | None = None
    closed_at: datetime | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    rating: int | None = None
    solved: bool | None = None


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of ``claim_ticket``.

    Attributes:
        won: True only for the one caller whose claim moved the ticket from
            ``waiting`` to ``taken``.
        agent_name_holding: The name of the agent who has the ticket now (the
            caller when ``won``), or None when nobody does (closed before it
            was taken, or unknown ticket).
        agent_id_holding: The id of that agent, so a repeated press by the same
            agent can be told apart from a rival's.
        status: The ticket's status after the attempt, or None for an unknown id.
    """

    won: bool
    agent_name_holding: str | None
    agent_id_holding: str | None = None
    status: TicketStatus | None = None


@dataclass(frozen=True)
class TranscriptEntry:
    """One relayed or recorded message."""

    id: int
    conversation_id: str
    direction: str
    sender: str
    text: str
    at: datetime
    activity_id: str | None = None
    ticket_id: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    """One audit-log event. ``detail`` has been through ``redact`` before storage."""

    id: int
    at: datetime
    kind: str
    conversation_id: str | None
    tenant_id: str | None
    detail: dict[str, Any]


class _Unset:
    """Marker for "leave this field alone" in partial updates (None is a value)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


@runtime_checkable
class TicketRepository(Protocol):
    """Handoff tickets.

    Every state change is one conditional statement, so two bot instances on
    one database agree on who holds a ticket.
    """

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
        """Open a ticket in ``waiting``, or return the one already open for that customer."""
        ...

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        """Return the ticket with this id, or None."""
        ...

    async def find_open_ticket_by_customer_conversation(
        self, conversation_id: str
    ) -> Ticket | None:
        """Return the waiting or taken ticket of this customer conversation, or None."""
        ...

    async def find_ticket_by_thread(self, thread_conversation_id: str) -> Ticket | None:
        """Return the newest ticket whose support thread has this conversation id, or None."""
        ...

    async def list_tickets(
        self, status: TicketStatus | None = None, *, limit: int | None = None
    ) -> list[Ticket]:
        """Return tickets (optionally only one status), oldest first."""
        ...

    async def queue_position(self, ticket_id: str) -> int | None:
        """Return the 1-based place of a waiting ticket in the queue, or None."""
        ...

    async def claim_ticket(self, ticket_id: str, agent_id: str, agent_name: str) -> ClaimResult:
        """Atomically move a waiting ticket to taken for this agent."""
        ...

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
        """Change the given fields; return the updated ticket, or None if unknown."""
        ...

    async def close_ticket(self, ticket_id: str) -> bool:
        """Close an open ticket; True only for the caller that closed it."""
        ...


@runtime_checkable
class TranscriptRepository(Protocol):
    """Messages relayed between a customer and an agent, deduplicated by activity id."""

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
        """Record a message; False when this activity was already recorded."""
        ...

    async def list_for_conversation(
        self, conversation_id: str, *, limit: int | None = None
    ) -> list[TranscriptEntry]:
        """Return the conversation's messages in order (the last ``limit`` if given)."""
        ...

    async def list_for_ticket(self, ticket_id: str) -> list[TranscriptEntry]:
        """Return the messages recorded for a ticket, in order."""
        ...


@runtime_checkable
class AuditRepository(Protocol):
    """An append-only event log for staff statistics. Never holds tokens or secrets."""

    async def append(
        self,
        kind: str,
        *,
        conversation_id: str | None = None,
        tenant_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record an event; ``detail`` is redacted first."""
        ...

    async def recent(
        self,
        *,
        limit: int = 100,
        kind: str | None = None,
        conversation_id: str | None = None,
    ) -> list[AuditEvent]:
        """Return the newest events first."""
        ...

    async def counts_by_kind(self, days: int, *, now: datetime | None = None) -> dict[str, int]:
        """Count events per kind over the last ``days`` days."""
        ...

    async def counts_by_detail(
        self, kind: str, field: str, days: int, *, now: datetime | None = None
    ) -> dict[str, int]:
        """Count events of one kind per value of ``detail[field]`` over ``days`` days."""
        ...


@runtime_checkable
class KeyValueRepository(Protocol):
    """Small JSON settings that must survive restarts and be shared by all instances."""

    async def get(self, key: str, default: Any = None) -> Any:
        """Return the stored JSON value, or ``default``."""
        ...

    async def set(self, key: str, value: Any) -> None:
        """Store a JSON value, replacing any previous one."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove a key; True if it existed."""
        ...


# --- helpers shared by both backends -------------------------------------------------

_SECRET_KEY = re.compile(
    r"(token|secret|password|passwd|pwd|authorization|assertion|api[_-]?key|"
    r"client[_-]?credential|cookie|refresh|code_verifier|private[_-]?key)",
    re.IGNORECASE,
)
# A JWT (three base64url parts, header starting with '{"' => 'eyJ') anywhere in a string.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
REDACTED = "[redacted]"


def redact(value: Any, _depth: int = 0) -> Any:
    """Remove anything that looks like a credential from a JSON-like value.

    Keys named like a secret (token, password, authorization, …) lose their
    value, and bearer tokens or JWTs inside any string are masked. The audit
    log is read by staff and kept for statistics, so it must never become a
    place where a customer's access token can be found.

    Args:
        value: A dict, list or scalar.

    Returns:
        A redacted copy; the input is not modified.
    """
    if _depth > 64:
        return REDACTED
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if _SECRET_KEY.search(name) and item not in (None, "", False):
                out[name] = REDACTED
            else:
                out[name] = redact(item, _depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [redact(item, _depth + 1) for item in value]
    if isinstance(value, str):
        return _BEARER.sub("Bearer " + REDACTED, _JWT.sub(REDACTED, value))
    return value


def conversation_id_of(ref: Mapping[str, Any] | None) -> str | None:
    """Return ``ref["conversation"]["id"]`` from a stored conversation reference.

    Args:
        ref: A conversation reference as JSON (``ConversationReference.serialize()``
            or ``as_dict()`` both put the id there).

    Returns:
        The conversation id, or None when the reference has none.
    """
    if not ref:
        return None
    conversation = ref.get("conversation")
    if isinstance(conversation, Mapping):
        conv_id = conversation.get("id")
        if isinstance(conv_id, str) and conv_id:
            return conv_id
    return None


def check_status(status: str | None) -> None:
    """Raise ValueError for a status that is not waiting, taken or closed."""
    if status is not None and status not in TICKET_STATUSES:
        raise ValueError(f"ticket status must be one of {TICKET_STATUSES}, got {status!r}")


def check_rating(rating: int | None) -> None:
    """Raise ValueError unless ``rating`` is None or a whole number from 1 to 5."""
    if rating is None:
        return
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValueError(f"rating must be a whole number from 1 to 5, got {rating!r}")


_DETAIL_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_detail_field(field: str) -> None:
    """Raise ValueError unless ``field`` is a plain identifier (it becomes part of a JSON path)."""
    if not _DETAIL_FIELD.match(field):
        raise ValueError(f"detail field must be an identifier, got {field!r}")
