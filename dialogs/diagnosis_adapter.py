"""Bridge from the full diagnosis to the small summary the flow keeps in its snapshot."""

from __future__ import annotations

from dialogs.diagnosis import Diagnoser, diagnoser_for
from dialogs.engine import Diagnose, DiagnosisSummary
from dialogs.knowledge import Knowledge


def summarise(diagnoser: Diagnoser, text: str) -> DiagnosisSummary:
    """Diagnose ``text`` and keep only what the conversation needs to remember."""
    diagnosis = diagnoser.diagnose(text)
    candidates = tuple(c.cause_id for c in diagnosis.candidates)
    best = diagnosis.candidates[0] if diagnosis.candidates else None
    follow_up = None
    if diagnosis.follow_up is not None:
        follow_up = {
            "question": diagnosis.follow_up.question,
            "options": [[label, cause_id] for label, cause_id in diagnosis.follow_up.options],
        }
    return DiagnosisSummary(
        candidates=candidates,
        evidence=best.evidence if best else "",
        confidence=best.confidence if best else 0.0,
        follow_up=follow_up,
    )


def diagnosis_function(knowledge: Knowledge) -> Diagnose:
    """Return the ``diagnose`` callable the engine takes, patterns compiled once."""
    diagnoser = diagnoser_for(knowledge)
    return lambda text: summarise(diagnoser, text)
