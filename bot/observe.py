"""Record what the flow did: domain events become metrics and audit rows.

The engine reports events such as ``diagnosed:<cause>``, ``resolved:<cause>``,
``question:<cause>``, ``person_requested`` or ``answered:<question>``. The audit rows feed the staff
``stats`` command (top causes, resolution rate, time to resolution); the
counters feed ``/metrics``. Message text is never recorded. The rows are
written with the turn's state, in the same write.
"""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext

from bot.extensions import SCOPE, BotExtension
from bot.identity import tenant_of
from bot.metrics import Metrics
from bot.store.base import AuditRepository
from dialogs.effects import Audit, Count, Effect
from dialogs.engine import TurnInput, TurnResult

_LOGGER = logging.getLogger(__name__)
# Events worth an audit row (answers and navigation are too chatty to keep).
AUDITED = ("diagnosed", "resolved", "person_requested", "fix_failed", "start_over",
           "password_refused", "clarified")


class TurnEventsRecorder(BotExtension):
    """Turns each result's events into counters and audit rows."""

    def __init__(self, metrics: Metrics, audit: AuditRepository) -> None:
        """Record into ``metrics`` and ``audit``."""
        self.metrics = metrics
        self.audit = audit

    async def after_turn(
        self, turn_context: TurnContext, turn: TurnInput, result: TurnResult
    ) -> None:
        """Count and audit the turn's domain events, with the turn's own write."""
        activity = turn_context.activity
        # Read only when the turn has something to audit (most turns do not).
        where: tuple[str | None, str] | None = None
        effects: list[Effect] = []
        for event in result.events:
            kind, detail = event.kind.value, event.detail
            if kind == "diagnosed":
                effects.append(Count("msa_diagnoses_total", {"cause": detail or "unknown"}))
            elif kind == "question":
                effects.append(Count("msa_questions_total", {"cause": detail}))
            elif kind == "person_requested":
                effects.append(Count("msa_handoffs_total", {"kind": "requested"}))
            if kind in AUDITED:
                if where is None:
                    where = (activity.conversation.id if activity.conversation else None,
                             tenant_of(activity))
                effects.append(Audit(kind, {"cause": detail} if detail else {},
                                     conversation_id=where[0], tenant_id=where[1]))
        scope = turn_context.turn_state.get(SCOPE)
        if scope is not None:
            scope.plan.add(effects)
            return
        for effect in effects:  # a turn outside the handler's pipeline: record right away
            if isinstance(effect, Count):
                self.metrics.inc(effect.name, **dict(effect.labels))
            elif isinstance(effect, Audit):
                try:
                    await self.audit.append(effect.kind, conversation_id=effect.conversation_id,
                                            tenant_id=effect.tenant_id, detail=dict(effect.detail))
                except Exception:  # auditing must never break a customer's turn
                    _LOGGER.warning("audit append failed", exc_info=True,
                                    extra={"conversation_id": effect.conversation_id})
