"""The handoff desk on its own: in-memory ports, plain data in, effects out, no TurnContext."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from dialogs import handoff_cards as hc
from dialogs.effects import PostThread, Say, SayTo, UpdateThreadCard
from dialogs.events import Event, Kind
from dialogs.handoff import phrases as p
from dialogs.handoff.desk import DeskConfig, HandoffDesk, Message
from dialogs.handoff.ports import ConversationState, Person, Transition

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
CUSTOMER = {"conversation": {"id": "a:cust"}, "serviceUrl": "https://smba.example/",
            "channelId": "msteams", "user": {"name": "Alex"}}
CHANNEL = {"conversation": {"id": "19:support"}, "serviceUrl": "https://smba.example/",
           "channelId": "msteams", "bot": {"id": "28:bot"}}
THREAD = {"conversation": {"id": "19:support;messageid=1"}, "activityId": "act-1",
          "serviceUrl": "https://smba.example/", "channelId": "msteams"}


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

    def __init__(self) -> None:
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
                        dict(customer_ref), customer_name, tenant_id, dict(summary), NOW)
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


def desk(knowledge: Any) -> tuple[HandoffDesk, MemoryTickets, MemorySettings]:
    tickets, settings = MemoryTickets(), MemorySettings()
    return HandoffDesk(knowledge, tickets, settings, DeskConfig()), tickets, settings


def said(text: str, *, staff: bool = False, who: str = "Alex", conversation: str = "a:cust",
         action: dict[str, Any] | None = None) -> Message:
    return Message(conversation, f"act-{text}", Person(f"29:{who}", who, staff), text,
                   action=action)


async def test_a_request_for_a_person_posts_a_card_and_queues_the_customer(knowledge: Any) -> None:
    handoff, tickets, settings = desk(knowledge)
    await settings.set("handoff/support_channel", CHANNEL)
    events = [Event(Kind.PERSON_REQUESTED)]
    state = ConversationState(recent=[{"who": "Alex", "text": "help me", "at": "", "id": "1"}])
    reason = handoff.reason_for(events, "handoff_requested", {})
    ticket, effects = await handoff.escalate(customer=CUSTOMER, customer_name="Alex",
                                             tenant_id="t", reason=reason or "", state=state,
                                             facts={}, turn_id="act-9", now=NOW)
    assert reason == "person_requested" and state.handoff == {"ticket": ticket.id}
    [post] = [e for e in effects if isinstance(e, PostThread)]
    assert post.channel == CHANNEL and post.summary == "Alex needs a person"
    says = [e.reply.text for e in effects if isinstance(e, Say)]
    assert says == [p.queued(1)]
    again, effects = await handoff.escalate(customer=CUSTOMER, customer_name="Alex",
                                            tenant_id="t", reason="person_requested",
                                            state=state, facts={}, now=NOW)
    assert again.id == ticket.id and [e.reply.text for e in effects if isinstance(e, Say)] == [
        p.already_queued(1)]


async def test_waiting_lines_are_kept_and_arrive_with_the_take_over(knowledge: Any) -> None:
    handoff, tickets, _ = desk(knowledge)
    state = ConversationState()
    ticket, _ = await handoff.escalate(customer=CUSTOMER, customer_name="Alex", tenant_id="t",
                                       reason="person_requested", state=state, facts={}, now=NOW)
    await tickets.update(ticket.id, support_thread_ref=THREAD)
    outcome = await handoff.customer_message(said("anyone there?"), state, NOW)
    assert not outcome.taken and [line.relay is not None for line in outcome.lines] == [True]
    acknowledged = handoff.after_flow(said("anyone there?"), state,
                                      [Event(Kind.NOT_UNDERSTOOD)], [])
    assert [r.text for r in acknowledged or []] == [p.ADDED_TO_REQUEST]
    tickets.lines.append((ticket.id, Line("anyone there?", "Alex", "customer", NOW)))
    stranger = Person("29:eve", "Eve", staff=False)
    _, note, _ = await handoff.card_action(stranger, hc.VERB_TAKE_OVER, {"ticket": ticket.id},
                                           "19:support;messageid=1", NOW)
    assert note == p.STAFF_ONLY and tickets.tickets[ticket.id].status == "waiting"
    dana = Person("29:dana", "Dana", staff=True)
    taken, note, effects = await handoff.card_action(dana, hc.VERB_TAKE_OVER,
                                                     {"ticket": ticket.id}, "", NOW)
    assert note is None and taken.status == "taken"
    assert [s.replies[0].text for s in tickets.sent] == [
        p.JOINED.format(agent="Dana"), "While waiting, Alex wrote:\n\n- anyone there?"]
    assert any(isinstance(e, UpdateThreadCard) for e in effects)
    mara = Person("29:mara", "Mara", staff=True)
    outcome = await handoff.channel_message(
        said("done", staff=True, who="mara", conversation="19:support;messageid=1"),
        channel_id="19:support", channel_ref=CHANNEL, tenant_id="t", now=NOW)
    assert "Take it from Dana" in str(outcome.effects) and tickets.tickets[ticket.id].status == \
        "taken"
    _, note, _ = await handoff.card_action(mara, hc.VERB_TAKE_FROM,
                                           {"ticket": ticket.id, "from": "29:dana"}, "", NOW)
    assert note is None and tickets.tickets[ticket.id].agent_name == "Mara"


async def test_feedback_reads_typed_words_and_refuses_odd_ratings(knowledge: Any) -> None:
    handoff, tickets, _ = desk(knowledge)
    state = ConversationState()
    ticket, _ = await handoff.escalate(customer=CUSTOMER, customer_name="Alex", tenant_id="t",
                                       reason="person_requested", state=state, facts={}, now=NOW)
    await tickets.update(ticket.id, status="closed")
    outcome = await handoff.customer_message(said("yes"), state, NOW)
    assert outcome.taken and tickets.tickets[ticket.id].solved is True
    for value in (1e999, float("nan"), 0, "6"):
        outcome = await handoff.customer_message(
            said("", action={"msa": hc.VERB_RATING, "ticket": ticket.id, "value": value}),
            state, NOW)
        assert p.PICK_A_RATING in [e.reply.text for e in outcome.effects if isinstance(e, Say)]
    outcome = await handoff.customer_message(said("4"), state, NOW)
    assert tickets.tickets[ticket.id].rating == 4 and state.handoff is None


def test_customer_words_are_inert() -> None:
    shown = p.customer_says("**Dana (CLOUDEX support):**", "[x](https://evil.example) <b>hi</b>")
    assert shown.startswith("**\\*\\*Dana (CLOUDEX support):\\*\\*:**")
    assert "\\[x\\](`https://evil.example`)" in shown and "\\<b\\>" in shown
    assert p.attachment_line("a.pdf", "javascript:alert(1)") is None
