"""The handoff desk's storage ports on the store: tickets, kept lines, the take over's messages.

The desk (:mod:`dialogs.handoff`) owns the Protocols; this edge module
implements them on :class:`bot.store.Store`, turning the messages a take
over or hand back composes into outbox rows written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.effects import outbox_messages
from bot.store import Store
from bot.store.base import DIRECTION_BOT
from dialogs.handoff.ports import Compose, Transition


class StoreTickets:
    """The desk's ``Tickets`` port on the store (tickets, transcripts, the outbox)."""

    def __init__(self, store: Store) -> None:
        """Use the opened store."""
        self.store = store
        self.t = store.tickets
        self._lanes: list[str] = []

    def written_lanes(self) -> tuple[str, ...]:
        """The outbox lanes that take overs and hand backs wrote since the last call."""
        lanes, self._lanes = tuple(dict.fromkeys(self._lanes)), []
        return lanes

    async def get(self, ticket_id: str) -> Any:
        return await self.t.get_ticket(ticket_id)

    async def open_for(self, conversation_id: str) -> Any:
        return await self.t.find_open_ticket_by_customer_conversation(conversation_id)

    async def by_thread(self, thread_conversation_id: str) -> Any:
        return await self.t.find_ticket_by_thread(thread_conversation_id)

    async def waiting(self) -> list[Any]:
        return await self.t.list_tickets("waiting")

    async def position(self, ticket_id: str) -> int | None:
        return await self.t.queue_position(ticket_id)

    async def create(self, *, ticket_id: str, customer_ref: Mapping[str, Any],
                     customer_name: str, tenant_id: str, summary: Mapping[str, Any]) -> Any:
        return await self.t.create_ticket(customer_ref=customer_ref, customer_name=customer_name,
                                          tenant_id=tenant_id, summary=summary,
                                          ticket_id=ticket_id)

    async def update(self, ticket_id: str, **fields: Any) -> Any:
        return await self.t.update_ticket(ticket_id, **fields)

    def _rows(self, compose: Compose) -> Any:
        return lambda ticket, waiting: [row for say in compose(ticket, waiting)
                                        for row in outbox_messages(say)]

    async def take_over(self, ticket_id: str, agent_id: str, agent_name: str, compose: Compose,
                        *, from_agent: str | None = None) -> Transition:
        done = await self.store.turns.take_over(ticket_id, agent_id, agent_name,
                                                self._rows(compose), from_agent=from_agent)
        self._lanes += done.lanes
        return Transition(done.won, done.ticket)

    async def hand_back(self, ticket_id: str, compose: Compose) -> Transition:
        done = await self.store.turns.hand_back(ticket_id, self._rows(compose))
        self._lanes += done.lanes
        return Transition(done.won, done.ticket)

    async def once(self, ticket_id: str, conversation_id: str, key: str, text: str) -> bool:
        return await self.store.transcripts.append(
            conversation_id=conversation_id, direction=DIRECTION_BOT, text=text,
            sender="Mail Setup Assistant", activity_id=key, ticket_id=ticket_id)

    async def messages(self, ticket_id: str) -> list[Any]:
        return await self.store.transcripts.list_for_ticket(ticket_id)
