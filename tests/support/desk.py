"""The handoff desk's storage ports in memory, for tests of the desk on its own (no store)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from dialogs.effects import SayTo
from dialogs.handoff.ports import Transition


@dataclasses.dataclass
class Ticket:
    id: str
    status: str
    customer_conversation_id: str
    customer_ref: dict[str, Any]
    customer_name: str
    tenant_id: str
    summary: dict[str, Any]
    created_at: datetime
    support_thread_ref: dict[str, Any] | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    rating: int | None = None
    solved: bool | None = None


@dataclasses.dataclass
class Line:
    text: str
    sender: str
    direction: str
    at: datetime


class MemoryTickets:
    """The desk's Tickets port in memory."""

    def __init__(self, now: datetime) -> None:
        self.now = now  # when new tickets are created
        self.tickets: dict[str, Ticket] = {}
        self.lines: list[tuple[str, Line]] = []
        self.sent: list[SayTo] = []
        self.notices: set[str] = set()

    async def get(self, ticket_id: str) -> Ticket | None:
        return self.tickets.get(ticket_id)

    async def open_for(self, conversation_id: str) -> Ticket | None:
        return next((t for t in self.tickets.values() if t.customer_conversation_id ==
                     conversation_id and t.status != "closed"), None)

    async def by_thread(self, thread_id: str) -> Ticket | None:
        return next((t for t in self.tickets.values() if t.support_thread_ref and
                     t.support_thread_ref["conversation"]["id"] == thread_id), None)

    async def waiting(self) -> list[Ticket]:
        return [t for t in self.tickets.values() if t.status == "waiting"]

    async def position(self, ticket_id: str) -> int | None:
        ids = [t.id for t in await self.waiting()]
        return ids.index(ticket_id) + 1 if ticket_id in ids else None

    async def create(self, *, ticket_id: str, customer_ref: Any, customer_name: str,
                     tenant_id: str, summary: Any) -> Ticket:
        existing = await self.open_for(customer_ref["conversation"]["id"])
        if existing is not None:
            return existing
        ticket = Ticket(ticket_id, "waiting", customer_ref["conversation"]["id"],
                        dict(customer_ref), customer_name, tenant_id, dict(summary), self.now)
        self.tickets[ticket_id] = ticket
        return ticket

    async def update(self, ticket_id: str, **fields: Any) -> Ticket | None:
        ticket = self.tickets.get(ticket_id)
        if ticket is not None:
            self.tickets[ticket_id] = ticket = dataclasses.replace(ticket, **fields)
        return ticket

    async def take_over(self, ticket_id: str, agent_id: str, agent_name: str, compose: Any,
                        *, from_agent: str | None = None) -> Transition:
        ticket = self.tickets[ticket_id]
        if (from_agent is None and ticket.status != "waiting") or (
                from_agent is not None and ticket.agent_id != from_agent):
            return Transition(False, ticket)
        ticket = await self.update(ticket_id, status="taken", agent_id=agent_id,
                                   agent_name=agent_name)
        waiting = [line for tid, line in self.lines if tid == ticket_id]
        self.sent += compose(ticket, waiting)
        return Transition(True, ticket)

    async def hand_back(self, ticket_id: str, compose: Any) -> Transition:
        ticket = self.tickets[ticket_id]
        if ticket.status == "closed":
            return Transition(False, ticket)
        ticket = await self.update(ticket_id, status="closed")
        self.sent += compose(ticket, [])
        return Transition(True, ticket)

    async def once(self, ticket_id: str, conversation_id: str, key: str, text: str) -> bool:
        fresh = key not in self.notices
        self.notices.add(key)
        return fresh

    async def messages(self, ticket_id: str) -> list[Line]:
        return [line for tid, line in self.lines if tid == ticket_id]


class MemorySettings(dict[str, Any]):
    async def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key, default)

    async def set(self, key: str, value: Any) -> None:
        self[key] = value
