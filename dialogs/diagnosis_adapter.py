"""Bridge from the full diagnosis to the small summary the flow keeps in its snapshot."""

from __future__ import annotations

from dialogs.diagnosis import Diagnoser, diagnoser_for
from dialogs.engine import Diagnose, DiagnosisSummary
from dialogs.knowledge import Knowledge

# A card lists at most this many causes of an ambiguous code (issue 19's word budget for
# a card of topics); the most common come first.
LISTED_IN_CHAT = 3


def summarise(diagnoser: Diagnoser, text: str) -> DiagnosisSummary:
    """Diagnose ``text`` and keep only what the conversation needs to remember.

    An ambiguous text that no one question separates (a bare ``535``) has no
    candidates to propose: its causes are only listed, with a request for the
    whole error line.
    """
    diagnosis = diagnoser.diagnose(text)
    best = diagnosis.candidates[0] if diagnosis.candidates else None
    if diagnosis.follow_up is not None and not diagnosis.follow_up.options:
        return DiagnosisSummary(candidates=(), evidence=best.evidence if best else "",
                                confidence=best.confidence if best else 0.0,
                                listed=diagnosis.contenders[:LISTED_IN_CHAT])
    candidates = tuple(c.cause_id for c in diagnosis.candidates)
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
