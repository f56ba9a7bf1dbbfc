"""The Teams activity handler: activity in, domain turn, replies out.

``SupportBot`` maps each kind of activity to one domain call — a message or a
card button to :meth:`dialogs.engine.FlowEngine.handle`, an install to
:meth:`~dialogs.engine.FlowEngine.welcome` (or, for staff adding the app to a
team, the handoff desk's hello) — stores the turn, and hands the replies and
effects to :mod:`bot.effects`. It
holds no per-conversation state in memory: everything goes through the
conversation store, so any instance can take any turn.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import ChannelAccount
from botbuilder.schema.teams import TeamInfo, TeamsChannelAccount, TeamsChannelData

from bot import budget
from bot.adapter import send_replies
from bot.conversation import (
    ConversationRecord,
    ConversationStateStore,
    TurnNotStored,
    conversation_key,
    reference_of,
)
from bot.effects import EffectRunner, TurnPlan
from bot.extensions import SCOPE, BotExtension, TurnScope
from bot.identity import tenant_of
from bot.render import join_notices, to_activities
from bot.store.base import EtagConflict
from bot.store.outbox import TurnWrites
from dialogs.engine import FlowEngine, TurnInput, TurnResult

__all__ = ["SupportBot", "reference_of", "without_bot_mention"]

_LOGGER = logging.getLogger(__name__)
MAX_TEXT = 10_000


def without_bot_mention(activity: Any) -> str:
    """Return the message text without the ``<at>Bot</at>`` mention of the bot.

    Read defensively instead of with ``TurnContext.remove_recipient_mention``,
    which fails on an entity without a ``type`` or a mention without
    ``mentioned.id`` and uses the mention's text as a regular expression.
    """
    text = activity.text or ""
    bot_id = getattr(activity.recipient, "id", None)
    for entity in activity.entities or []:
        if str(getattr(entity, "type", "") or "").lower() != "mention":
            continue
        properties = getattr(entity, "additional_properties", None) or {}
        mentioned = properties.get("mentioned")
        tag = properties.get("text")
        if isinstance(mentioned, dict) and mentioned.get("id") == bot_id \
                and isinstance(tag, str) and tag:
            text = text.replace(tag, "")
    return text.strip()


class SupportBot(TeamsActivityHandler):
    """The Mail Setup Assistant bot."""

    def __init__(
        self,
        engine: FlowEngine,
        conversations: ConversationStateStore,
        extensions: Sequence[BotExtension] = (),
        effects: EffectRunner | None = None,
    ) -> None:
        """Create the bot.

        Args:
            engine: the domain flow engine (shared, built once).
            conversations: where conversation records live.
            extensions: features that see each turn before and after the flow, in order.
            effects: runs what a turn decided once it is stored (None: replies only).
        """
        self.engine = engine
        self.conversations = conversations
        self.extensions = tuple(extensions)
        self.effects = effects

    # ----- messages and card buttons ----------------------------------------
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        """Run a typed message or an Action.Submit press through the flow."""
        activity = turn_context.activity
        text = activity.text or ""
        if activity.entities and activity.recipient is not None:
            text = without_bot_mention(activity)
        action = activity.value if isinstance(activity.value, dict) else None
        await self._run(turn_context, TurnInput(text=text[: MAX_TEXT + 1], action=action,
                                                locale=activity.locale))

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """Let extensions answer first; answer ``adaptiveCard/action`` ourselves.

        The SDK's own path cannot serialize a "message" invoke response, so the
        response body is built here.
        """
        for extension in self.extensions:
            response = await extension.on_invoke(turn_context)
            if response is not None:
                return response
        if turn_context.activity.name == "adaptiveCard/action":
            value = turn_context.activity.value
            value = value if isinstance(value, dict) else {}
            await self.on_adaptive_card_execute(value.get("action"), turn_context)
            return InvokeResponse(status=200, body={
                "statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                "value": "OK"})
        try:
            return await super().on_invoke_activity(turn_context)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # The SDK parses Teams invoke values itself (msrest's DeserializationError is a
            # ValueError) and fails on a value of the wrong shape: the caller's mistake.
            _LOGGER.warning("malformed invoke refused: %s", type(exc).__name__,
                            extra={"conversation_id": turn_context.activity.conversation.id,
                                   "invoke": turn_context.activity.name})
            return InvokeResponse(status=400, body={"error": "the invoke value is malformed"})

    async def on_adaptive_card_execute(self, raw: Any, turn_context: TurnContext) -> None:
        """Handle an Action.Execute press like an Action.Submit one."""
        # The SDK leaves ``action`` as the raw dict from the wire; accept either form.
        data = raw.get("data") if isinstance(raw, dict) else getattr(raw, "data", None)
        verb = raw.get("verb") if isinstance(raw, dict) else getattr(raw, "verb", None)
        action = dict(data) if isinstance(data, dict) else {}
        if isinstance(verb, str) and verb and "msa" not in action:
            action = {**action, "msa": verb}
        await self._run(turn_context, TurnInput(action=action))

    async def on_event_activity(self, turn_context: TurnContext) -> None:
        """Let extensions take events (a handoff hub's ``handoff.status``) first."""
        for extension in self.extensions:
            if await extension.on_event(turn_context):
                return
        await super().on_event_activity(turn_context)

    # ----- greetings -----------------------------------------------------------
    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        """Greet when the app is installed in a chat or team."""
        await self._welcome(turn_context)

    async def on_teams_members_added(
        self,
        teams_members_added: list[ChannelAccount],
        team_info: TeamInfo,
        turn_context: TurnContext,
    ) -> None:
        """Greet when the bot joins a conversation, or a person opens a personal chat."""
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        personal = getattr(activity.conversation, "conversation_type", None) in (None, "personal")
        if any(m.id == bot_id for m in teams_members_added) or personal:
            await self._welcome(turn_context)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        """Dispatch a conversation update, reading unreadable ``channelData`` as empty.

        The SDK parses Teams channelData itself and fails when it is missing or
        of the wrong shape; such an update is still a member change to greet.
        """
        activity = turn_context.activity
        try:
            parsed = TeamsChannelData().deserialize(activity.channel_data)
        except (ValueError, TypeError, AttributeError):  # msrest's errors are ValueErrors
            parsed = None
        if parsed is None:
            activity.channel_data = {}
        await super().on_conversation_update_activity(turn_context)

    async def on_teams_members_added_dispatch(
        self,
        members_added: list[ChannelAccount],
        team_info: TeamInfo,
        turn_context: TurnContext,
    ) -> None:
        """Greet without looking each added member up.

        The SDK asks the connector for every added member that is not the bot,
        one request each; only the ids matter here, and a conversationUpdate
        listing thousands of members must not become thousands of requests.
        """
        accounts = [TeamsChannelAccount(id=m.id, name=m.name, aad_object_id=m.aad_object_id,
                                        role=m.role) for m in members_added]
        await self.on_teams_members_added(accounts, team_info, turn_context)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        """Greet on non-Teams channels (the terminal chat, Web Chat)."""
        await self._welcome(turn_context)

    # ----- internals ------------------------------------------------------------
    async def _welcome(self, turn_context: TurnContext) -> None:
        """Greet a conversation once: staff adding the app to a team get the desk's hello.

        Everyone else gets the customer welcome. Teams sends ``installationUpdate`` and
        ``conversationUpdate`` for one install, and may deliver either again: the
        greeting is decided and stored like a message turn (one read, one write, 503
        when it cannot be stored), and only the first of them greets.
        """
        activity = turn_context.activity
        reference = reference_of(activity)
        tenant = tenant_of(activity)

        async def attempt(record: ConversationRecord) -> tuple[TurnPlan, TurnWrites]:
            plan = TurnPlan()
            record.reference = reference
            if record.welcomed or record.has_seen(activity.id):
                return plan, plan.writes
            record.welcomed = True
            record.mark_seen(activity.id)
            for extension in self.extensions:
                greeting = await extension.greeting(turn_context)
                if greeting is not None:
                    plan.add(greeting, conversation_id=activity.conversation.id, tenant_id=tenant)
                    return plan, plan.writes
            # In the language of the customer's Teams (the locale) until they write or choose.
            result = self.engine.welcome(record.snapshot, activity.locale)
            record.snapshot = result.snapshot
            plan.replies.extend(result.replies)
            return plan, plan.writes

        plan, _, written = await self.conversations.transact(self._key(activity), attempt)
        replies = to_activities(plan.replies)
        plan.replies = []
        if self.effects is not None:
            await self.effects.after_commit(turn_context, plan, written.lanes, replies)
        elif replies:
            await send_replies(turn_context, replies)

    async def _run(self, turn_context: TurnContext, turn: TurnInput) -> TurnResult | None:
        """One message turn: one read, the decision, one write (with its rows), then the effects.

        An activity this conversation already processed has no second effect. A
        turn decided on state another instance changed meanwhile is decided again
        on fresh state (after a jittered pause) until its deadline; one that cannot
        be stored raises, so it is answered 503 and Teams delivers it again.
        """
        activity = turn_context.activity
        key = self._key(activity)
        reference = reference_of(activity)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + budget.remaining(10.0)
        pause, tries = 0.005, 0
        failure: Exception | None = None
        while True:
            tries += 1
            record, etag = await self.conversations.load(key)
            if record.has_seen(activity.id):
                _LOGGER.info("activity already processed", extra={
                    "conversation_id": activity.conversation.id})
                for extension in self.extensions:
                    await extension.on_duplicate(turn_context, record)
                return None
            scope = TurnScope(key, record)
            turn_context.turn_state[SCOPE] = scope
            taken: BotExtension | None = None
            for extension in self.extensions:
                if await extension.before_turn(turn_context, turn):
                    taken = extension
                    break
            result: TurnResult | None = None
            if taken is None:
                record.welcomed = True
                result = self.engine.handle(record.snapshot, turn)
                record.snapshot = result.snapshot
                scope.flow_replies = list(result.replies)
                failure = None
                for extension in self.extensions:
                    try:
                        await extension.after_turn(turn_context, turn, result)
                    except Exception as error:  # noqa: BLE001 - the turn is stored and answered all the same
                        failure = failure or error
            if taken is None or getattr(taken, "decides", False):
                record.reference = reference
            record.mark_seen(activity.id)
            try:
                written = await self.conversations.save(key, record, etag, scope.writes())
                break
            except EtagConflict:
                _LOGGER.info("state conflict, recomputing turn",
                             extra={"conversation_key": key, "attempt": tries})
                if taken is not None and not getattr(taken, "decides", False):
                    # It answered already (the live checks still send): only remember the id.
                    await self._remember(key, activity.id)
                    return None
            wait = random.uniform(0, pause)  # noqa: S311 - jitter, not a secret
            if loop.time() + wait >= give_up:
                raise TurnNotStored(f"conversation {key} kept changing; not stored after {tries}")
            await asyncio.sleep(wait)
            pause = min(pause * 2, 0.25)
        if result is not None:
            _LOGGER.info(
                "turn",
                extra={"conversation_id": activity.conversation.id, "state": result.state,
                       "events": [str(event) for event in result.events]},
            )
        # What the turn's features said (the handoff's "I've passed your request …")
        # joins the flow's replies: one bubble, one request to the connector.
        replies = to_activities(scope.flow_replies)
        join_notices(replies, to_activities(scope.plan.replies))
        scope.plan.replies = []
        if self.effects is not None:
            await self.effects.after_commit(turn_context, scope.plan,
                                            (*written.lanes, *scope.lanes), replies)
        elif replies:
            await send_replies(turn_context, replies)
        if failure is not None:
            raise failure
        return result

    async def _remember(self, key: str, activity_id: str | None) -> None:
        async def attempt(record: ConversationRecord) -> tuple[None, None]:
            record.mark_seen(activity_id)
            return None, None

        await self.conversations.transact(key, attempt)

    @staticmethod
    def _key(activity: Any) -> str:
        return conversation_key(activity.channel_id or "unknown", activity.conversation.id)
