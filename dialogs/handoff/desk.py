"""The handoff desk: when a person is needed, who may take over, relay and end, and the feedback.

Teams rejects the Bot Framework handoff events, so in Teams the bot relays
(platform.md §3): each escalation becomes a ticket and a card posted as a new
thread in the support channel; the staff member who presses "Take over" first
gets the customer; from then on the customer's messages go into the thread
and that agent's messages in the thread go to the customer, until they type
``done`` or press "End and hand back". The customer then rates the help.

The customer hears the bot in their conversation's language
(:class:`ConversationState` ``lang``), kept on the ticket when the handoff
starts (and when the customer changes it while waiting), so what reaches
them later from an agent's press, the sweep or the outbox is in it too;
agents read English, with the customer's language named on the card.

The desk takes plain data (who sent what, the conversation's handoff state)
and returns effects (:mod:`dialogs.effects`); storage is reached through the
ports it owns (:mod:`dialogs.handoff.ports`). It never sends anything itself,
so a turn it decides can be recomputed after a conflict, and what must
arrive goes through the edge's outbox with the turn's state.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dialogs import store_keys
from dialogs.cards import with_handoff_status
from dialogs.effects import (
    Audit,
    Count,
    Effect,
    HubHandoff,
    PostThread,
    Say,
    SayTo,
    Undeliverable,
    UpdateThreadCard,
)
from dialogs.events import Event, Kind, has
from dialogs.handoff import cards as hc
from dialogs.handoff import phrases as p
from dialogs.handoff.phrases import ToCustomer
from dialogs.handoff.policy import (
    DONE_PHRASES,
    QUEUE,
    REGISTER_PHRASES,
    asks_for_queue,
    escalation_reason,
    pressed_title,
    rating_of,
    typed_feedback,
)
from dialogs.handoff.ports import ConversationState, Person, Settings, Tickets
from dialogs.i18n import Translator, language, translator
from dialogs.knowledge import Knowledge
from dialogs.session import Reply
from dialogs.support_hours import SupportHours
from dialogs.text import said

KV_SUPPORT_CHANNEL = store_keys.SUPPORT_CHANNEL
TEAMS = "msteams"
HUB_AGENT_ID = "handoff-hub"
MAX_RECENT = 5
RECENT_TEXT = 500
WITHHELD = "[withheld: it looked like it contained a password]"
METRIC = "msa_handoffs_total"
VERBS = (hc.VERB_TAKE_OVER, hc.VERB_END, hc.VERB_REFRESH, hc.VERB_TAKE_FROM)


@dataclass(frozen=True)
class DeskConfig:
    """The settings the desk reads."""

    support_channel_id: str = ""
    app_tenant_id: str = ""
    timeout_minutes: int = 10
    hub_protocol: bool = False
    hours: SupportHours | None = None


@dataclass(frozen=True)
class Message:
    """What someone sent: their words, shared files, a card button's data."""

    conversation_id: str
    activity_id: str | None
    sender: Person
    text: str = ""
    files: tuple[tuple[str, str], ...] = ()  # (name, https url)
    action: Mapping[str, Any] | None = None
    has_password: bool = False

    def body(self, files: Sequence[str]) -> str:
        """The words and the file lines, as one message."""
        return "\n\n".join(part for part in [self.text.strip(), *files] if part)


@dataclass
class Outcome:
    """What the desk decided for one turn."""

    taken: bool = False
    effects: list[Effect] = field(default_factory=list)
    # Transcript lines to keep with the turn's state (see :class:`KeepLine`).
    lines: list[KeepLine] = field(default_factory=list)
    replace_replies: list[Reply] | None = None


@dataclass(frozen=True)
class KeepLine:
    """A message of an open handoff, kept; relayed only if the ticket is taken at commit."""

    ticket_id: str
    conversation_id: str
    direction: str
    text: str
    sender: str
    activity_id: str | None
    relay: SayTo | None = None


def _ticket_view(ticket: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(ticket) and not isinstance(ticket, type):
        return dataclasses.asdict(ticket)
    return dict(vars(ticket))


def _conversation_id(ref: Mapping[str, Any] | None) -> str:
    conversation = (ref or {}).get("conversation")
    found = conversation.get("id") if isinstance(conversation, Mapping) else None
    return found if isinstance(found, str) else ""


def _tr(ticket: Any) -> Translator:
    """The translator of the customer a ticket is about (the language kept on it)."""
    return translator(hc.customer_language(ticket.summary))


def _hold(state: ConversationState, ticket: Any) -> None:
    """Remember the customer's ticket, and the language it has them in, in their record."""
    state.handoff = {"ticket": ticket.id, "lang": hc.customer_language(ticket.summary)}



def into_request_card(replies: Sequence[Reply], effects: Sequence[Effect]
                      ) -> tuple[list[Reply], list[Effect]]:
    """Say a request's notices inside the flow's "A person from CLOUDEX support" card.

    Asked for a person, the customer gets the flow's card and the handoff's
    notices (asked, their place in the queue, the support hours) in the same
    turn. Side by side they said the same thing twice ("they will see your
    answers so far"), so the notices take the place of the card's own
    acknowledgement: one message, nothing lost. Without that card in the
    turn (a request made for the customer after failed fixes, say) the
    notices stay as they are.

    Args:
        replies: The flow's replies of this turn.
        effects: What the handoff decided for this turn.

    Returns:
        The replies and effects to carry out instead.
    """
    notices = [e for e in effects if isinstance(e, Say) and e.reply.text and e.reply.card is None]
    for i, reply in enumerate(replies):
        card = with_handoff_status(reply.card, [e.reply.text for e in notices]) \
            if reply.card is not None else None
        if card is not None:
            return ([*replies[:i], Reply(reply.text, card), *replies[i + 1:]],
                    [e for e in effects if e not in notices])
    return list(replies), list(effects)


class HandoffDesk:
    """Escalation, the support-channel relay, hand back and feedback (see the module docstring)."""

    def __init__(self, knowledge: Knowledge, tickets: Tickets, settings: Settings,
                 config: DeskConfig) -> None:
        """Use the knowledge (question labels, mailbox types), the ports and the settings."""
        self.knowledge = knowledge
        self.tickets = tickets
        self.kv = settings
        self.config = config

    # ----- the customer's conversation --------------------------------------------------------
    async def customer_message(self, message: Message, state: ConversationState,
                               now: datetime) -> Outcome:
        """Before the flow: feedback, a relay to the agent, or let the flow answer (not taken)."""
        action = message.action or {}
        if message.sender.staff and not action and asks_for_queue(message.text):
            return Outcome(True, await self.queue(now))  # staff may ask in their own chat too
        if action.get("msa") in (hc.VERB_SOLVED, hc.VERB_RATING):
            return await self._feedback(message, state, str(action.get("ticket") or ""),
                                        str(action["msa"]), action.get("value"))
        files = [shared for name, url in message.files
                 if (shared := p.attachment_line(name, url)) is not None]
        body = message.body(files)
        if body and not action:
            self._remember(state, message, body, now)
        if state.handoff is None:
            return Outcome()
        ticket = await self.tickets.get(str(state.handoff.get("ticket") or ""))
        if ticket is None or ticket.customer_conversation_id != message.conversation_id:
            state.handoff = None
            return Outcome()
        if ticket.status == "closed":
            return await self._after_close(message, state, ticket, body)
        name = ticket.customer_name or message.sender.name
        tr = translator(state.lang)
        if action:
            # An old flow button while someone from support has the conversation: tell them.
            title = pressed_title(action, self.knowledge)
            if ticket.status != "taken" or title is None:
                return Outcome()
            body = p.CUSTOMER_PRESSED.format(title=title)
        if ticket.status == "taken" and ticket.support_thread_ref is None:
            return Outcome(taken=True)  # a handoff hub has the conversation; the bot stays quiet
        if not body:
            if ticket.status == "taken":
                return Outcome(True, [Say(Reply(tr.format(
                    ToCustomer.TYPE_YOUR_MESSAGE,
                    agent=p.name_of(ticket.agent_name, tr(ToCustomer.AN_AGENT)))))])
            return Outcome()
        if message.has_password:
            line = KeepLine(ticket.id, message.conversation_id, "customer", WITHHELD, name,
                            message.activity_id)
            if ticket.status == "taken":
                from dialogs import messages

                return Outcome(True, [Say(Reply(tr(messages.PASSWORD_WARNING) + " "
                                                + tr(ToCustomer.KEPT_BACK)))], [line])
            return Outcome(lines=[line])
        relay = None
        if ticket.support_thread_ref is not None:
            # Made inert only when it goes to the thread (most waiting messages are just kept).
            relay = SayTo(ticket.support_thread_ref, (Reply(p.customer_says(name, body)),),
                          ticket_id=ticket.id,
                          on_fail=Undeliverable(ticket.customer_ref,
                                                tr(ToCustomer.NOT_PASSED_ON)))
        line = KeepLine(ticket.id, message.conversation_id, "customer", body, name,
                        message.activity_id, relay)
        if ticket.status == "taken":
            return Outcome(True, [Count(METRIC, {"kind": "relayed_to_agent"})], [line])
        # Waiting: the flow answers, and the agent will see it when they take over.
        return Outcome(lines=[line])

    def after_flow(self, message: Message, state: ConversationState, events: Sequence[Event],
                   replies: list[Reply]) -> list[Reply] | None:
        """While a person is awaited, text the flow made nothing of is added to the request."""
        if state.handoff is None or message.action or not has(events, Kind.NOT_UNDERSTOOD):
            return None
        return [Reply(translator(state.lang)(ToCustomer.ADDED_TO_REQUEST))]

    async def follow_language(self, state: ConversationState) -> None:
        """Keep the ticket's language the conversation's, when the customer changed it meanwhile.

        What reaches the customer outside their own turns (an agent joining,
        the hand back, the timeout) is said in the language kept on the
        ticket; costs nothing unless the language changed during a handoff.
        """
        held = state.handoff
        if held is None or language(held.get("lang")) == language(state.lang):
            return
        ticket = await self.tickets.get(str(held.get("ticket") or ""))
        if ticket is not None:
            await self.tickets.update(ticket.id, summary={**ticket.summary,
                                                          "lang": language(state.lang)})
        state.handoff = {**held, "lang": language(state.lang)}

    def _remember(self, state: ConversationState, message: Message, body: str,
                  now: datetime) -> None:
        text = WITHHELD if message.has_password else body[:RECENT_TEXT]
        state.recent = [*state.recent, {"who": message.sender.name, "text": text,
                                         "at": now.isoformat(), "id": message.activity_id or ""}
                        ][-MAX_RECENT:]

    async def _after_close(self, message: Message, state: ConversationState, ticket: Any,
                           body: str) -> Outcome:
        if not body or message.action:
            return Outcome()
        stage = "solved" if ticket.solved is None and ticket.rating is None else "rating"
        if ticket.rating is not None:
            state.handoff = None
            return Outcome()
        verb_value = typed_feedback(body, stage)
        if verb_value is None:
            state.handoff = None  # the customer moved on: stop reading replies as feedback
            return Outcome()
        return await self._feedback(message, state, ticket.id, *verb_value)

    async def _feedback(self, message: Message, state: ConversationState, ticket_id: str,
                        verb: str, value: Any) -> Outcome:
        tr = translator(state.lang)
        ticket = await self.tickets.get(ticket_id) if ticket_id else None
        if ticket is None or ticket.customer_conversation_id != message.conversation_id:
            return Outcome(True, [Say(Reply(tr(ToCustomer.STALE_FEEDBACK)))])
        audit = {"conversation_id": ticket.customer_conversation_id,
                 "tenant_id": ticket.tenant_id}
        if verb == hc.VERB_SOLVED:
            solved = str(value).lower() in {"yes", "true", "1"}
            await self.tickets.update(ticket.id, solved=solved)
            effects: list[Effect] = [Audit("handoff", {"event": "solved" if solved else
                                                       "not_solved", "ticket": ticket.id}, **audit)]
            if ticket.rating is None:
                _hold(state, ticket)
                effects.append(Say(Reply(tr(ToCustomer.GLAD if solved
                                            else ToCustomer.SORRY_NOT_SOLVED))))
                effects.append(Say(Reply(card=hc.rating_card(ticket.id, lang=tr.lang))))
            else:
                effects.append(Say(Reply(tr(ToCustomer.NOTED))))
            return Outcome(True, effects)
        rating = rating_of(value)
        if rating is None:
            return Outcome(True, [Say(Reply(tr(ToCustomer.PICK_A_RATING))), Say(Reply(
                card=hc.rating_card(ticket.id, lang=tr.lang)))])
        updated = await self.tickets.update(ticket.id, rating=rating) or ticket
        state.handoff = None
        return Outcome(True, [
            Count(METRIC, {"kind": "rated"}),
            Audit("handoff", {"event": "rated", "ticket": ticket.id, "rating": rating}, **audit),
            Say(Reply(p.rated(updated.solved, rating, tr)))])

    # ----- escalation ---------------------------------------------------------------------------
    def reason_for(self, events: Sequence[Event], state: str,
                   facts: Mapping[str, Any]) -> str | None:
        """Why this turn's outcome needs a person, or None (see :func:`escalation_reason`)."""
        return escalation_reason(events, state, facts, self.knowledge)

    async def escalate(self, *, customer: Mapping[str, Any], customer_name: str, tenant_id: str,
                       reason: str, state: ConversationState, facts: Mapping[str, Any],
                       checks: Sequence[Mapping[str, Any]] = (), detail: str = "",
                       in_turn: bool = True, turn_id: str | None = None,
                       now: datetime) -> tuple[Any, list[Effect]]:
        """Ask a person to take over; at most one open ticket per customer.

        Args:
            customer: The customer's conversation reference.
            in_turn: The customer's turn is running (notices join its reply); False sends
                them to the customer's conversation.
            turn_id: The activity that led here: a retried turn gets the same ticket id.

        Returns:
            The customer's open ticket and the effects.
        """
        conversation_id = _conversation_id(customer)
        if not conversation_id:
            raise ValueError("the customer reference has no conversation id")

        tr = translator(state.lang)

        def tell(text: str) -> Effect:
            return Say(Reply(text)) if in_turn else SayTo(customer, (Reply(text),))

        existing = await self.tickets.open_for(conversation_id)
        if existing is not None:
            return await self._already_open(existing, checks, tell, state)
        last = [{"who": m.get("who") or customer_name, "text": m.get("text", ""),
                 "at": m.get("at", "")} for m in state.recent][-hc.MAX_MESSAGES:]
        summary = hc.ticket_summary(self.knowledge, facts, reason, checks=checks,
                                    last_messages=last, detail=detail, lang=state.lang)
        seed = f"{conversation_id}\x1f{turn_id}" if turn_id else None
        wanted = hashlib.sha256(seed.encode()).hexdigest()[:12] if seed else \
            hashlib.sha256(f"{conversation_id}{now.isoformat()}".encode()).hexdigest()[:12]
        ticket = await self.tickets.create(ticket_id=wanted, customer_ref=customer,
                                           customer_name=customer_name, tenant_id=tenant_id,
                                           summary=summary)
        if ticket.id != wanted:  # another instance escalated the same customer just now
            return await self._already_open(ticket, checks, tell, state)
        _hold(state, ticket)
        effects: list[Effect] = [Count(METRIC, {"kind": "escalated"}), Audit(
            "handoff", {"event": "escalated", "ticket": ticket.id, "reason": reason},
            conversation_id=conversation_id, tenant_id=tenant_id)]
        if self.config.hub_protocol and customer.get("channelId") != TEAMS:
            effects += [Count(METRIC, {"kind": "hub_initiated"}), HubHandoff(
                customer, self._hub_context(ticket),
                tuple(self._hub_transcript(state, customer_name))),
                tell(tr(ToCustomer.HUB_CONNECTING))]
            return ticket, effects
        channel = await self.support_target(customer)
        if channel is not None:
            effects.append(self._post(ticket, channel))
        position = await self.tickets.position(ticket.id)
        effects.append(tell(p.queued(position, tr, channel_known=channel is not None)))
        hours = self.config.hours
        if hours is not None and not hours.is_open(now):
            when = p.when(hours.next_open(now), now, hours.zone, tr)
            notice = tr.format(ToCustomer.AFTER_HOURS, when=when, hours=p.hours_text(hours, tr))
            # Counts as the "nobody free" notice, so the sweep does not send a second one.
            await self.tickets.once(ticket.id, conversation_id,
                                    store_keys.timeout_notice(ticket.id), notice)
            effects += [tell(notice), Count(METRIC, {"kind": "after_hours"})]
        return ticket, effects

    async def _already_open(self, ticket: Any, checks: Sequence[Mapping[str, Any]], tell: Any,
                            state: ConversationState) -> tuple[Any, list[Effect]]:
        summary = dict(ticket.summary)
        if checks:
            summary["checks"] = hc.ticket_summary(self.knowledge, {}, "checks",
                                                  checks=checks)["checks"]
        # Asked again, perhaps in another language: what follows is said in this one.
        summary["lang"] = language(state.lang)
        if summary != ticket.summary:
            ticket = await self.tickets.update(ticket.id, summary=summary) or ticket
        _hold(state, ticket)
        if ticket.status != "waiting":
            return ticket, []
        position = await self.tickets.position(ticket.id)
        return ticket, [tell(p.already_queued(position, translator(state.lang)))]

    def _post(self, ticket: Any, channel: Mapping[str, Any]) -> PostThread:
        who = " ".join((ticket.customer_name or p.A_CUSTOMER).split())[:80]
        return PostThread(channel, ticket.id, hc.thread_card(_ticket_view(ticket)),
                          summary=p.NEEDS_A_PERSON.format(customer=who),
                          on_fail=Undeliverable(ticket.customer_ref,
                                                _tr(ticket)(ToCustomer.AGENT_NOT_DELIVERED)))

    def _hub_context(self, ticket: Any) -> dict[str, Any]:
        return {"ticketId": ticket.id, "reason": ticket.summary.get("reason"),
                "customer": {"name": ticket.customer_name, "tenantId": ticket.tenant_id},
                "summary": ticket.summary, "skill": "mail-setup"}

    @staticmethod
    def _hub_transcript(state: ConversationState, name: str) -> list[dict[str, Any]]:
        return [{"type": "message", "id": m.get("id") or f"recent-{n}", "timestamp": m.get("at"),
                 "from": {"name": m.get("who") or name, "role": "user"}, "text": m.get("text")}
                for n, m in enumerate(state.recent)]

    # ----- the support channel ------------------------------------------------------------------
    async def support_channel(self) -> dict[str, Any] | None:
        """The stored conversation reference of the support channel, if any."""
        ref = await self.kv.get(KV_SUPPORT_CHANNEL)
        return ref if isinstance(ref, dict) and _conversation_id(ref) else None

    async def support_target(self, fallback: Mapping[str, Any]) -> dict[str, Any] | None:
        """Where to post: the stored channel, pinned by SUPPORT_CHANNEL_ID when that is set."""
        stored = await self.support_channel()
        pinned = self.config.support_channel_id
        if stored is None and not pinned:
            return None
        base = dict(stored or {})
        if not base:
            # Only the id is configured: reach it through the customer's Teams service.
            base = {"serviceUrl": fallback.get("serviceUrl"), "channelId": TEAMS,
                    "bot": fallback.get("bot"),
                    "conversation": {"id": pinned, "isGroup": True, "conversationType": "channel",
                                     "tenantId": self.config.app_tenant_id}}
        elif pinned and _conversation_id(base) != pinned:
            base["conversation"] = {**base.get("conversation", {}), "id": pinned}
        return base if base.get("serviceUrl") else None

    async def register(self, channel_ref: Mapping[str, Any], tenant_id: str, *,
                       announce: bool) -> list[Effect]:
        """Make a channel the support channel; post the cards of requests that waited for one."""
        await self.kv.set(KV_SUPPORT_CHANNEL, dict(channel_ref))
        effects: list[Effect] = [Audit("handoff", {"event": "support_channel_set"},
                                       tenant_id=tenant_id)]
        if announce:
            pinned = self.config.support_channel_id
            note = p.CHANNEL_PINNED.format(pinned=pinned) if pinned and pinned != _conversation_id(
                channel_ref) else ""
            effects.append(Say(Reply(p.CHANNEL_SET + note)))
        for ticket in await self.tickets.waiting():
            if ticket.support_thread_ref is None:
                target = await self.support_target(ticket.customer_ref)
                if target is not None:
                    effects.append(self._post(ticket, target))
        return effects

    async def queue(self, now: datetime) -> list[Effect]:
        """The waiting tickets, for ``queue`` typed by staff (support channel or their own chat).

        The caller established the sender is staff: the card names customers.
        """
        waiting = await self.tickets.waiting()
        return [Say(Reply(card=hc.queue_card([_ticket_view(t) for t in waiting], now)))]

    async def is_support_channel(self, channel_id: str) -> bool:
        """True for the support channel (stored or pinned)."""
        if channel_id == self.config.support_channel_id:
            return True
        return _conversation_id(await self.support_channel()) == channel_id

    async def channel_message(self, message: Message, *, channel_id: str,
                              channel_ref: Mapping[str, Any], tenant_id: str,
                              now: datetime) -> Outcome:
        """A message in a channel: register, queue, relay to the customer, done (staff only)."""
        words = said(message.text)
        if words in REGISTER_PHRASES:
            if not message.sender.staff:
                return Outcome(True, [Say(Reply(p.STAFF_ONLY_CHANNEL))])
            return Outcome(True, await self.register(channel_ref, tenant_id, announce=True))
        ticket = await self.tickets.by_thread(message.conversation_id)
        in_support = await self.is_support_channel(channel_id)
        if ticket is None and not in_support:
            return Outcome()
        if not message.sender.staff:
            # The support channel and its threads are for staff: nothing here for anyone else.
            return Outcome(True, [Say(Reply(p.STAFF_ONLY))])
        effects: list[Effect] = []
        pinned = self.config.support_channel_id
        if pinned and channel_id == pinned and (
                _conversation_id(await self.support_channel()) != pinned):
            effects += await self.register(channel_ref, tenant_id, announce=False)
        action = message.action or {}
        verb = action.get("msa")
        if verb in VERBS:
            # A client without Universal Actions sent the card's Action.Submit fallback.
            found, note, more = await self.card_action(message.sender, str(verb), action,
                                                       message.conversation_id, now)
            effects += more
            if note:
                effects.append(Say(Reply(note)))
            elif found is not None and verb == hc.VERB_TAKE_OVER:
                effects.append(Say(Reply(p.TAKEN_OVER.format(agent=p.name_of(
                    found.agent_name, p.AN_AGENT)))))
            return Outcome(True, effects)
        if words == QUEUE:
            return Outcome(True, [*effects, *await self.queue(now)])
        if ticket is None:
            return Outcome(True, [*effects, Say(Reply(p.CHANNEL_HELP))])
        agent = message.sender
        holder = p.name_of(ticket.agent_name, p.AN_AGENT)
        if words in DONE_PHRASES:
            if ticket.status == "taken" and ticket.agent_id != agent.id:
                return Outcome(True, [*effects, Say(Reply(p.ONLY_HOLDER_ENDS.format(
                    agent=holder), card=hc.take_from_card(ticket.id, ticket.agent_id, holder)))])
            _, note, more = await self.hand_back(ticket)
            return Outcome(True, [*effects, *more, Say(Reply(note or p.HANDED_BACK_AGENT))])
        if ticket.status == "waiting":
            return Outcome(True, [*effects, Say(Reply(p.PRESS_TAKE_OVER))])
        if ticket.status == "closed":
            return Outcome(True, [*effects, Say(Reply(p.ENDED_NOT_PASSED))])
        if ticket.agent_id != agent.id:
            return Outcome(True, [*effects, Say(Reply(p.ONLY_HOLDER.format(agent=holder),
                                  card=hc.take_from_card(ticket.id, ticket.agent_id, holder)))])
        files = [shared for name, url in message.files
                 if (shared := p.attachment_line(name, url)) is not None]
        body = message.body(files)
        if not body:
            return Outcome(True, effects)
        # The agent's words as written; the header around them in the customer's language.
        relay = SayTo(ticket.customer_ref, (Reply(p.agent_says(agent.name, body, _tr(ticket))),),
                      ticket_id=ticket.id,
                      on_fail=Undeliverable(ticket.support_thread_ref or {},
                                            p.CUSTOMER_UNREACHABLE))
        line = KeepLine(ticket.id, ticket.customer_conversation_id, "agent", body, agent.name,
                        message.activity_id, relay)
        return Outcome(True, [*effects, Count(METRIC, {"kind": "relayed_to_customer"})], [line])

    async def card_action(self, actor: Person, verb: str, data: Mapping[str, Any],
                          thread_id: str, now: datetime) -> tuple[Any, str | None, list[Effect]]:
        """Take over, take from, end or refresh, pressed on a thread card (staff only)."""
        ticket_id = data.get("ticket")
        ticket = (await self.tickets.get(str(ticket_id)) if ticket_id
                  else await self.tickets.by_thread(thread_id))
        if ticket is None:
            return None, p.NO_SUCH_HANDOFF, []
        if not actor.staff:
            return None, p.STAFF_ONLY, []
        if verb == hc.VERB_REFRESH:
            return ticket, None, []
        if verb == hc.VERB_END:
            if ticket.status == "taken" and ticket.agent_id != actor.id:
                return ticket, p.ONLY_HOLDER_ENDS.format(
                    agent=p.name_of(ticket.agent_name, p.AN_AGENT)), []
            return await self.hand_back(ticket)
        if verb == hc.VERB_TAKE_FROM:
            return await self.take_over(ticket, actor, from_agent=str(data.get("from") or ""))
        return await self.take_over(ticket, actor)

    async def take_over(self, ticket: Any, agent: Person, *,
                        from_agent: str | None = None) -> tuple[Any, str | None, list[Effect]]:
        """Give the customer to ``agent``: from the queue, or explicitly from a colleague."""
        name = agent.name or p.AN_AGENT

        def compose(taken: Any, waiting: Sequence[Any]) -> list[SayTo]:
            tr = _tr(taken)  # to the customer, in their language
            if from_agent:
                text = tr.format(ToCustomer.TAKEN_FROM,
                                 agent=p.name_of(name, tr(ToCustomer.AN_AGENT)),
                                 previous=p.name_of(ticket.agent_name, tr(ToCustomer.AN_AGENT)))
            else:
                text = tr.format(ToCustomer.JOINED, agent=p.name_of(name, tr(ToCustomer.AN_AGENT)))
            shown = p.name_of(name, p.AN_AGENT)
            messages = [SayTo(taken.customer_ref, (Reply(text),), ticket_id=taken.id,
                              on_fail=Undeliverable(taken.support_thread_ref or {},
                                                    p.CUSTOMER_UNREACHABLE))]
            thread = taken.support_thread_ref
            if thread and waiting and not from_agent:
                lines = "\n\n".join(f"- {p.inert(hc.clip(m.text, 1000))}" for m in waiting[-20:])
                customer = p.name_of(taken.customer_name, "the customer")
                messages.append(SayTo(thread, (Reply(p.WHILE_WAITING.format(
                    customer=customer, lines=lines)),), ticket_id=taken.id))
            if thread and from_agent:
                messages.append(SayTo(thread, (Reply(p.TAKEN_FROM_NOTE.format(
                    agent=shown, previous=p.name_of(ticket.agent_name, p.AN_AGENT))),),
                    ticket_id=taken.id))
            return messages

        if from_agent is not None and (ticket.status != "taken" or from_agent != ticket.agent_id):
            return ticket, p.ALREADY_ENDED if ticket.status == "closed" else p.ALREADY_TAKEN.format(
                agent=p.name_of(ticket.agent_name, p.AN_AGENT)), []
        if from_agent is not None and from_agent == agent.id:
            return ticket, None, []
        outcome = await self.tickets.take_over(ticket.id, agent.id, name, compose,
                                               from_agent=from_agent)
        current = outcome.ticket or ticket
        if outcome.won:
            effects: list[Effect] = [
                Count(METRIC, {"kind": "taken"}),
                Audit("handoff", {"event": "taken", "ticket": current.id, "agent": name},
                      conversation_id=current.customer_conversation_id,
                      tenant_id=current.tenant_id)]
            effects += self._card_update(current)
            return current, None, effects
        if current.status == "taken" and current.agent_id == agent.id:
            return current, None, []  # the same agent pressed twice
        if current.status == "taken":
            return current, p.ALREADY_TAKEN.format(agent=p.name_of(
                current.agent_name, p.AN_AGENT)), [Count(METRIC, {"kind": "refused"})]
        return current, p.ALREADY_ENDED, []

    async def hand_back(self, ticket: Any) -> tuple[Any, str | None, list[Effect]]:
        """Close the ticket and hand the customer back to the bot, asking how it went."""
        def compose(closed: Any, _: Sequence[Any]) -> list[SayTo]:
            tr = _tr(closed)  # to the customer, in their language
            agent = p.name_of(closed.agent_name, "")
            said = (tr.format(ToCustomer.HANDED_BACK, agent=agent) if agent
                    else tr(ToCustomer.HANDED_BACK_BY_SUPPORT))
            solved = hc.solved_card(closed.id, closed.agent_name, lang=tr.lang)
            return [SayTo(closed.customer_ref, (Reply(said), Reply(card=solved)),
                ticket_id=closed.id,
                on_fail=Undeliverable(closed.support_thread_ref or {}, p.CUSTOMER_UNREACHABLE))]

        outcome = await self.tickets.hand_back(ticket.id, compose)
        if not outcome.won:
            return outcome.ticket or ticket, p.ALREADY_ENDED, []
        closed = outcome.ticket or ticket
        return closed, None, [
            Count(METRIC, {"kind": "closed"}),
            Audit("handoff", {"event": "closed", "ticket": closed.id},
                  conversation_id=closed.customer_conversation_id, tenant_id=closed.tenant_id),
            *self._card_update(closed)]

    @staticmethod
    def _card_update(ticket: Any) -> list[Effect]:
        thread = ticket.support_thread_ref
        if not thread or not thread.get("activityId"):
            return []
        return [UpdateThreadCard(thread, hc.thread_card(_ticket_view(ticket)))]

    def thread_card(self, ticket: Any, note: str | None = None) -> dict[str, Any]:
        """The thread card of a ticket in its current state."""
        return hc.thread_card(_ticket_view(ticket), note=note)

    # ----- a handoff hub's events ---------------------------------------------------------------
    async def hub_status(self, conversation_id: str, value: Mapping[str, Any],
                         state: ConversationState) -> list[Effect]:
        """Follow a hub's ``handoff.status`` (accepted, failed, completed)."""
        hub_state = str(value.get("state", "")) or "unknown"
        tr = translator(state.lang)
        ticket = await self.tickets.open_for(conversation_id)
        if ticket is None:
            return []
        effects: list[Effect] = [Count(METRIC, {"kind": f"hub_{hub_state}"}), Audit(
            "handoff", {"event": "hub_" + hub_state, "ticket": ticket.id},
            conversation_id=conversation_id, tenant_id=ticket.tenant_id)]
        if hub_state == "accepted":
            agent = str(value.get("agentName") or value.get("message") or "") or "an agent"
            await self.tickets.take_over(ticket.id, HUB_AGENT_ID, agent, lambda t, w: [])
        elif hub_state == "failed":
            outcome = await self.tickets.hand_back(ticket.id, lambda t, w: [])
            if outcome.won:
                state.handoff = None
                # The hub's reason is its own words: shown as it gave them, made inert.
                reason = p.inert(" ".join(str(value.get("message") or "").split())[:200])
                effects.append(Say(Reply(tr.format(ToCustomer.HUB_FAILED_BECAUSE, reason=reason)
                                         if reason else tr(ToCustomer.HUB_FAILED))))
        elif hub_state == "completed":
            outcome = await self.tickets.hand_back(ticket.id, lambda t, w: [])
            if outcome.won:
                _hold(state, ticket)
                effects += [Say(Reply(tr(ToCustomer.HANDED_BACK_BY_SUPPORT))),
                            Say(Reply(card=hc.solved_card(ticket.id, None, lang=tr.lang)))]
        return effects

    # ----- nobody free --------------------------------------------------------------------------
    async def sweep(self, now: datetime) -> tuple[int, list[Effect]]:
        """Tell each customer whose ticket waited past the timeout when they will hear back.

        Safe from any number of instances at once: the notice is recorded under a
        fixed key, and only the instance whose record is new sends it.
        """
        overdue_before = now - timedelta(minutes=self.config.timeout_minutes)
        told = 0
        effects: list[Effect] = []
        for ticket in await self.tickets.waiting():
            if ticket.created_at > overdue_before:
                break  # oldest first: the rest are younger still
            tr = _tr(ticket)
            back = self._when_back(now)
            hours = self.config.hours
            notice = p.timeout(p.when(back, now, hours.zone, tr) if back and hours else None, tr)
            if not await self.tickets.once(ticket.id, ticket.customer_conversation_id,
                                           store_keys.timeout_notice(ticket.id), notice):
                continue
            told += 1
            effects += [Count(METRIC, {"kind": "timeout"}), Audit(
                "handoff", {"event": "timeout", "ticket": ticket.id},
                conversation_id=ticket.customer_conversation_id, tenant_id=ticket.tenant_id),
                SayTo(ticket.customer_ref, (Reply(notice),), ticket_id=ticket.id)]
            if ticket.support_thread_ref:
                effects.append(SayTo(ticket.support_thread_ref, (Reply(p.NOBODY_TOOK_IT.format(
                    minutes=self.config.timeout_minutes)),), ticket_id=ticket.id))
        return told, effects

    def _when_back(self, now: datetime) -> datetime | None:
        """When a person is back at the latest: when today's hours end, or the next opening."""
        hours = self.config.hours
        if hours is None:
            return None
        closes = hours.closes_at(now)
        return closes if closes is not None else hours.next_open(now)
