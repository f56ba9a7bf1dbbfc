"""The handoff desk on its own: in-memory ports, plain data in, effects out, no TurnContext."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dialogs.effects import PostThread, Say, UpdateThreadCard
from dialogs.events import Event, Kind
from dialogs.handoff import cards as hc
from dialogs.handoff import phrases as p
from dialogs.handoff.desk import DeskConfig, HandoffDesk, Message
from dialogs.handoff.phrases import ToCustomer
from dialogs.handoff.ports import ConversationState, Person
from dialogs.i18n import translator
from tests.support.desk import Line, MemorySettings, MemoryTickets

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
EN = translator("en")
CUSTOMER = {"conversation": {"id": "a:cust"}, "serviceUrl": "https://smba.example/",
            "channelId": "msteams", "user": {"name": "Alex"}}
CHANNEL = {"conversation": {"id": "19:support"}, "serviceUrl": "https://smba.example/",
           "channelId": "msteams", "bot": {"id": "28:bot"}}
THREAD = {"conversation": {"id": "19:support;messageid=1"}, "activityId": "act-1",
          "serviceUrl": "https://smba.example/", "channelId": "msteams"}


def desk(knowledge: Any) -> tuple[HandoffDesk, MemoryTickets, MemorySettings]:
    tickets, settings = MemoryTickets(NOW), MemorySettings()
    return HandoffDesk(knowledge, tickets, settings, DeskConfig()), tickets, settings


def said(text: str, *, staff: bool = False, who: str = "Alex", conversation: str = "a:cust",
         action: dict[str, Any] | None = None) -> Message:
    return Message(conversation, f"act-{text}", Person(f"29:{who}", who, staff), text,
                   action=action)


async def test_a_request_for_a_person_posts_a_card_and_queues_the_customer(knowledge: Any) -> None:
    handoff, _, settings = desk(knowledge)
    await settings.set("handoff/support_channel", CHANNEL)
    events = [Event(Kind.PERSON_REQUESTED)]
    state = ConversationState(recent=[{"who": "Alex", "text": "help me", "at": "", "id": "1"}])
    reason = handoff.reason_for(events, "handoff_requested", {})
    ticket, effects = await handoff.escalate(customer=CUSTOMER, customer_name="Alex",
                                             tenant_id="t", reason=reason or "", state=state,
                                             facts={}, turn_id="act-9", now=NOW)
    assert reason == "person_requested" and state.handoff == {"ticket": ticket.id, "lang": "en"}
    [post] = [e for e in effects if isinstance(e, PostThread)]
    assert post.channel == CHANNEL and post.summary == "Alex needs a person"
    says = [e.reply.text for e in effects if isinstance(e, Say)]
    assert says == [p.queued(1, EN)]
    again, effects = await handoff.escalate(customer=CUSTOMER, customer_name="Alex",
                                            tenant_id="t", reason="person_requested",
                                            state=state, facts={}, now=NOW)
    assert again.id == ticket.id and [e.reply.text for e in effects if isinstance(e, Say)] == [
        p.already_queued(1, EN)]


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
    assert [r.text for r in acknowledged or []] == [ToCustomer.ADDED_TO_REQUEST]
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
        ToCustomer.JOINED.format(agent="Dana"), "While waiting, Alex wrote:\n\n- anyone there?"]
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
        said_now = [e.reply.text for e in outcome.effects if isinstance(e, Say)]
        assert ToCustomer.PICK_A_RATING in said_now
    outcome = await handoff.customer_message(said("4"), state, NOW)
    assert tickets.tickets[ticket.id].rating == 4 and state.handoff is None


def test_customer_words_are_inert() -> None:
    shown = p.customer_says("**Dana (CLOUDEX support):**", "[x](https://evil.example) <b>hi</b>")
    assert shown.startswith("**\\*\\*Dana (CLOUDEX support):\\*\\*:**")
    assert "\\[x\\](`https://evil.example`)" in shown and "\\<b\\>" in shown
    assert p.attachment_line("a.pdf", "javascript:alert(1)") is None
