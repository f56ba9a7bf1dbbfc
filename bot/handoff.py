"""Human handoff: a CLOUDEX agent takes the conversation over in a Teams channel, and hands it back.

Teams rejects the Bot Framework handoff events, so in Teams the bot relays
(platform.md §3): each escalation becomes a ticket in the store and a card
posted as a new thread in the support channel; the agent who presses "Take
over" first gets the customer (``claim_ticket`` is one conditional UPDATE);
from then on customer messages go into the thread and the agent's messages in
the thread go to the customer, until the agent types ``done`` or presses "End
and hand back". The customer then rates the help.

Nothing is kept in process memory: the support channel's reference lives in
``store.kv``, the route in the ticket (customer reference, thread reference,
status), and every relayed message in ``store.transcripts`` keyed by its
activity id, so a re-delivered activity is relayed once and any number of bot
instances on one store relay the same way. Waiting tickets are checked against
``HANDOFF_TIMEOUT`` on every turn and by a background sweep; "told the
customer" is itself a transcript row with a fixed id, so only one instance
ever sends it.

For hubs that speak the Bot Framework handoff protocol
(``HANDOFF_PROTOCOL=handoff-events``, non-Teams channels) the bot sends a
``handoff.initiate`` event with the transcript attached and follows the hub's
``handoff.status`` events instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)

from bot.extensions import BotExtension
from bot.handler import reference_of
from bot.identity import sender_of, tenant_of
from bot.render import PENDING_REPLIES, join_notices, to_activity
from bot.store.base import (
    DIRECTION_AGENT,
    DIRECTION_BOT,
    DIRECTION_CUSTOMER,
    Clock,
    Ticket,
    conversation_id_of,
    utc_now,
)
from dialogs import handoff_cards as hc
from dialogs import messages
from dialogs.engine import TurnInput, TurnResult
from dialogs.events import Kind, has
from dialogs.knowledge import SmtpAuthSupport
from dialogs.session import Reply
from dialogs.staff import clean_text, parse_command
from dialogs.support_hours import describe_moment, parse_support_hours
from dialogs.understanding import contains_password

if TYPE_CHECKING:
    from bot.services import BotServices

_LOGGER = logging.getLogger(__name__)

KV_SUPPORT_CHANNEL = "handoff/support_channel"
TEAMS = "msteams"
HUB_AGENT_ID = "handoff-hub"
REGISTER_PHRASES = frozenset({
    "use this channel for handoffs", "use this channel for handoff",
    "use this channel for handovers", "use this channel for handover",
    "use this channel for support", "handoffs here", "send handoffs here",
})
DONE_PHRASES = frozenset({"done", "end", "hand back", "handback", "end handoff", "close"})
_YES = frozenset({"yes", "y", "yep", "yeah", "yes solved", "solved", "it works", "fixed",
                  "yes it is", "yes it works", "ja", "jā"})
_NO = frozenset({"no", "n", "nope", "not yet", "no not yet", "not solved", "still failing",
                 "no it isn't", "no it is not", "nein", "nē"})
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|stars?|out of 5|⭐+)?\s*[.!]?\s*$", re.IGNORECASE)
_SPACES = re.compile(r"[^\w/]+", re.UNICODE)
INVOKE_CARD = "application/vnd.microsoft.card.adaptive"
STAFF_ONLY = "Only CLOUDEX support staff can do that."
STAFF_ONLY_CHANNEL = "Only CLOUDEX support staff can choose the support channel."
SEND_ATTEMPTS = 2


def _said(text: str) -> str:
    """Lower-case ``text`` and keep only words, for matching short typed commands."""
    return " ".join(_SPACES.sub(" ", text.lower()).split())


def _feedback_key(conversation_id: str) -> str:
    return f"handoff/feedback/{conversation_id}"


def _undelivered_key(conversation_id: str, direction: str, activity_id: str) -> str:
    return f"handoff/undelivered/{direction}/{conversation_id}/{activity_id}"


def _mapping(value: Any) -> Mapping[str, Any]:
    """Return ``value`` when it is a JSON object, else an empty one (wire data is untrusted)."""
    return value if isinstance(value, Mapping) else {}


def channel_of(activity: Any) -> str:
    """Return the Teams channel id an activity was posted in (without the thread suffix)."""
    data = _mapping(activity.channel_data)
    channel = _mapping(data.get("channel"))
    found = channel.get("id") or data.get("teamsChannelId")
    if isinstance(found, str) and found:
        return found
    return str(activity.conversation.id).split(";", 1)[0]


def is_channel(activity: Any) -> bool:
    """True for a message in a Teams team channel (where agents work), not a chat."""
    return getattr(activity.conversation, "conversation_type", None) == "channel"


def attachment_links(attachments: Sequence[Any] | None) -> list[str]:
    """Render files and images of a message as markdown links (the relay never copies files).

    Args:
        attachments: The activity's attachments (botbuilder ``Attachment`` objects).

    Returns:
        One ``📎 [name](url)`` line per file; HTML copies of the text and cards are skipped.
    """
    links: list[str] = []
    for item in attachments or []:
        content_type = str(getattr(item, "content_type", "") or "")
        if content_type == "text/html" or content_type.startswith("application/vnd.microsoft.card"):
            continue
        content = getattr(item, "content", None)
        url = getattr(item, "content_url", None)
        if not url and isinstance(content, Mapping):
            url = content.get("downloadUrl")
        if not url:
            continue
        name = str(getattr(item, "name", None) or content_type or "attachment")
        name = name.replace("[", "(").replace("]", ")")
        links.append(f"📎 [{name}]({url})")
    return links


def ticket_view(ticket: Ticket) -> dict[str, Any]:
    """Return the ticket as the plain mapping the card builders read."""
    return dataclasses.asdict(ticket)


def check_as_dict(check: Any) -> dict[str, Any]:
    """Accept a live-check result as a dict or a ``CheckResult``-like object."""
    if isinstance(check, Mapping):
        return {k: str(v) if k == "status" else v for k, v in check.items()}
    status = getattr(check, "status", "")
    return {
        "check_id": getattr(check, "check_id", ""),
        "title": getattr(check, "title", ""),
        "status": str(getattr(status, "value", status)),
        "evidence": getattr(check, "evidence", ""),
        "cause_id": getattr(check, "cause_id", None),
    }


def handoff_initiate_event(
    *,
    customer_ref: Mapping[str, Any],
    context: Mapping[str, Any],
    transcript: Sequence[Mapping[str, Any]],
    now: datetime,
    reply_to_id: str | None = None,
) -> Activity:
    """Build the Bot Framework ``handoff.initiate`` event (botbuilder-python has no EventFactory).

    Mirrors ``EventFactory.CreateHandoffInitiation`` of the .NET and JS SDKs:
    an event named ``handoff.initiate`` in the customer's conversation, the
    hub-specific context as ``value``, ``relatesTo`` the customer's reference,
    and the transcript as an ``application/json`` attachment named
    ``Transcript``.

    Args:
        customer_ref: The customer's conversation reference as JSON.
        context: Hub routing context (ticket id, reason, summary…).
        transcript: Transcript activities as JSON.
        now: The event's timestamp.
        reply_to_id: The activity that led to the handoff, if any.

    Returns:
        The event activity, ready for ``send_activity``.
    """
    reference = ConversationReference().deserialize(dict(customer_ref))
    return Activity(
        type=ActivityTypes.event,
        name="handoff.initiate",
        id=str(uuid.uuid4()),
        timestamp=now,
        value=dict(context),
        conversation=reference.conversation,
        from_property=reference.user,
        relates_to=reference,
        reply_to_id=reply_to_id,
        service_url=reference.service_url,
        channel_id=reference.channel_id,
        attachments=[Attachment(content_type="application/json", name="Transcript",
                                content={"activities": [dict(a) for a in transcript]})],
        entities=[],
    )


class HandoffExtension(BotExtension):
    """Escalation, the support-channel relay, hand back and feedback (see the module docstring)."""

    def __init__(
        self,
        services: BotServices,
        *,
        clock: Clock | None = None,
        sweep_seconds: float = 30.0,
        turn_sweep_seconds: float = 15.0,
    ) -> None:
        """Wire the extension to the shared services.

        Args:
            services: Settings, store, engine (for the knowledge), adapter, metrics.
            clock: Returns the current UTC time; defaults to the services' clock.
            sweep_seconds: How often the background sweep looks for overdue tickets.
            turn_sweep_seconds: The least time between two sweeps triggered by turns.

        Raises:
            ValueError: ``SUPPORT_HOURS`` cannot be read.
        """
        self.settings = services.settings
        self.store = services.store
        self.adapter = services.adapter
        self.metrics = services.metrics
        self.conversations = services.conversations
        self.staff = services.staff
        self.knowledge = services.engine.knowledge
        self.clock: Clock = clock or getattr(services, "clock", None) or utc_now
        self.hours = parse_support_hours(self.settings.support_hours)
        self.sweep_seconds = sweep_seconds
        self.turn_sweep_seconds = turn_sweep_seconds
        self._last_sweep: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    # ----- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Start the background sweep for overdue tickets (called by the app at startup)."""
        if self._task is None:
            self._task = asyncio.create_task(self._sweep_forever(), name="handoff-sweep")

    async def close(self) -> None:
        """Stop the background sweep (called by the app at shutdown)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad tick must not end the loop
                _LOGGER.warning("handoff sweep failed", exc_info=True)
            await asyncio.sleep(self.sweep_seconds)

    # ----- BotExtension hooks ----------------------------------------------------------
    async def before_turn(self, turn_context: TurnContext, turn: TurnInput) -> bool:
        """Take support-channel turns, relay while an agent has the customer, collect feedback."""
        await self._maybe_sweep()
        if is_channel(turn_context.activity):
            return await self._channel_turn(turn_context, turn)
        return await self._customer_turn(turn_context, turn)

    async def after_turn(
        self, turn_context: TurnContext, turn: TurnInput, result: TurnResult
    ) -> None:
        """Escalate when the flow asked for a person, hit a dead end, or fixes kept failing."""
        if is_channel(turn_context.activity):
            return
        reason = self.escalation_reason(result)
        if reason is not None:
            facts = result.snapshot.get("facts")
            await self.escalate(turn_context, reason,
                                facts=facts if isinstance(facts, Mapping) else {})

    async def on_invoke(self, turn_context: TurnContext) -> InvokeResponse | None:
        """Answer the thread card's Action.Execute buttons: take over, end, refresh."""
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return None
        value = activity.value if isinstance(activity.value, Mapping) else {}
        action = value.get("action")
        verb = action.get("verb") if isinstance(action, Mapping) else getattr(action, "verb", None)
        data = action.get("data") if isinstance(action, Mapping) else getattr(action, "data", None)
        if verb not in (hc.VERB_TAKE_OVER, hc.VERB_END, hc.VERB_REFRESH):
            return None
        data = data if isinstance(data, Mapping) else {}
        ticket, note = await self._card_action(turn_context, str(verb), data)
        if note == STAFF_ONLY:
            # Whoever is not staff sees that, and nothing of the ticket.
            return InvokeResponse(status=200, body={
                "statusCode": 200, "type": INVOKE_CARD, "value": hc.notice_card(note)})
        if ticket is None:
            return InvokeResponse(status=200, body={
                "statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                "value": note or "This handoff no longer exists."})
        return InvokeResponse(status=200, body={
            "statusCode": 200, "type": INVOKE_CARD,
            "value": hc.thread_card(ticket_view(ticket), note=note)})

    async def on_event(self, turn_context: TurnContext) -> bool:
        """Follow a hub's ``handoff.status`` events (accepted, failed, completed)."""
        activity = turn_context.activity
        if activity.name != "handoff.status":
            return False
        value = activity.value if isinstance(activity.value, Mapping) else {}
        state = str(value.get("state", ""))
        ticket = await self.store.tickets.find_open_ticket_by_customer_conversation(
            activity.conversation.id)
        if ticket is None:
            _LOGGER.info("handoff.status for a conversation without an open ticket",
                         extra={"conversation_id": activity.conversation.id, "state": state})
            return True
        self.metrics.inc("msa_handoffs_total", kind=f"hub_{state or 'unknown'}")
        await self._audit("hub_" + (state or "unknown"), ticket)
        if state == "accepted":
            agent = str(value.get("agentName") or value.get("message") or "") or None
            await self.store.tickets.claim_ticket(ticket.id, HUB_AGENT_ID, agent or "an agent")
        elif state == "failed":
            if await self.store.tickets.close_ticket(ticket.id):
                reason = str(value.get("message") or "").strip()
                await turn_context.send_activity(_text(
                    "Sorry, I couldn't reach a person from CLOUDEX support"
                    + (f" ({reason})" if reason else "") + ". You can keep going with me, "
                    "or say \"talk to a person\" to try again."))
        elif state == "completed" and await self.store.tickets.close_ticket(ticket.id):
            await self._ask_feedback(ticket, turn_context)
        return True

    async def on_conversation_start(self, turn_context: TurnContext) -> bool:
        """In the support channel, greet agents instead of showing the customer welcome."""
        activity = turn_context.activity
        if not is_channel(activity):
            return False
        channel_id = channel_of(activity)
        support = await self.support_channel()
        if channel_id != self.settings.support_channel_id and (
                support is None or conversation_id_of(support) != channel_id):
            return False
        await self._register(turn_context, channel_id, announce=False)
        await turn_context.send_activity(_text(
            "Hi, I'm the Mail Setup Assistant. I post customers who need a person here, one "
            "thread each; press **Take over** on a card to talk to the customer from its "
            "thread. Type `queue` to see who is waiting."))
        return True

    # ----- escalation ------------------------------------------------------------------
    def escalation_reason(self, result: TurnResult) -> str | None:
        """Return why this turn's outcome needs a person, or None.

        Args:
            result: The flow's result for the turn.

        Returns:
            ``person_requested``, ``fixes_failed``, ``dead_end`` or None.
        """
        events = result.events
        if has(events, Kind.PERSON_REQUESTED):
            return "person_requested"
        facts = result.snapshot.get("facts") or {}
        if has(events, Kind.FIX_FAILED) and int(facts.get("failed_fixes", 0) or 0) >= 2:
            return "fixes_failed"
        new_type = any(e.kind in (Kind.ANSWERED, Kind.VOLUNTEERED) and e.detail == "mailbox_type"
                       for e in events)
        if result.state == "summary" and new_type and self._unsupported(facts):
            return "dead_end"
        return None

    def _unsupported(self, facts: Mapping[str, Any]) -> bool:
        kind = (facts.get("answers") or {}).get("mailbox_type")
        if not isinstance(kind, str):
            return False
        try:
            return self.knowledge.mailbox_type(kind).smtp_auth == SmtpAuthSupport.NOT_SUPPORTED
        except KeyError:
            return False

    async def escalate(
        self,
        target: TurnContext | Mapping[str, Any],
        reason: str,
        *,
        checks: Sequence[Any] = (),
        detail: str = "",
        facts: Mapping[str, Any] | None = None,
    ) -> Ticket:
        """Ask a person to take over a customer's conversation.

        The live checks call this for findings the customer cannot act on
        (``reason="checks"`` with the results); the flow's triggers call it
        from ``after_turn``. A customer has at most one open ticket, so
        escalating again only repeats their place in the queue.

        Args:
            target: The customer's turn, or their stored conversation reference.
            reason: ``person_requested``, ``dead_end``, ``fixes_failed``, ``checks`` or text.
            checks: Live-check results (dicts or ``CheckResult`` objects).
            detail: Words for the agent, e.g. which setting needs an administrator.
            facts: The flow's facts; read from the conversation's state when omitted.

        Returns:
            The customer's open ticket.
        """
        if isinstance(target, TurnContext):
            activity = target.activity
            ref = reference_of(activity)
            name = str(getattr(activity.from_property, "name", "") or "")
            tenant = tenant_of(activity)
        else:
            ref = dict(target)
            name = str(_mapping(ref.get("user")).get("name") or "")
            tenant = str(_mapping(ref.get("conversation")).get("tenantId") or "")
        conversation_id = conversation_id_of(ref)
        if not conversation_id:
            raise ValueError("the customer reference has no conversation id")
        tickets = self.store.tickets
        existing = await tickets.find_open_ticket_by_customer_conversation(conversation_id)
        check_dicts = [check_as_dict(c) for c in checks]
        if existing is not None:
            return await self._already_open(target, existing, check_dicts)
        if facts is None or not check_dicts:
            record_facts, last_checks = await self._conversation_state(ref)
            facts = record_facts if facts is None else facts
            # The agent sees the customer's latest live-check results too.
            check_dicts = check_dicts or [check_as_dict(c) for c in last_checks]
        recent = await self.store.transcripts.list_for_conversation(conversation_id, limit=20)
        last = [{"who": e.sender or name, "text": e.text, "at": e.at.isoformat()}
                for e in recent if e.direction == DIRECTION_CUSTOMER][-hc.MAX_MESSAGES:]
        summary = hc.ticket_summary(self.knowledge, facts, reason, checks=check_dicts,
                                    last_messages=last, detail=detail)
        wanted_id = secrets.token_hex(6)
        ticket = await tickets.create_ticket(customer_ref=ref, customer_name=name,
                                             tenant_id=tenant, summary=summary,
                                             ticket_id=wanted_id)
        if ticket.id != wanted_id:  # another instance escalated the same customer just now
            return await self._already_open(target, ticket, check_dicts)
        self.metrics.inc("msa_handoffs_total", kind="escalated")
        await self._audit("escalated", ticket, reason=reason)
        if self.settings.handoff_protocol == "handoff-events" and ref.get("channelId") != TEAMS:
            await self._initiate_hub(target, ticket)
            return ticket
        posted = await self._post_thread(ticket, ref)
        if posted is not None:
            ticket = posted
        position = await tickets.queue_position(ticket.id)
        lines = [hc.queued_text(position, channel_known=posted is not None)]
        now = self.clock()
        if self.hours is not None and not self.hours.is_open(now):
            when = describe_moment(self.hours.next_open(now), now, self.hours.zone)
            notice = hc.after_hours_text(when, self.hours.text)
            # Counts as the "nobody free" notice, so the sweep does not send a second one.
            await self._claim_notice(ticket, notice)
            lines.append(notice)
            self.metrics.inc("msa_handoffs_total", kind="after_hours")
        await self._tell(target, ref, [_text(line) for line in lines])
        return ticket

    async def _already_open(
        self, target: TurnContext | Mapping[str, Any], ticket: Ticket,
        checks: list[dict[str, Any]],
    ) -> Ticket:
        if checks:
            summary = dict(ticket.summary)
            summary["checks"] = hc.ticket_summary(self.knowledge, {}, "checks",
                                                  checks=checks)["checks"]
            ticket = await self.store.tickets.update_ticket(ticket.id, summary=summary) or ticket
        if ticket.status == "waiting":
            position = await self.store.tickets.queue_position(ticket.id)
            await self._tell(target, ticket.customer_ref,
                             [_text(hc.already_queued_text(position))])
        return ticket

    async def _conversation_state(
        self, ref: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], list[Any]]:
        """Return the flow's facts and the last live-check results of a conversation."""
        from bot.conversation import conversation_key

        key = conversation_key(str(ref.get("channelId") or "unknown"),
                               conversation_id_of(ref) or "")
        record, _ = await self.conversations.load(key)
        facts = (record.snapshot or {}).get("facts")
        live = record.extra.get("live") if isinstance(record.extra, Mapping) else None
        last = live.get("last") if isinstance(live, Mapping) else None
        results = last.get("results") if isinstance(last, Mapping) else None
        return (facts if isinstance(facts, Mapping) else {},
                [r for r in results if isinstance(r, Mapping)] if isinstance(results, list) else [])

    # ----- the support channel ---------------------------------------------------------
    async def support_channel(self) -> dict[str, Any] | None:
        """Return the stored conversation reference of the support channel, if any."""
        ref = await self.store.kv.get(KV_SUPPORT_CHANNEL)
        return ref if isinstance(ref, dict) and conversation_id_of(ref) else None

    async def _register(self, turn_context: TurnContext, channel_id: str, *,
                        announce: bool = True) -> None:
        activity = turn_context.activity
        ref = reference_of(activity)
        ref.pop("activityId", None)
        ref.pop("user", None)
        ref["conversation"] = {"id": channel_id, "isGroup": True,
                               "conversationType": "channel", "tenantId": tenant_of(activity)}
        await self.store.kv.set(KV_SUPPORT_CHANNEL, ref)
        await self.store.audit.append("handoff", tenant_id=tenant_of(activity),
                                      detail={"event": "support_channel_set"})
        if announce:
            pinned = self.settings.support_channel_id
            note = ""
            if pinned and pinned != channel_id:
                note = (f" Note: SUPPORT_CHANNEL_ID is set to {pinned}, so new requests "
                        "still go there.")
            await turn_context.send_activity(_text(
                "OK — customers who need a person will be posted in this channel, one thread "
                "each. Press **Take over** on a card to talk to the customer; type `queue` to "
                "see who is waiting." + note))
        # Requests that came in while no channel was known are posted now.
        for ticket in await self.store.tickets.list_tickets("waiting"):
            if ticket.support_thread_ref is None:
                await self._post_thread(ticket, ticket.customer_ref)

    async def _support_target(self, fallback_ref: Mapping[str, Any]) -> dict[str, Any] | None:
        """Where to post: the stored channel, pinned by SUPPORT_CHANNEL_ID when that is set."""
        stored = await self.support_channel()
        pinned = self.settings.support_channel_id
        if stored is None and not pinned:
            return None
        base = dict(stored or {})
        if not base:
            # Only the id is configured: reach it through the customer's Teams service.
            base = {"serviceUrl": fallback_ref.get("serviceUrl"), "channelId": TEAMS,
                    "bot": fallback_ref.get("bot"),
                    "conversation": {"id": pinned, "isGroup": True,
                                     "conversationType": "channel",
                                     "tenantId": self.settings.app_tenant_id}}
        elif pinned and conversation_id_of(base) != pinned:
            base["conversation"] = {**base.get("conversation", {}), "id": pinned}
        return base

    async def _post_thread(self, ticket: Ticket, customer_ref: Mapping[str, Any]) -> Ticket | None:
        """Post the ticket's card as a new thread in the support channel; None if impossible."""
        target = await self._support_target(customer_ref)
        if target is None or not target.get("serviceUrl"):
            _LOGGER.warning("no support channel: say 'use this channel for handoffs' in one, "
                            "or set SUPPORT_CHANNEL_ID", extra={"ticket": ticket.id})
            return None
        activity = to_activity(Reply(card=hc.thread_card(ticket_view(ticket))))
        activity.summary = f"{ticket.customer_name or 'A customer'} needs a person"
        bot = _mapping(target.get("bot"))
        conversation = target["conversation"]
        parameters = ConversationParameters(
            is_group=True,
            bot=ChannelAccount(id=bot.get("id"), name=bot.get("name")),
            channel_data={"channel": {"id": conversation["id"]}},
            activity=activity,
            tenant_id=conversation.get("tenantId") or None,
        )
        created: dict[str, Any] = {}

        async def remember(new_context: TurnContext) -> None:
            created.update(reference_of(new_context.activity))

        try:
            await self.adapter.create_conversation(
                self.settings.app_id, remember, parameters, TEAMS,
                str(target["serviceUrl"]), None)
        except Exception:
            _LOGGER.warning("could not post the handoff card", exc_info=True,
                            extra={"ticket": ticket.id})
            return None
        if not conversation_id_of(created):
            return None
        self.metrics.inc("msa_handoffs_total", kind="posted")
        return await self.store.tickets.update_ticket(ticket.id, support_thread_ref=created)

    async def _update_root(self, ticket: Ticket) -> None:
        """Replace the thread's first message with the card in the ticket's current state."""
        ref = ticket.support_thread_ref
        if not ref or not ref.get("activityId"):
            return
        activity = to_activity(Reply(card=hc.thread_card(ticket_view(ticket))))
        activity.id = str(ref["activityId"])

        async def update(context: TurnContext) -> None:
            await context.update_activity(activity)

        try:
            await self.adapter.continue_conversation(
                ConversationReference().deserialize(dict(ref)), update,
                bot_app_id=self.settings.app_id)
        except Exception:  # the invoke answer already shows the new state to the presser
            _LOGGER.warning("could not update the handoff card", exc_info=True,
                            extra={"ticket": ticket.id})

    # ----- turns in the support channel --------------------------------------------------
    async def _channel_turn(self, turn_context: TurnContext, turn: TurnInput) -> bool:
        activity = turn_context.activity
        if parse_command(turn.text or "") is not None:
            return False  # kb, ps, diagnose…: the staff tools answer those, here too
        said = _said(clean_text(turn.text or ""))
        channel_id = channel_of(activity)
        if said in REGISTER_PHRASES:
            if not await self.staff.is_staff(activity):
                await turn_context.send_activity(_text(STAFF_ONLY_CHANNEL))
                return True
            await self._register(turn_context, channel_id)
            return True
        ticket = await self.store.tickets.find_ticket_by_thread(activity.conversation.id)
        support = await self.support_channel()
        pinned = self.settings.support_channel_id
        in_support = (channel_id == pinned
                      or (support is not None and conversation_id_of(support) == channel_id))
        if ticket is None and not in_support:
            return False
        if not await self.staff.is_staff(activity):
            # The support channel and its threads are for staff: nothing here for anyone else.
            await turn_context.send_activity(_text(STAFF_ONLY))
            return True
        if pinned and channel_id == pinned and (
                support is None or conversation_id_of(support) != pinned):
            await self._register(turn_context, channel_id, announce=False)
        action = turn.action if isinstance(turn.action, Mapping) else {}
        verb = action.get("msa")
        if verb in (hc.VERB_TAKE_OVER, hc.VERB_END, hc.VERB_REFRESH):
            # A client without Universal Actions sent the card's Action.Submit fallback.
            found, note = await self._card_action(turn_context, str(verb), action)
            if note:
                await turn_context.send_activity(_text(note))
            elif found is not None and verb == hc.VERB_TAKE_OVER:
                await turn_context.send_activity(_text(
                    f"{found.agent_name} has taken this over."))
            return True
        if said == "queue":
            waiting = await self.store.tickets.list_tickets("waiting")
            await turn_context.send_activity(to_activity(Reply(card=hc.queue_card(
                [ticket_view(t) for t in waiting], self.clock()))))
            return True
        if ticket is None:
            await turn_context.send_activity(_text(
                "I post customers who need a person here, one thread each. Type `queue` to see "
                "who is waiting, or press **Take over** on a card."))
            return True
        agent_id, agent_name = _agent(activity)
        if said in DONE_PHRASES:
            _, note = await self._end(ticket)
            await turn_context.send_activity(_text(note or "Handed back to the bot. Thank you!"))
            return True
        if ticket.status == "waiting":
            await turn_context.send_activity(_text(
                "Press **Take over** on the card first; until then the customer talks to me."))
            return True
        if ticket.status == "closed":
            await turn_context.send_activity(_text(
                "This handoff has ended, so I did not pass that on."))
            return True
        if ticket.agent_id != agent_id:
            await turn_context.send_activity(_text(
                f"Only {ticket.agent_name}, who took this over, talks to the customer from this "
                "thread; I did not pass that on."))
            return True
        body = "\n\n".join(p for p in [(turn.text or "").strip(),
                                       *attachment_links(activity.attachments)] if p)
        if not body:
            return True
        await self._relay(turn_context, ticket, direction=DIRECTION_AGENT, sender=agent_name,
                          body=body, to_ref=ticket.customer_ref,
                          shown=hc.agent_says(agent_name, body))
        return True

    async def _card_action(
        self, turn_context: TurnContext, verb: str, data: Mapping[str, Any]
    ) -> tuple[Ticket | None, str | None]:
        activity = turn_context.activity
        ticket_id = data.get("ticket")
        ticket = (await self.store.tickets.get_ticket(str(ticket_id)) if ticket_id
                  else await self.store.tickets.find_ticket_by_thread(activity.conversation.id))
        if ticket is None:
            return None, "This handoff no longer exists."
        if not await self.staff.is_staff(activity):
            return None, STAFF_ONLY
        if verb == hc.VERB_REFRESH:
            return ticket, None
        if verb == hc.VERB_END:
            return await self._end(ticket)
        agent_id, agent_name = _agent(activity)
        return await self._take_over(ticket, agent_id, agent_name)

    async def _take_over(
        self, ticket: Ticket, agent_id: str, agent_name: str
    ) -> tuple[Ticket | None, str | None]:
        claim = await self.store.tickets.claim_ticket(ticket.id, agent_id, agent_name)
        current = await self.store.tickets.get_ticket(ticket.id) or ticket
        if claim.won:
            self.metrics.inc("msa_handoffs_total", kind="taken")
            await self._audit("taken", current, agent=agent_name)
            try:
                await self._send(current.customer_ref, [_text(hc.joined_text(agent_name))])
                await self._catch_up(current)
            except Exception:  # the claim stands; the agent can still write to the customer
                _LOGGER.warning("could not announce the agent", exc_info=True,
                                extra={"ticket": ticket.id})
            await self._update_root(current)
            return current, None
        if claim.status == "taken" and claim.agent_id_holding == agent_id:
            return current, None  # the same agent pressed twice
        if claim.status == "taken":
            self.metrics.inc("msa_handoffs_total", kind="refused")
            return current, f"Already taken by {claim.agent_name_holding}."
        return current, "This handoff has already ended."

    async def _catch_up(self, ticket: Ticket) -> None:
        """Show the agent what the customer wrote while waiting (the card has what came before)."""
        if not ticket.support_thread_ref:
            return
        waited = [e for e in await self.store.transcripts.list_for_ticket(ticket.id)
                  if e.direction == DIRECTION_CUSTOMER]
        if not waited:
            return
        lines = "\n\n".join(f"- {hc.clip(e.text, 1000)}" for e in waited[-20:])
        await self._send(ticket.support_thread_ref, [_text(
            f"While waiting, {ticket.customer_name or 'the customer'} wrote:\n\n{lines}")])

    async def _end(self, ticket: Ticket) -> tuple[Ticket | None, str | None]:
        if not await self.store.tickets.close_ticket(ticket.id):
            return ticket, "This handoff has already ended."
        closed = await self.store.tickets.get_ticket(ticket.id) or ticket
        self.metrics.inc("msa_handoffs_total", kind="closed")
        await self._audit("closed", closed)
        try:
            await self._ask_feedback(closed, None)
        except Exception:  # closed either way; the customer's next message reaches the bot
            _LOGGER.warning("could not tell the customer about the hand back", exc_info=True,
                            extra={"ticket": ticket.id})
        await self._update_root(closed)
        return closed, None

    async def _ask_feedback(self, ticket: Ticket, turn_context: TurnContext | None) -> None:
        await self.store.kv.set(_feedback_key(ticket.customer_conversation_id),
                                {"ticket": ticket.id, "stage": "solved"})
        activities = [_text(hc.ended_text(ticket.agent_name)),
                      to_activity(Reply(card=hc.solved_card(ticket.id, ticket.agent_name)))]
        await self._tell(turn_context, ticket.customer_ref, activities)

    # ----- turns in the customer's conversation -----------------------------------------
    async def _customer_turn(self, turn_context: TurnContext, turn: TurnInput) -> bool:
        activity = turn_context.activity
        conversation_id = activity.conversation.id
        action = turn.action if isinstance(turn.action, Mapping) else {}
        if action.get("msa") in (hc.VERB_SOLVED, hc.VERB_RATING):
            await self._feedback(turn_context, str(action.get("ticket") or ""),
                                 str(action["msa"]), action.get("value"))
            return True
        ticket = await self.store.tickets.find_open_ticket_by_customer_conversation(
            conversation_id)
        body = "\n\n".join(p for p in [(turn.text or "").strip(),
                                       *attachment_links(activity.attachments)] if p)
        secret = bool(body) and contains_password(body)
        fresh = True
        if body:
            name = str(getattr(activity.from_property, "name", "") or "")
            fresh = await self.store.transcripts.append(
                conversation_id=conversation_id, direction=DIRECTION_CUSTOMER,
                text="[withheld: it looked like it contained a password]" if secret else body,
                sender=name, activity_id=activity.id,
                ticket_id=ticket.id if ticket is not None else None)
        if ticket is not None and ticket.status == "taken":
            if ticket.support_thread_ref is None:
                return True  # a handoff hub has the conversation; the bot stays quiet
            if not body:
                await turn_context.send_activity(_text(
                    f"{ticket.agent_name} from CLOUDEX support has your conversation now; "
                    "please type your message."))
                return True
            if secret:
                await turn_context.send_activity(_text(messages.PASSWORD_WARNING +
                                                       " I did not pass it on."))
                return True
            name = ticket.customer_name or str(getattr(activity.from_property, "name", "") or "")
            await self._relay(turn_context, ticket, direction=DIRECTION_CUSTOMER, sender=name,
                              body=body, to_ref=ticket.support_thread_ref,
                              shown=hc.customer_says(name, body), fresh=fresh)
            return True
        if body:
            pending = await self.store.kv.get(_feedback_key(conversation_id))
            if isinstance(pending, Mapping):
                if await self._typed_feedback(turn_context, pending, body):
                    return True
                # Something else: the customer moved on, so stop reading replies as feedback.
                await self.store.kv.delete(_feedback_key(conversation_id))
        return False

    async def _relay(
        self, turn_context: TurnContext, ticket: Ticket, *, direction: str, sender: str,
        body: str, to_ref: Mapping[str, Any], shown: str, fresh: bool | None = None,
    ) -> None:
        """Pass one message on, exactly once per activity id, even across instances and retries."""
        activity = turn_context.activity
        customer_conversation = ticket.customer_conversation_id
        if fresh is None:
            fresh = await self.store.transcripts.append(
                conversation_id=customer_conversation, direction=direction, text=body,
                sender=sender, activity_id=activity.id, ticket_id=ticket.id)
        marker = _undelivered_key(customer_conversation, direction, str(activity.id))
        # A re-delivered activity is only sent again when the first attempt failed to.
        if not fresh and (activity.id is None or await self.store.kv.get(marker) is None):
            self.metrics.inc("msa_handoffs_total", kind="duplicate")
            return
        try:
            await self._send(to_ref, [_text(shown)])
        except Exception:
            _LOGGER.warning("relay failed", exc_info=True, extra={"ticket": ticket.id})
            if activity.id is not None:
                await self.store.kv.set(marker, {"ticket": ticket.id})
            await turn_context.send_activity(_text(
                "⚠️ I could not pass that message on just now. Please send it again."))
            return
        if not fresh:
            await self.store.kv.delete(marker)
        kind = "relayed_to_agent" if direction == DIRECTION_CUSTOMER else "relayed_to_customer"
        self.metrics.inc("msa_handoffs_total", kind=kind)

    async def _typed_feedback(
        self, turn_context: TurnContext, pending: Mapping[str, Any], body: str
    ) -> bool:
        said = _said(body)
        ticket_id = str(pending.get("ticket") or "")
        if pending.get("stage") == "solved":
            if said in _YES:
                await self._feedback(turn_context, ticket_id, hc.VERB_SOLVED, "yes")
                return True
            if said in _NO:
                await self._feedback(turn_context, ticket_id, hc.VERB_SOLVED, "no")
                return True
        match = _RATING.match(body)
        if match is not None:
            await self._feedback(turn_context, ticket_id, hc.VERB_RATING, int(match.group(1)))
            return True
        return False

    async def _feedback(
        self, turn_context: TurnContext, ticket_id: str, verb: str, value: Any
    ) -> None:
        conversation_id = turn_context.activity.conversation.id
        ticket = await self.store.tickets.get_ticket(ticket_id) if ticket_id else None
        if ticket is None or ticket.customer_conversation_id != conversation_id:
            await turn_context.send_activity(_text(messages.STALE_BUTTON.split(",")[0] + "."))
            return
        key = _feedback_key(conversation_id)
        pending = await self.store.kv.get(key)
        stage = pending.get("stage") if isinstance(pending, Mapping) else None
        if verb == hc.VERB_SOLVED:
            solved = str(value).lower() in {"yes", "true", "1"}
            await self.store.tickets.update_ticket(ticket.id, solved=solved)
            await self._audit("solved" if solved else "not_solved", ticket)
            if ticket.rating is None:
                await self.store.kv.set(key, {"ticket": ticket.id, "stage": "rating"})
                lead = "Glad to hear it!" if solved else "Sorry it isn't solved yet."
                await turn_context.send_activities([
                    _text(lead), to_activity(Reply(card=hc.rating_card(ticket.id)))])
            else:
                await turn_context.send_activity(_text("Noted, thank you."))
            return
        try:
            rating = int(value)
        except (TypeError, ValueError):
            rating = 0
        if not 1 <= rating <= 5:
            await turn_context.send_activity(_text("Please pick a number from 1 to 5."))
            return
        updated = await self.store.tickets.update_ticket(ticket.id, rating=rating) or ticket
        if stage is not None:
            await self.store.kv.delete(key)
        self.metrics.inc("msa_handoffs_total", kind="rated")
        await self._audit("rated", updated, rating=rating)
        await turn_context.send_activity(_text(hc.feedback_thanks(updated.solved, rating)))

    # ----- nobody free -----------------------------------------------------------------
    async def _maybe_sweep(self) -> None:
        now = self.clock()
        if self._last_sweep is not None and (
                now - self._last_sweep).total_seconds() < self.turn_sweep_seconds:
            return
        self._last_sweep = now
        try:
            await self.sweep()
        except Exception:  # a customer's turn must never fail because of the sweep
            _LOGGER.warning("handoff sweep failed", exc_info=True)

    async def sweep(self) -> int:
        """Tell each customer whose ticket waited past ``HANDOFF_TIMEOUT`` when they hear back.

        Safe to run from any number of instances at once: the notice is a
        transcript row with a fixed activity id, and only the instance whose
        insert succeeds sends it.

        Returns:
            How many customers were told this time.
        """
        now = self.clock()
        overdue_before = now - timedelta(minutes=self.settings.handoff_timeout_minutes)
        told = 0
        for ticket in await self.store.tickets.list_tickets("waiting"):
            if ticket.created_at > overdue_before:
                break  # oldest first: the rest are younger still
            notice = hc.timeout_text(self._when_back(now))
            if not await self._claim_notice(ticket, notice):
                continue
            told += 1
            self.metrics.inc("msa_handoffs_total", kind="timeout")
            await self._audit("timeout", ticket)
            try:
                await self._send(ticket.customer_ref, [_text(notice)])
                if ticket.support_thread_ref:
                    minutes = self.settings.handoff_timeout_minutes
                    await self._send(ticket.support_thread_ref, [_text(
                        f"⏰ Nobody has taken this for {minutes} minutes; the customer was told "
                        "we will get back to them.")])
            except Exception:
                _LOGGER.warning("could not send the timeout notice", exc_info=True,
                                extra={"ticket": ticket.id})
        return told

    async def _claim_notice(self, ticket: Ticket, notice: str) -> bool:
        return await self.store.transcripts.append(
            conversation_id=ticket.customer_conversation_id, direction=DIRECTION_BOT,
            text=notice, sender=self.settings.bot_name,
            activity_id=f"handoff-timeout:{ticket.id}", ticket_id=ticket.id)

    def _when_back(self, now: datetime) -> str | None:
        if self.hours is None:
            return None
        closes = self.hours.closes_at(now)
        if closes is not None:
            return describe_moment(closes, now, self.hours.zone)
        return describe_moment(self.hours.next_open(now), now, self.hours.zone)

    # ----- other hubs ------------------------------------------------------------------
    async def _initiate_hub(self, target: TurnContext | Mapping[str, Any], ticket: Ticket) -> None:
        entries = await self.store.transcripts.list_for_conversation(
            ticket.customer_conversation_id, limit=50)
        transcript = [{
            "type": "message",
            "id": entry.activity_id or str(entry.id),
            "timestamp": entry.at.isoformat(),
            "from": {"name": entry.sender,
                     "role": "user" if entry.direction == DIRECTION_CUSTOMER else "bot"},
            "text": entry.text,
        } for entry in entries]
        context = {
            "ticketId": ticket.id,
            "reason": ticket.summary.get("reason"),
            "customer": {"name": ticket.customer_name, "tenantId": ticket.tenant_id},
            "summary": ticket.summary,
            "skill": "mail-setup",
        }
        reply_to = target.activity.id if isinstance(target, TurnContext) else None
        event = handoff_initiate_event(customer_ref=ticket.customer_ref, context=context,
                                       transcript=transcript, now=self.clock(),
                                       reply_to_id=reply_to)
        self.metrics.inc("msa_handoffs_total", kind="hub_initiated")
        await self._tell(target, ticket.customer_ref, [
            event, _text("I'm connecting you with a person from CLOUDEX support. They will see "
                         "your answers so far.")])

    # ----- sending and recording ---------------------------------------------------------
    async def _tell(
        self, target: TurnContext | Mapping[str, Any] | None, ref: Mapping[str, Any],
        activities: list[Activity],
    ) -> None:
        """Send in the current turn when it is the customer's, proactively otherwise.

        After the flow's turn, the turn's replies are still pending: text joins them.
        """
        if isinstance(target, TurnContext):
            pending = target.turn_state.get(PENDING_REPLIES)
            if pending is not None:
                join_notices(pending, activities)
                return
            await target.send_activities(activities)
        else:
            await self._send(ref, activities)

    async def _send(self, ref: Mapping[str, Any], activities: list[Activity]) -> None:
        """Send proactively to a stored conversation reference (one retry on a failed attempt)."""
        reference = ConversationReference().deserialize(dict(ref))

        async def deliver(context: TurnContext) -> None:
            await context.send_activities(activities)

        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                await self.adapter.continue_conversation(reference, deliver,
                                                         bot_app_id=self.settings.app_id)
                return
            except Exception:
                if attempt == SEND_ATTEMPTS:
                    raise
                _LOGGER.info("proactive send failed, retrying once",
                             extra={"conversation_id": conversation_id_of(ref)})

    async def _audit(self, event: str, ticket: Ticket, **detail: Any) -> None:
        try:
            await self.store.audit.append(
                "handoff", conversation_id=ticket.customer_conversation_id,
                tenant_id=ticket.tenant_id, detail={"event": event, "ticket": ticket.id, **detail})
        except Exception:  # auditing must never break a handoff
            _LOGGER.warning("audit append failed", exc_info=True)


def _agent(activity: Any) -> tuple[str, str]:
    sender = sender_of(activity)
    return sender.id or "agent", sender.name or "A CLOUDEX agent"


def _text(value: str) -> Activity:
    return Activity(type=ActivityTypes.message, text=value, text_format="markdown")

