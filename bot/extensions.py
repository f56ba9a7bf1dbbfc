"""How features plug into the bot without growing the handler: live checks, handoff, staff tools.

An extension sees every turn before the guided flow does and may take it
(a relayed message while an agent has the conversation, a staff command);
it sees the flow's result afterwards (to escalate on "talk to a person", to
start live checks); and it may answer invokes (message-extension queries,
sign-in, "Take over" buttons). The default methods do nothing, so each
extension only overrides what it needs. Extensions decide and return effects
(``TurnScope.plan``, :meth:`BotExtension.greeting`); the handler stores the
turn and :mod:`bot.effects` carries them out (the live checks still send
some of their own messages while they are being moved to that shape).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext

from bot.conversation import ConversationRecord
from bot.effects import TurnPlan, transcript_lines
from bot.store.outbox import TurnWrites
from dialogs.effects import Effect
from dialogs.engine import TurnInput, TurnResult
from dialogs.session import Reply

# turn_state key of the turn's TurnScope, while extensions and the flow decide the turn.
SCOPE = "msa.turn_scope"


@dataclass
class TurnScope:
    """One message turn being decided: the record read once, and what the turn will do.

    Extensions that decide rather than send (the handoff, the recorder) put their
    effects in ``plan`` and their kept lines in ``lines``; the handler stores the
    record with all of it in one write, then runs the plan. The turn may be
    decided again on fresh state after a conflict, with a new scope.
    """

    key: str
    record: ConversationRecord
    plan: TurnPlan = field(default_factory=TurnPlan)
    lines: list[Any] = field(default_factory=list)
    flow_replies: list[Reply] = field(default_factory=list)
    # Outbox lanes written outside the turn's own write (a take over typed in a thread).
    lanes: list[str] = field(default_factory=list)
    # What a feature read of the turn before the flow, for its after_turn (not stored).
    memo: dict[str, Any] = field(default_factory=dict)

    def writes(self) -> TurnWrites:
        """Everything to store with the record."""
        writes = self.plan.writes
        writes.transcripts = transcript_lines(self.lines)
        return writes


class BotExtension:
    """Base class for features layered on the guided flow."""

    async def before_turn(self, turn_context: TurnContext, turn: TurnInput) -> bool:
        """Return True when this extension handled the turn (the flow then does not run)."""
        return False

    async def after_turn(
        self, turn_context: TurnContext, turn: TurnInput, result: TurnResult
    ) -> None:
        """React to the flow's outcome (its ``events`` say what happened)."""

    async def on_duplicate(self, turn_context: TurnContext, record: ConversationRecord) -> None:
        """An activity this conversation already processed arrived again (it has no effect)."""

    async def on_invoke(self, turn_context: TurnContext) -> InvokeResponse | None:
        """Answer an invoke activity, or return None to let others (and the flow) try."""
        return None

    async def greeting(self, turn_context: TurnContext) -> list[Effect] | None:
        """Effects that replace the customer welcome (staff in a team), or None to keep it.

        Called while the greeting turn is decided, at most once per conversation
        that was not greeted yet (and again if that turn is decided again on
        fresh state), so it returns what to say instead of sending it.
        """
        return None

    async def on_event(self, turn_context: TurnContext) -> bool:
        """Return True when this extension handled an event activity (e.g. ``handoff.status``)."""
        return False

    async def start(self) -> None:
        """Start background work (e.g. a periodic sweep) once the app's services are open."""

    async def close(self) -> None:
        """Release what the extension holds (background tasks) when the app stops."""
