"""Every card the bot can send is Adaptive Card 1.5 (plus Teams' msteams/CodeBlock) and < 28 KB.

Three sources of cards are checked: the gallery (``dialogs.gallery.sample_cards``,
every builder with sample data), the cards a broad set of scripted
conversations actually produce (every state, every cause), and the summary for
many answer combinations with the longest address. The validator itself is
shown to reject what it must.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dialogs import cards
from dialogs.engine import FlowEngine, TurnInput
from dialogs.flow import QUESTIONS
from dialogs.gallery import sample_cards
from dialogs.i18n import LANGUAGES
from dialogs.knowledge import Knowledge
from tests.support.cards import (
    MAX_CARD_BYTES,
    _schema_errors,
    _strip_teams,
    _validator,
    card_errors,
    dict_nodes,
)

ROOT = Path(__file__).resolve().parent.parent
LONG_ADDRESS = f"{'a' * 64}@{'b' * 60}.{'c' * 60}.{'d' * 60}.com"


def size(card: dict[str, Any]) -> int:
    """Bytes on the wire."""
    return len(json.dumps(card, ensure_ascii=False).encode("utf-8"))


@functools.cache
def gallery() -> dict[str, dict[str, Any]]:
    """The gallery, built once for this module."""
    return sample_cards()


@pytest.mark.parametrize(("lang", "name"), [(lang, name) for lang in LANGUAGES
                                             for name in sorted(sample_cards(lang=lang))])
def test_every_gallery_card_is_valid_and_small(lang: str, name: str) -> None:
    card = gallery_in(lang)[name]
    assert card_errors(card) == []
    assert size(card) < MAX_CARD_BYTES


@functools.cache
def gallery_in(lang: str) -> dict[str, dict[str, Any]]:
    """The gallery in one language, built once for this module."""
    return sample_cards(lang=lang)


def conversation_cards(engine: FlowEngine) -> dict[str, dict[str, Any]]:
    """Drive scripted conversations through every state; return each distinct card produced."""
    produced: dict[str, dict[str, Any]] = {}

    def run(*steps: Any) -> None:
        snapshot = None
        for step in steps:
            turn = TurnInput(action=step) if isinstance(step, dict) else TurnInput(text=step)
            result = engine.handle(snapshot, turn)
            snapshot = result.snapshot
            for reply in result.replies:
                if reply.card is not None:
                    produced[json.dumps(reply.card, sort_keys=True)] = reply.card

    answers = ["tms@contoso.com", "user", "yes", "yes", "yes", "disabled", "disabled", "yes",
               "password", "authentication failed"]
    run("help", "hi", *answers, "Full steps", {"msa": "fix_worked"})
    run("start", LONG_ADDRESS, *("I don't know" for _ in range(20)))
    for question in QUESTIONS[1:]:
        run("start", "tms@contoso.com", "user", *["yes"] * (QUESTIONS.index(question) - 2),
            "purple", "I don't know")
    for kind in ("room", "equipment", "group", "shared"):
        run("start", "tms@contoso.com", kind, "talk to a person", "continue")
    for error in ("535 5.7.3 Authentication unsuccessful",
                  "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                  "disabled for the Tenant.",
                  "550 5.7.60 SMTP; Client does not have permissions to send as this sender",
                  "421 4.7.66 TLS 1.0 and 1.1 are not supported."):
        run("start", "tms@contoso.com", error, "I don't know", *["still failing"] * 6)
    run("start", "tms@contoso.com", "user", "app password", "yes", "yes", "no", "enabled",
        "enabled", "no", "it works", {"msa": "fix_worked"})
    for cause_id in engine.knowledge.cause_ids:
        run({"msa": "show_fix", "cause": cause_id})
        facts = {"answers": {"mailbox": LONG_ADDRESS},
                 "diagnosis": {"candidates": [cause_id], "index": 0, "evidence": "x" * 300}}
        produced[f"diagnosis-{cause_id}"] = cards.diagnosis_card(engine.knowledge, facts, cause_id)
    return produced


def test_every_card_produced_in_conversations_is_valid_and_small(engine: FlowEngine) -> None:
    produced = conversation_cards(engine)
    titles = {card["body"][0].get("text", "") for card in produced.values()}
    # The scripts reach every kind of card: greeting/help, questions, how-to, summary,
    # diagnosis, follow-up, fixes, handoff and the closing card.
    for expected in ("What you can say", "Question 1 of 10", "How to find out: Test send",
                     "Your mail setup summary", "Yes, it works", "One question to narrow it down",
                     "A person from CLOUDEX support", "Great, glad it works now!"):
        assert any(expected in t for t in titles) or any(
            expected in json.dumps(c) for c in produced.values()), expected
    assert len(produced) > 60
    for card in produced.values():
        assert card_errors(card) == [], card_errors(card)[:3]


def _answer_values(knowledge: Knowledge, question: str) -> list[str]:
    return [o.value for o in knowledge.questions[question].options]


def test_the_summary_stays_under_the_limit_for_any_answers(knowledge: Knowledge) -> None:
    rng = random.Random(2026)
    questions = [q for q in QUESTIONS if q != "mailbox"]
    worst: tuple[int, dict[str, Any]] = (0, {})
    combos = [{q: rng.choice(_answer_values(knowledge, q)) for q in questions}
              for _ in range(400)]
    # Plus every combination of the answers that flag the most causes.
    heavy = {"mailbox_type": ["room", "shared", "unsure"], "license": ["no", "unsure"],
             "mfa": ["yes"], "security_defaults": ["yes", "unsure"],
             "org_smtp_auth": ["disabled", "unsure"], "mailbox_smtp_auth": ["missing", "unsure"],
             "conditional_access": ["yes", "unsure"], "auth_method": ["basic", "app_password"],
             "test_result": ["auth_failed", "rejected", "connection_failed"]}
    combos += [dict(zip(heavy, values, strict=True))
               for values in itertools.product(*heavy.values())]
    for answers in combos:
        card = cards.summary_card(knowledge, {"answers": {"mailbox": LONG_ADDRESS, **answers}})
        worst = max(worst, (size(card), card), key=lambda pair: pair[0])
    assert worst[0] <= cards.SUMMARY_MAX_BYTES < MAX_CARD_BYTES
    assert card_errors(worst[1]) == []
    # The biggest summary still lists every change, in order, each with its "Show the fix".
    full_steps = [a["data"]["cause"] for item in worst[1]["body"] if item["type"] == "Container"
                  for part in item["items"] if part["type"] == "ActionSet"
                  for a in part["actions"] if a.get("data", {}).get("msa") == "show_fix"]
    order = list(knowledge.cause_ids)
    assert full_steps == sorted(full_steps, key=order.index) and len(full_steps) >= 8


# ----- the validator can fail -----------------------------------------------------
def _card(*body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.5", "body": list(body), **extra}


GOOD_CODE = {"type": "CodeBlock", "codeSnippet": "Get-TransportConfig", "language": "PowerShell",
             "fallback": {"type": "TextBlock", "text": "Get-TransportConfig",
                          "fontType": "Monospace"}}
BROKEN = {
    "misspelt-property": _card({"type": "TextBlock", "text": "x", "wieght": "Bolder"}),
    "unknown-element": _card({"type": "TextBlok", "text": "x"}),
    "unknown-action": _card({"type": "TextBlock", "text": "x"},
                            actions=[{"type": "Action.Teleport", "title": "Go"}]),
    "bad-enum-value": _card({"type": "TextBlock", "text": "x", "size": "Huge"}),
    "wrong-type": _card({"type": "TextBlock", "text": ["x"]}),
    "old-version": {**_card({"type": "TextBlock", "text": "x"}), "version": "1.6"},
    "codeblock-without-fallback": _card({k: v for k, v in GOOD_CODE.items() if k != "fallback"}),
    "codeblock-other-language": _card({**GOOD_CODE, "language": "Cobol"}),
    "codeblock-unknown-field": _card({**GOOD_CODE, "theme": "dark"}),
    "msteams-unknown-field": _card({"type": "TextBlock", "text": "x"},
                                   msteams={"width": "Full", "color": "red"}),
    "other-teams-extension": _card({"type": "TextBlock", "text": "x", "msteams": {}}),
    "too-big": _card(*({"type": "TextBlock", "text": "x" * 1000} for _ in range(30))),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_the_validator_rejects_what_it_must(name: str) -> None:
    assert card_errors(BROKEN[name]), name


def test_the_validator_accepts_the_teams_extensions_it_allows() -> None:
    assert card_errors(_card(GOOD_CODE, msteams={"width": "Full"})) == []


def _mutations(rng: random.Random, card: dict[str, Any]) -> dict[str, Any]:
    mutated = copy.deepcopy(card)
    node = rng.choice(dict_nodes(mutated))
    key = rng.choice(sorted(node))
    choice = rng.randrange(4)
    if choice == 0:
        node[key + "x"] = node.pop(key)  # a misspelt property
    elif choice == 1:
        node[key] = rng.choice([None, 7, "Huge", [], {}, True])  # a wrong value
    elif choice == 2:
        node["type"] = rng.choice(["TextBlok", "Action.Teleport", "Column", "Image"])
    else:
        node.pop(key)
    return mutated


def test_the_fast_check_never_accepts_what_the_official_validator_rejects() -> None:
    """``card_errors`` trusts a compiled validator for valid cards; prove it is not laxer."""
    rng = random.Random(7)
    # One element (or action) per card keeps the reference validator quick; together they
    # are every kind of element and action the bot sends.
    samples = []
    for card in gallery().values():
        for element in card["body"]:
            samples.append(_card(element))
        for action in card.get("actions", []):
            samples.append(_card({"type": "TextBlock", "text": "x"}, actions=[action]))
    samples = list({json.dumps(c, sort_keys=True): c for c in samples}.values())
    disagreements, rejected = [], 0
    for _ in range(200):
        errors: list[str] = []
        stripped = _strip_teams(_mutations(rng, rng.choice(samples)), errors, "$")
        official = not _validator().is_valid(stripped)
        rejected += official
        if official and not _schema_errors(stripped):
            disagreements.append(stripped)
    assert disagreements == []
    assert rejected > 50  # the mutations do break cards


def test_app_cards_command_writes_every_card(tmp_path: Path) -> None:
    out = tmp_path / "cards"
    completed = subprocess.run([sys.executable, "app.py", "cards", "--out", str(out)], cwd=ROOT,
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    total = 0
    for lang in LANGUAGES:
        expected = sample_cards(lang=lang)
        written = {path.stem: json.loads(path.read_text(encoding="utf-8"))
                   for path in (out / lang).glob("*.json")}
        assert written.keys() == expected.keys()
        total += len(expected)
        for name, card in written.items():
            assert card == expected[name]
            assert card_errors(card) == [], name
    assert f"wrote {total} cards" in completed.stdout


def test_the_gallery_has_a_fix_card_for_every_cause_and_every_question(
    knowledge: Knowledge,
) -> None:
    names = set(gallery())
    assert {f"fix-{cause_id}" for cause_id in knowledge.cause_ids} <= names
    assert {f"question-{q}" for q in QUESTIONS} | {f"how-to-{q}" for q in QUESTIONS} <= names
