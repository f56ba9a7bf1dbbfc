"""The live checks' cards: valid Adaptive Cards, within issue 19's visible-word budgets.

Consent ≤ 120 words; results ≤ 150 + 25 per failed check. Detail (each
permission, each check's sentence and raw answer, each fix) is behind
``Action.ToggleVisibility`` and does not count.
"""

from __future__ import annotations

from typing import Any

import pytest

from dialogs.knowledge import default_knowledge
from dialogs.live import phrases
from dialogs.live.cards import RunView, gallery_builders, results_card
from dialogs.live.results import CheckResult, CheckStatus
from tests.support.cards import card_errors, visible_words


def _fails(card: dict[str, Any]) -> int:
    return sum(1 for e in card["body"] if e.get("type") == "Container"
               for i in e.get("items", []) if str(i.get("text", "")).startswith("✗ **"))


@pytest.mark.parametrize("name", sorted(gallery_builders()))
def test_gallery_cards_are_valid_and_within_budget(name: str) -> None:
    card = gallery_builders()[name](default_knowledge())
    assert card_errors(card) == []
    budget = 120 if name == "checks-consent" else 150 + 25 * _fails(card)
    assert visible_words(card) <= budget, (name, visible_words(card), budget)


def test_every_check_failing_still_fits_and_hides_the_detail() -> None:
    knowledge = default_knowledge()
    failing = [CheckResult(check_id, CheckStatus.FAIL, "timed_out", {"seconds": "10"}, cause)
               for check_id, cause in zip(phrases.CHECK_TITLES, knowledge.cause_ids, strict=False)]
    card = results_card(knowledge, RunView("tms@contoso.com", list(phrases.CHECK_TITLES),
                                           failing, done=True, elapsed_s=3.0))
    assert card_errors(card) == []
    assert visible_words(card) <= 150 + 25 * len(failing)
    # Each fix is one tap away, hidden until then.
    toggles = [a for e in card["body"] if e.get("type") == "Container"
               for i in e.get("items", []) if i.get("type") == "ActionSet"
               for a in i["actions"] if a["type"] == "Action.ToggleVisibility"]
    assert toggles and all(t["title"] == phrases.RESULTS_SHOW_FIX for t in toggles)


def test_the_words_of_a_card_are_the_phrases_module_s() -> None:
    # A check's sentence and title come from one place (for translation).
    result = CheckResult("smtp_readiness", CheckStatus.WARN, "readiness.password",
                         {"count": "41", "days": "7"}, "basic_auth_disabled")
    assert phrases.title_of("smtp_readiness") == "December 2026 readiness"
    assert phrases.sentence_of(result).startswith("This mailbox signed in to SMTP with a "
                                                  "password 41 times")
    assert phrases.short_of(result) == "uses a password"
    # A fact that isn't there reads "?", never a crash or a wrong claim.
    bare = CheckResult("smtp_readiness", CheckStatus.WARN, "readiness.password")
    assert "password ? times" in phrases.sentence_of(bare)
    # Values from a service can't inject links into the card.
    odd = CheckResult("conditional_access", CheckStatus.FAIL, "ca.blocks",
                      {"policies": "'[click](https://evil.example)'"})
    assert "](" not in phrases.sentence_of(odd)


def test_every_finding_a_check_can_report_has_words() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = "\n".join(p.read_text() for p in (root / "checks").glob("*.py"))
    sources += (root / "dialogs" / "live" / "verdicts.py").read_text()
    sources += (root / "dialogs" / "live" / "switches.py").read_text()
    used = set(re.findall(r'"((?:[a-z_]+)\.[a-z_]+)"', sources))
    keys = {k for k in used if k.split(".")[0] in {
        "license", "mailbox_type", "account", "security_defaults", "ca", "mfa", "sign_ins",
        "switches", "smtp", "readiness", "graph", "exchange", "token"}}
    missing = sorted(k for k in keys if k not in phrases.FINDINGS and not k.endswith("_scope"))
    assert missing == [], missing
