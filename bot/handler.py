"""The Teams activity handler: activity in, domain turn, replies out.

``SupportBot`` maps each kind of activity to one domain call — a message or a
card button to :meth:`dialogs.engine.FlowEngine.handle`, an install to
:meth:`~dialogs.engine.FlowEngine.welcome` — and renders the replies. It
holds no per-conversation state in memory: everything goes through the
conversation store, so any instance can take any turn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import ChannelAccount, ConversationReference
from botbuilder.schema.teams import TeamInfo

from bot.extensions import BotExtension
from bot.conversation import ConversationRecord, ConversationStateStore, conversation_key
from bot.render import to_activities
from bot.wire import to_json
from dialogs.engine import FlowEngine, TurnInput, TurnResult

_LOGGER = logging.getLogger(__name__)
MAX_TEXT = 10_000


def reference_of(activity: Any) -> dict[str, Any]:
    """Return the serialized conversation reference of an incoming activity."""
    reference: ConversationReference = TurnContext.get_conversation_reference(activity)
    return to_json(reference)  # == reference.serialize(), without msrest's per-call cost


class SupportBot(TeamsActivityHandler):
    """The Mail Setup Assistant bot."""

    def __init__(
        self,
        engine: FlowEngine,
        conversations: ConversationStateStore,
        extensions: Sequence[BotExtension] = (),
    ) -> None:
        """Create the bot.

        Args:
            engine: the domain flow engine (shared, built once).
            conversations: where conversation records live.
            extensions: features that see each turn before and after the flow, in order.
        """
        self.engine = engine
        self.conversations = conversations
        self.extensions = tuple(extensions)

    # ----- messages and card buttons ----------------------------------------
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        """Run a typed message or an Action.Submit press through the flow."""
        activity = turn_context.activity
        text = activity.text or ""
        if activity.entities and activity.recipient is not None:
            text = TurnContext.remove_recipient_mention(activity) or ""
        action = activity.value if isinstance(activity.value, dict) else None
        await self._run(turn_context, TurnInput(text=text[: MAX_TEXT + 1], action=action))

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
            value = turn_context.activity.value if isinstance(turn_context.activity.value, dict) else {}
            await self.on_adaptive_card_execute(value.get("action"), turn_context)
            return InvokeResponse(status=200, body={
                "statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                "value": "OK"})
        return await super().on_invoke_activity(turn_context)

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

    async def on_teams_members_added(  # type: ignore[override]
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

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        """Greet on non-Teams channels (the terminal chat, Web Chat)."""
        await self._welcome(turn_context)

    # ----- internals ------------------------------------------------------------
    async def _welcome(self, turn_context: TurnContext) -> None:
        for extension in self.extensions:
            if await extension.on_conversation_start(turn_context):
                return
        activity = turn_context.activity

        def step(record: ConversationRecord) -> TurnResult | None:
            # Teams sends installationUpdate and conversationUpdate for one install:
            # greet once per conversation.
            if record.welcomed:
                return None
            record.welcomed = True
            return self.engine.welcome(record.snapshot)

        result = await self.conversations.run_turn(
            self._key(activity), step, reference_of(activity)
        )
        if result is not None:
            await turn_context.send_activities(to_activities(result.replies))

    async def _run(self, turn_context: TurnContext, turn: TurnInput) -> TurnResult | None:
        for extension in self.extensions:
            if await extension.before_turn(turn_context, turn):
                return None
        activity = turn_context.activity

        def step(record: ConversationRecord) -> TurnResult:
            record.welcomed = True
            return self.engine.handle(record.snapshot, turn)

        result = await self.conversations.run_turn(
            self._key(activity), step, reference_of(activity)
        )
        assert result is not None  # step always returns a result
        _LOGGER.info(
            "turn",
            extra={"conversation_id": activity.conversation.id, "state": result.state,
                   "events": result.events},
        )
        await turn_context.send_activities(to_activities(result.replies))
        for extension in self.extensions:
            await extension.after_turn(turn_context, turn, result)
        return result

    @staticmethod
    def _key(activity: Any) -> str:
        return conversation_key(activity.channel_id or "unknown", activity.conversation.id)
