"""Score what the whole engine does with each labeled utterance (before/after comparison).

``make nlu-eval`` scores the understanding layer itself. This tool scores the
engine end to end, the way a customer meets it, so that the code before the
understanding layer existed can be scored on the same held-out split: each
utterance is one turn of :class:`dialogs.engine.FlowEngine` from a snapshot
standing at the utterance's context (the question being asked, a fix on the
screen, the summary, or a new conversation). What the engine did is read back
from its events, its replies and the stored answers, and compared with the
label:

- the intent is right when the engine did what that intent asks for (a
  greeting and a setup request both count as right when the questions start);
- a stored fact is an answer that the turn wrote or changed; it is right when
  the label says the same value for that fact (stored-fact precision).

Run: ``python -m tools.nlu_engine_score [--split heldout|fresh|train] [--show]``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from dialogs.understanding.dataset import Row, load

LANGUAGES = ("en", "lv", "ru")

# Answers given before the context's question: "unsure" everywhere, so that any value a
# turn stores is a change that can be seen (and the licence question still applies).
_EARLIER = {"mailbox": "tms@contoso.com"}
_QUESTION_CONTEXTS = frozenset({
    "mailbox", "mailbox_type", "license", "mfa", "security_defaults", "org_smtp_auth",
    "mailbox_smtp_auth", "conditional_access", "auth_method", "test_result"})


def snapshot_for(context: str) -> dict[str, Any] | None:
    """A stored snapshot standing at ``context``."""
    from dialogs.flow import FLOW_VERSION, QUESTIONS

    if context == "-":
        return None
    answers: dict[str, str] = {}
    if context in QUESTIONS:
        for question in QUESTIONS[: QUESTIONS.index(context)]:
            answers[question] = _EARLIER.get(question, "unsure")
        return {"v": FLOW_VERSION, "state": f"ask_{context}", "facts": {"answers": answers}}
    for question in QUESTIONS:
        answers[question] = _EARLIER.get(question, "unsure")
    if context == "summary":
        return {"v": FLOW_VERSION, "state": "summary", "facts": {"answers": answers}}
    if context == "fix":
        del answers["test_result"]
        diagnosis = {"candidates": ["smtp_auth_disabled_tenant", "security_defaults"],
                     "index": 0, "evidence": "SmtpClientAuthentication is disabled for the Tenant",
                     "confidence": 0.9, "follow_up": None, "resume": "ask_test_result"}
        return {"v": FLOW_VERSION, "state": "proposing_fix",
                "facts": {"answers": answers, "diagnosis": diagnosis, "failed_fixes": 0}}
    raise ValueError(f"unknown context {context!r}")


def _reply_text(result: Any) -> str:
    parts = []
    for reply in result.replies:
        parts.append(reply.text or "")
        if reply.card:
            parts.append(repr(reply.card))
    return "\n".join(parts)


def outcome(row: Row, before: Mapping[str, Any] | None, result: Any) -> str:
    """The intent the engine acted on, read from its events, replies and snapshot."""
    from dialogs import messages
    from dialogs.i18n import translator

    events = [str(event) for event in result.events]
    text = _reply_text(result)
    snapshot = result.snapshot
    facts = snapshot.get("facts", {})
    before_facts = (before or {}).get("facts", {})
    before_state = (before or {}).get("state", "welcome")

    def has(prefix: str) -> bool:
        return any(event.startswith(prefix) for event in events)

    def said(message: str) -> bool:
        # Replies come in the customer's language: look for the message in each.
        return any(translator(lang)(message) in text for lang in LANGUAGES)

    if snapshot.get("lang_chosen") and not (before or {}).get("lang_chosen"):
        return "language"
    if has("person_requested"):
        return "person"
    if has("start_over"):
        return "start_over"
    if has("change:"):
        return "change"
    if has("back:") or said(messages.NO_EARLIER_QUESTION):
        return "back"
    if said(messages.HELP_TITLE):
        return "help"
    if has("resolved:"):
        return "fix_worked"
    if has("fix_failed:") or said(messages.PASTE_THE_ERROR):
        return "fix_failed"
    if has("diagnosed:"):
        return "error"
    if has("question:") or said(messages.QUESTION_NOT_ANSWERED):
        return "question"
    if said(messages.SKIPPED):
        return "skip"
    wait = getattr(messages, "WAIT_ACK", None)
    if wait and said(wait):
        return "wait"
    if said(messages.YOU_ARE_WELCOME):
        return "thanks"
    stored = stored_facts(before, result)
    shown_before = set(before_facts.get("how_shown", []))
    unsure_shown = set(facts.get("how_shown", [])) - shown_before
    confirming = facts.get("confirm") and facts.get("confirm") != before_facts.get("confirm")
    if stored or unsure_shown or confirming:
        current = before_state.removeprefix("ask_") if before_state.startswith("ask_") else None
        answered = current is not None and (
            current in stored or current in unsure_shown
            or (confirming and facts["confirm"].get("fact") == current))
        return "answer" if answered else "facts"
    if has("problem_described"):
        return "problem"
    if before_state == "welcome" and snapshot["state"] != "welcome":
        return "start"
    return "other"


def stored_facts(before: Mapping[str, Any] | None, result: Any) -> dict[str, str]:
    """The answers this turn wrote or changed."""
    old = ((before or {}).get("facts") or {}).get("answers", {})
    new = result.snapshot.get("facts", {}).get("answers", {})
    touched = {str(event).split(":", 1)[1] for event in result.events
               if str(event).startswith(("answered:", "volunteered:"))}
    return {fact: value for fact, value in new.items()
            if old.get(fact) != value or fact in touched}


def intent_matches(label: str, got: str) -> bool:
    """True when the engine's action is what the labeled intent asks for."""
    label = label.split(":", 1)[0]
    if label == got:
        return True
    # Both start the questions: the engine need not tell them apart.
    return {label, got} <= {"start", "greeting"}


def score(split: str, show: bool) -> dict[str, dict[str, float]]:
    """Run every row of ``split`` through the engine; print and return the scores."""
    from app import build_engine
    from dialogs.engine import TurnInput

    engine = build_engine()
    per_lang: dict[str, Counter[str]] = defaultdict(Counter)
    for row in load(split):
        before = snapshot_for(row.context)
        result = engine.handle(before, TurnInput(text=row.text))
        got = outcome(row, before, result)
        counts = per_lang[row.lang]
        counts["turns"] += 1
        right_intent = intent_matches(row.intent, got)
        counts["intent_right"] += right_intent
        stored = stored_facts(before, result)
        expected = {k: v for k, v in row.facts.items() if k not in {"lang", "change"}}
        current = row.context if row.context in _QUESTION_CONTEXTS else None
        if current and row.intent == "skip":
            expected[current] = "unsure"  # a skipped question is noted as unknown, by design
        if current and expected.get(current) == "unsure" and current not in stored \
                and current in result.snapshot.get("facts", {}).get("how_shown", []):
            stored[current] = "unsure"  # "I don't know" first shows where to look: right
        wrong = {f: v for f, v in stored.items() if expected.get(f) != v}
        counts["stored"] += len(stored)
        counts["stored_wrong"] += len(wrong)
        missed = {f: v for f, v in expected.items() if stored.get(f) != v}
        counts["facts_labeled"] += len(expected)
        counts["facts_stored_right"] += len(expected) - len(missed)
        fully = right_intent and not wrong and not missed
        counts["fully_right"] += fully
        if show and not fully:
            print(f"{row.source} [{row.context}] {row.text!r}\n"
                  f"    label {row.intent} {dict(row.facts)}  got {got} {stored}")
    table: dict[str, dict[str, float]] = {}
    print(f"\nEngine end to end on the {split} split")
    print(f"{'lang':5} {'turns':>5} {'intent':>7} {'fully':>7} {'stored':>6} {'precision':>9} "
          f"{'fact recall':>11}")
    for lang in LANGUAGES:
        c = per_lang[lang]
        if not c["turns"]:
            continue
        precision = 1 - c["stored_wrong"] / c["stored"] if c["stored"] else 1.0
        recall = c["facts_stored_right"] / c["facts_labeled"] if c["facts_labeled"] else 1.0
        table[lang] = {"intent": c["intent_right"] / c["turns"],
                       "fully": c["fully_right"] / c["turns"],
                       "precision": precision, "recall": recall}
        print(f"{lang:5} {c['turns']:5d} {table[lang]['intent']:7.1%} {table[lang]['fully']:7.1%} "
              f"{c['stored']:6d} {precision:9.1%} {recall:11.1%}")
    return table


def main(argv: list[str] | None = None) -> int:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="heldout", choices=("heldout", "fresh", "train"))
    parser.add_argument("--show", action="store_true", help="print every turn not fully right")
    args = parser.parse_args(argv)
    score(args.split, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
