"""What the handoff desk needs from storage, as Protocols it owns (the edge implements them).

A ticket reaches the desk as anything with the :class:`TicketLike` attributes
(the store's ``Ticket`` is one), so the desk never imports the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from dialogs.effects import SayTo

Ref = Mapping[str, Any]


class TicketLike(Protocol):
    """A handoff ticket as stored."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def customer_conversation_id(self) -> str: ...
    @property
    def customer_ref(self) -> Mapping[str, Any]: ...
    @property
    def customer_name(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def summary(self) -> Mapping[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def support_thread_ref(self) -> Mapping[str, Any] | None: ...
    @property
    def agent_id(self) -> str | None: ...
    @property
    def agent_name(self) -> str | None: ...
    @property
    def rating(self) -> int | None: ...
    @property
    def solved(self) -> bool | None: ...


class LineLike(Protocol):
    """A kept message of a handoff."""

    @property
    def text(self) -> str: ...
    @property
    def sender(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def at(self) -> datetime: ...


# compose(the ticket after the change, what the customer wrote while it waited) -> messages
Compose = Callable[[Any, Sequence[Any]], list[SayTo]]


@dataclass(frozen=True)
class Transition:
    """The outcome of a take over, take from or hand back."""

    won: bool
    ticket: Any | None


class Tickets(Protocol):
    """Handoff tickets; every state change is decided once, whichever instance asks."""

    async def get(self, ticket_id: str) -> TicketLike | None: ...
    async def open_for(self, conversation_id: str) -> TicketLike | None: ...
    async def by_thread(self, thread_conversation_id: str) -> TicketLike | None: ...
    async def waiting(self) -> list[TicketLike]: ...
    async def position(self, ticket_id: str) -> int | None: ...
    async def create(self, *, ticket_id: str, customer_ref: Ref, customer_name: str,
                     tenant_id: str, summary: Mapping[str, Any]) -> TicketLike: ...
    async def update(self, ticket_id: str, **fields: Any) -> TicketLike | None: ...
    async def take_over(self, ticket_id: str, agent_id: str, agent_name: str, compose: Compose,
                        *, from_agent: str | None = None) -> Transition: ...
    async def hand_back(self, ticket_id: str, compose: Compose) -> Transition: ...
    async def once(self, ticket_id: str, conversation_id: str, key: str, text: str) -> bool:
        """Record a notice under a fixed key; True only for the first caller anywhere."""
        ...
    async def messages(self, ticket_id: str) -> list[LineLike]: ...


class Settings(Protocol):
    """Small shared settings (the support channel's reference)."""

    async def get(self, key: str, default: Any = None) -> Any: ...
    async def set(self, key: str, value: Any) -> None: ...


@dataclass(frozen=True)
class Person:
    """Someone who sent an activity."""

    id: str
    name: str
    staff: bool = False


@dataclass
class ConversationState:
    """The part of a customer conversation's stored record the desk reads and changes.

    Attributes:
        handoff: ``{"ticket": id, "lang": …}`` while a ticket is open or its feedback
            pending (``lang``: the language the ticket has the customer in).
        recent: the customer's last few messages (``who``, ``text``, ``at``, ``id``).
        lang: the conversation's language (``snapshot["lang"]``): what the bot says in this
            turn is said in it.
    """

    handoff: dict[str, Any] | None = None
    recent: list[dict[str, Any]] = field(default_factory=list)
    lang: str = "en"
