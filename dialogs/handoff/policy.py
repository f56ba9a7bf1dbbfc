"""The handoff's rules: when the flow's outcome needs a person, and what short typed words mean."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dialogs.events import Event, Kind, has
from dialogs.handoff import cards as hc
from dialogs.handoff.phrases import PRESSED_TITLES
from dialogs.knowledge import Knowledge, SmtpAuthSupport
from dialogs.text import said

REGISTER_PHRASES = frozenset({
    "use this channel for handoffs", "use this channel for handoff",
    "use this channel for handovers", "use this channel for handover",
    "use this channel for support", "handoffs here", "send handoffs here",
})
DONE_PHRASES = frozenset({"done", "end", "hand back", "handback", "end handoff", "close"})
QUEUE = "queue"  # staff: who is waiting (in the support channel, or in their own chat)
# Typed answers to "Is your problem solved?" (the card asks in English, Latvian or Russian).
YES = frozenset({"yes", "y", "yep", "yeah", "yes solved", "solved", "it works", "fixed",
                 "yes it is", "yes it works", "ja", "jā", "jā atrisināta", "atrisināta",
                 "atrisināts", "jā darbojas", "darbojas", "да", "да решена", "да решено",
                 "решено", "решена", "да работает", "работает"})
NO = frozenset({"no", "n", "nope", "not yet", "no not yet", "not solved", "still failing",
                "no it isnt", "no it is not", "nein", "nē", "ne", "vēl nē", "nē vēl nē",
                "nav atrisināta", "nav atrisināts", "nedarbojas", "нет", "нет ещё нет",
                "нет еще нет", "ещё нет", "еще нет", "не решена", "не решено", "не работает"})
# A typed rating: "4", "4/5", "4 stars", "4 out of 5", "4 no 5", "4 из 5", "4 звезды", "4 ⭐".
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|stars?|out of 5|no 5|из 5|zvaigzn\w*|зв[её]зд\w*"
                     r"|⭐+)?\s*[.!]?\s*$", re.IGNORECASE)
FIXES_BEFORE_A_PERSON = 2


def asks_for_queue(text: str) -> bool:
    """True for ``queue``, the one staff word of a chat (a long paste is not normalised to see)."""
    # For speed (every chat turn asks): said() only lower-cases and drops characters of ASCII
    # text without an "&" (no entity to unescape), so such text without a q cannot say
    # "queue": answered in about 0.2 µs instead of said()'s 1.3-3.6.
    if len(text) > 100 or (text.isascii() and "&" not in text and "q" not in text
                           and "Q" not in text):
        return False
    return said(text) == QUEUE


def escalation_reason(events: Sequence[Event], state: str, facts: Mapping[str, Any],
                      knowledge: Knowledge) -> str | None:
    """Why this turn's outcome needs a person: ``person_requested``, ``fixes_failed``,
    ``dead_end`` (a mailbox type that can never use SMTP AUTH), or None."""
    if has(events, Kind.PERSON_REQUESTED):
        return "person_requested"
    if has(events, Kind.FIX_FAILED) and _whole(facts.get("failed_fixes")) >= FIXES_BEFORE_A_PERSON:
        return "fixes_failed"
    if state != "summary":  # most turns: no need to look through the events again
        return None
    new_type = any(e.kind in (Kind.ANSWERED, Kind.VOLUNTEERED) and e.detail == "mailbox_type"
                   for e in events)
    if new_type and unsupported_mailbox(facts, knowledge):
        return "dead_end"
    return None


def unsupported_mailbox(facts: Mapping[str, Any], knowledge: Knowledge) -> bool:
    """True when the answered mailbox type can never send with SMTP AUTH."""
    answers = facts.get("answers")
    kind = answers.get("mailbox_type") if isinstance(answers, Mapping) else None
    if not isinstance(kind, str):
        return False
    try:
        return knowledge.mailbox_type(kind).smtp_auth == SmtpAuthSupport.NOT_SUPPORTED
    except KeyError:
        return False


def _whole(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0


def rating_of(value: Any) -> int | None:
    """A rating from a card or typed: a whole number from 1 to 5, else None (ask again)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = _RATING.match(value)
        return int(match.group(1)) if match else None
    if isinstance(value, int):
        return value if 1 <= value <= 5 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value) if 1 <= value <= 5 else None
    return None


def typed_feedback(text: str, stage: str) -> tuple[str, Any] | None:
    """Read a typed answer to the feedback cards: ``(verb, value)`` or None (not feedback)."""
    words = said(text)
    if stage == "solved":
        if words in YES:
            return hc.VERB_SOLVED, "yes"
        if words in NO:
            return hc.VERB_SOLVED, "no"
    rating = rating_of(text)
    if rating is not None:
        return hc.VERB_RATING, rating
    return None


def pressed_title(action: Mapping[str, Any], knowledge: Knowledge) -> str | None:
    """What an old flow button said, from its data (for "The customer pressed: …")."""
    verb = str(action.get("msa") or "")
    if verb in ("answer", "unsure"):
        spec = knowledge.questions.get(str(action.get("question") or ""))
        if spec is None:
            return None
        if verb == "unsure":
            return f"{spec.label or spec.id}: I don't know"
        value = action.get("value")
        title = next((o.title for o in spec.options if o.value == value), None)
        return f"{spec.label or spec.id}: {title}" if title else None
    cause = str(action.get("cause") or "")
    if verb == "show_fix" and cause in knowledge.cause_ids:
        return f"Show the fix ({knowledge.cause(cause).title})"
    if verb == "clarify" and cause in knowledge.cause_ids:
        return knowledge.cause(cause).title
    return PRESSED_TITLES.get(verb)


def check_as_dict(check: Any) -> dict[str, Any]:
    """A live-check result (a dict or a ``CheckResult``-like object) as the ticket card reads it."""
    if isinstance(check, Mapping):
        return {k: str(v) if k == "status" else v for k, v in check.items()}
    status = getattr(check, "status", "")
    return {"check_id": getattr(check, "check_id", ""), "title": getattr(check, "title", ""),
            "status": str(getattr(status, "value", status)),
            "evidence": getattr(check, "evidence", ""),
            "cause_id": getattr(check, "cause_id", None)}
