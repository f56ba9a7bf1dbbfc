"""Record what the flow did: domain events become metrics and audit rows.

The engine reports events such as ``diagnosed:<cause>``, ``resolved:<cause>``,
``question:<cause>``, ``person_requested`` or ``answered:<question>``. The audit rows feed the staff
``stats`` command (top causes, resolution rate, time to resolution); the
counters feed ``/metrics``. Message text is never recorded.
"""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext

from bot.extensions import BotExtension
from bot.metrics import Metrics
from bot.store.base import AuditRepository
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
        """Count and audit the turn's domain events."""
        activity = turn_context.activity
        conversation_id = activity.conversation.id if activity.conversation else None
        tenant_id = getattr(activity.conversation, "tenant_id", None) or ""
        for event in result.events:
            kind, detail = event.kind.value, event.detail
            if kind == "diagnosed":
                self.metrics.inc("msa_diagnoses_total", cause=detail or "unknown")
            elif kind == "question":
                self.metrics.inc("msa_questions_total", cause=detail)
            elif kind == "person_requested":
                self.metrics.inc("msa_handoffs_total", kind="requested")
            if kind in AUDITED:
                try:
                    await self.audit.append(
                        kind, conversation_id=conversation_id, tenant_id=tenant_id,
                        detail={"cause": detail} if detail else {},
                    )
                except Exception:  # auditing must never break a customer's turn
                    _LOGGER.warning("audit append failed", exc_info=True,
                                    extra={"conversation_id": conversation_id})
