"""Human handoff at the edge: Teams activities in, handoff desk calls, effects out.

The policy, the sentences and the cards are the desk's (:mod:`dialogs.handoff`);
this module reads who sent what from the activity, hands the desk the
conversation's handoff state from the turn's record (so a conversation with
no handoff costs no extra statement), implements the desk's storage ports on
the store, and gives the effects to :mod:`bot.effects`. Nothing is kept in
process memory: tickets, the support channel and the outbox are in the store,
so any number of instances relay the same way.

For hubs that speak the Bot Framework handoff protocol
(``HANDOFF_PROTOCOL=handoff-events``, non-Teams channels) the desk asks for a
``handoff.initiate`` event and follows the hub's ``handoff.status`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botbuilder.core import InvokeResponse, TurnContext

from bot.conversation import ConversationRecord, conversation_key, reference_of
from bot.effects import EffectRunner
from bot.extensions import SCOPE, BotExtension, TurnScope
from bot.handoff_store import StoreTickets
from bot.identity import sender_of, tenant_of
from bot.store.base import conversation_id_of
from dialogs.effects import Effect, Say
from dialogs.engine import TurnInput, TurnResult
from dialogs.handoff import cards as hc
from dialogs.handoff import phrases
from dialogs.handoff.desk import DeskConfig, HandoffDesk, Message, into_request_card
from dialogs.handoff.policy import asks_for_queue, check_as_dict
from dialogs.handoff.ports import ConversationState, Person
from dialogs.i18n import language
from dialogs.session import Reply
from dialogs.staff import parse_command
from dialogs.support_hours import parse_support_hours
from dialogs.understanding import contains_password

if TYPE_CHECKING:
    from bot.services import BotServices

_LOGGER = logging.getLogger(__name__)
INVOKE_CARD = "application/vnd.microsoft.card.adaptive"
INVOKE_MESSAGE = "application/vnd.microsoft.activity.message"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def channel_of(activity: Any) -> str:
    """The Teams channel id an activity was posted in (without the thread suffix)."""
    data = _mapping(activity.channel_data)
    found = _mapping(data.get("channel")).get("id") or data.get("teamsChannelId")
    return found if isinstance(found, str) and found else str(activity.conversation.id).split(
        ";", 1)[0]


def is_channel(activity: Any) -> bool:
    """True for a message in a Teams team channel (where agents work), not a chat."""
    return getattr(activity.conversation, "conversation_type", None) == "channel"


def files_of(attachments: Sequence[Any] | None) -> tuple[tuple[str, str], ...]:
    """Shared files of a message as (name, url); HTML copies of the text and cards are skipped."""
    found: list[tuple[str, str]] = []
    for item in attachments or []:
        kind = str(getattr(item, "content_type", "") or "")
        if kind == "text/html" or kind.startswith("application/vnd.microsoft.card"):
            continue
        url = getattr(item, "content_url", None) or _mapping(getattr(item, "content", None)).get(
            "downloadUrl")
        if url:
            found.append((str(getattr(item, "name", None) or kind or "attachment"), str(url)))
    return tuple(found)


class HandoffExtension(BotExtension):
    """Escalation, the support-channel relay, hand back and feedback (see the module docstring)."""

    decides = True  # it returns effects and sends nothing itself: a turn may be decided again

    def __init__(self, services: BotServices, *, sweep_seconds: float = 30.0,
                 turn_sweep_seconds: float = 15.0) -> None:
        """Wire the desk to the shared services.

        Raises:
            ValueError: ``SUPPORT_HOURS`` cannot be read.
        """
        settings = services.settings
        self.services = services
        self.store = services.store
        self.staff = services.staff
        self.clock = services.clock
        self.runner: EffectRunner = services.effects
        self.tickets = StoreTickets(services.store)
        self.desk = HandoffDesk(services.engine.knowledge, self.tickets,
                                services.store.kv, DeskConfig(
                                    support_channel_id=settings.support_channel_id,
                                    app_tenant_id=settings.app_tenant_id,
                                    timeout_minutes=settings.handoff_timeout_minutes,
                                    hub_protocol=settings.handoff_protocol == "handoff-events",
                                    hours=parse_support_hours(settings.support_hours)))
        self.sweep_seconds, self.turn_sweep_seconds = sweep_seconds, turn_sweep_seconds
        self._last_sweep: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    # ----- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Start the background sweep for overdue tickets."""
        if self._task is None:
            self._task = asyncio.create_task(self._sweep_forever(), name="handoff-sweep")

    async def close(self) -> None:
        """Stop the background sweep."""
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

    async def sweep(self) -> int:
        """Tell customers whose ticket waited past ``HANDOFF_TIMEOUT`` when they hear back."""
        told, effects = await self.desk.sweep(self.clock())
        await self.runner.run(effects)
        return told

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

    # ----- turns ---------------------------------------------------------------------------
    async def _message(self, turn_context: TurnContext, turn: TurnInput) -> Message:
        activity = turn_context.activity
        sender = sender_of(activity)
        text = (turn.text or "").strip()
        action = turn.action if isinstance(turn.action, Mapping) else None
        staff = ((is_channel(activity) or asks_for_queue(text))
                 and await self.staff.is_staff(turn_context))
        return Message(conversation_id=activity.conversation.id, activity_id=activity.id,
                       sender=Person(sender.id or "agent", sender.name, staff), text=text,
                       files=files_of(activity.attachments), action=action,
                       has_password=bool(text) and contains_password(text))

    async def before_turn(self, turn_context: TurnContext, turn: TurnInput) -> bool:
        """Take support-channel turns, relay while an agent has the customer, collect feedback."""
        scope: TurnScope = turn_context.turn_state[SCOPE]
        activity = turn_context.activity
        await self._maybe_sweep()
        message = scope.memo["handoff"] = await self._message(turn_context, turn)
        if is_channel(activity):
            if parse_command(turn.text or "") is not None:
                return False  # kb, ps, diagnose…: the staff tools answer those, here too
            outcome = await self.desk.channel_message(
                message, channel_id=channel_of(activity), channel_ref=self._channel_ref(activity),
                tenant_id=tenant_of(activity), now=self.clock())
        else:
            state = self._state(scope.record)
            outcome = await self.desk.customer_message(message, state, self.clock())
            self._keep(scope.record, state)
        scope.plan.add(outcome.effects, conversation_id=activity.conversation.id,
                       tenant_id=tenant_of(activity))
        scope.lines += outcome.lines
        scope.lanes += self.tickets.written_lanes()
        return outcome.taken

    async def on_duplicate(self, turn_context: TurnContext, record: ConversationRecord) -> None:
        """Count a relay Teams delivered twice (it went on once)."""
        if record.handoff is not None or is_channel(turn_context.activity):
            self.services.metrics.inc("msa_handoffs_total", kind="duplicate")

    async def after_turn(self, turn_context: TurnContext, turn: TurnInput,
                         result: TurnResult) -> None:
        """Escalate when the flow asked for a person, hit a dead end, or fixes kept failing."""
        activity = turn_context.activity
        if is_channel(activity):
            return
        scope: TurnScope = turn_context.turn_state[SCOPE]
        state = self._state(scope.record)
        message = scope.memo.get("handoff") or await self._message(turn_context, turn)
        replaced = self.desk.after_flow(message, state, result.events, scope.flow_replies)
        if replaced is not None:
            scope.flow_replies[:] = replaced
        await self.desk.follow_language(state)  # a language changed while waiting
        self._keep(scope.record, state)
        facts = _mapping(result.snapshot.get("facts"))
        reason = self.desk.reason_for(result.events, result.state, facts)
        if reason is None:
            return
        _, effects = await self.desk.escalate(
            customer=reference_of(activity), customer_name=sender_of(activity).name,
            tenant_id=tenant_of(activity), reason=reason, state=state, facts=facts,
            checks=self._last_checks(scope.record), turn_id=activity.id, now=self.clock())
        # Asked for a person: what the request's notices say goes in the flow's request card.
        scope.flow_replies[:], effects = into_request_card(scope.flow_replies, effects)
        self._keep(scope.record, state)
        scope.plan.add(effects, conversation_id=activity.conversation.id,
                       tenant_id=tenant_of(activity))

    async def escalate(self, target: TurnContext | Mapping[str, Any], reason: str, *,
                       checks: Sequence[Any] = (), detail: str = "",
                       facts: Mapping[str, Any] | None = None) -> Any:
        """Ask a person to take over a customer's conversation, from outside their turn.

        The live checks call this for findings the customer cannot act on
        (``reason="checks"`` with the results). A customer has at most one open
        ticket, so escalating again only repeats their place in the queue.

        Returns:
            The customer's open ticket.
        """
        activity = target.activity if isinstance(target, TurnContext) else None
        ref = reference_of(activity) if activity is not None else dict(target)
        ref.pop("activityId", None)
        key = conversation_key(str(ref.get("channelId") or "unknown"),
                               conversation_id_of(ref) or "")
        name = str(_mapping(ref.get("user")).get("name") or "")
        tenant = str(_mapping(ref.get("conversation")).get("tenantId") or "").lower()
        check_dicts = [check_as_dict(c) for c in checks]

        async def attempt(record: ConversationRecord) -> Any:
            state = self._state(record)
            ticket, effects = await self.desk.escalate(
                customer=ref, customer_name=name, tenant_id=tenant, reason=reason, state=state,
                facts=facts if facts is not None else _mapping(
                    (record.snapshot or {}).get("facts")),
                checks=check_dicts or self._last_checks(record), detail=detail, in_turn=False,
                now=self.clock())
            self._keep(record, state)
            from bot.effects import TurnPlan

            plan = TurnPlan()
            plan.add(effects, conversation_id=conversation_id_of(ref), tenant_id=tenant)
            return (ticket, plan), plan.writes

        (ticket, plan), _, written = await self.services.conversations.transact(key, attempt)
        await self.runner.after_commit(None, plan, written.lanes)
        return ticket

    # ----- invokes, events, greetings -------------------------------------------------------
    async def on_invoke(self, turn_context: TurnContext) -> InvokeResponse | None:
        """Answer the thread card's Action.Execute buttons: take over, take from, end, refresh."""
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return None
        action = _mapping(_mapping(activity.value).get("action"))
        verb, data = action.get("verb"), _mapping(action.get("data"))
        if verb not in (hc.VERB_TAKE_OVER, hc.VERB_END, hc.VERB_REFRESH, hc.VERB_TAKE_FROM):
            return None
        sender = sender_of(activity)
        actor = Person(sender.id or "agent", sender.name, await self.staff.is_staff(turn_context))
        ticket, note, effects = await self.desk.card_action(
            actor, str(verb), data, activity.conversation.id, self.clock())
        await self.runner.run(effects, lanes=self.tickets.written_lanes())
        if note == phrases.STAFF_ONLY:
            # Whoever is not staff sees that, and nothing of the ticket.
            return _invoke(INVOKE_CARD, hc.notice_card(note))
        if ticket is None:
            return _invoke(INVOKE_MESSAGE, note or phrases.NO_SUCH_HANDOFF)
        return _invoke(INVOKE_CARD, self.desk.thread_card(ticket, note))

    async def on_event(self, turn_context: TurnContext) -> bool:
        """Follow a hub's ``handoff.status`` events (accepted, failed, completed)."""
        activity = turn_context.activity
        if activity.name != "handoff.status":
            return False
        key = conversation_key(activity.channel_id or "unknown", activity.conversation.id)

        async def attempt(record: ConversationRecord) -> Any:
            state = self._state(record)
            effects = await self.desk.hub_status(activity.conversation.id,
                                                 _mapping(activity.value), state)
            self._keep(record, state)
            return effects, None

        effects, _, _ = await self.services.conversations.transact(key, attempt)
        await self.runner.run(effects, turn_context, lanes=self.tickets.written_lanes())
        return True

    async def greeting(self, turn_context: TurnContext) -> list[Effect] | None:
        """In a team, greet staff with how to set up the desk; in the support channel, agents."""
        activity = turn_context.activity
        if not is_channel(activity) and not _mapping(activity.channel_data).get("team"):
            return None
        if not await self.staff.is_staff(turn_context):
            return None
        if await self.desk.is_support_channel(channel_of(activity)):
            effects = await self.desk.register(self._channel_ref(activity), tenant_of(activity),
                                               announce=False)
            return [*effects, Say(Reply(phrases.CHANNEL_HELLO))]
        return [Say(Reply(phrases.TEAM_HELLO))]

    # ----- helpers -------------------------------------------------------------------------
    @staticmethod
    def _state(record: ConversationRecord) -> ConversationState:
        # The customer's language is the conversation's: the snapshot's, after the flow's turn.
        lang = language(_mapping(record.snapshot).get("lang"))
        return ConversationState(record.handoff, list(record.recent), lang)

    @staticmethod
    def _keep(record: ConversationRecord, state: ConversationState) -> None:
        record.handoff, record.recent = state.handoff, state.recent

    @staticmethod
    def _channel_ref(activity: Any) -> dict[str, Any]:
        ref = reference_of(activity)
        for part in ("activityId", "user"):
            ref.pop(part, None)
        ref["conversation"] = {"id": channel_of(activity), "isGroup": True,
                               "conversationType": "channel", "tenantId": tenant_of(activity)}
        return ref

    @staticmethod
    def _last_checks(record: ConversationRecord) -> list[dict[str, Any]]:
        last = _mapping(_mapping(record.extra.get("live")).get("last"))
        results = last.get("results")
        return [check_as_dict(r) for r in results if isinstance(r, Mapping)] if isinstance(
            results, list) else []


def _invoke(kind: str, value: Any) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": kind, "value": value})

