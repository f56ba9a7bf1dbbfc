"""Short first: every customer card shows what to do now within a budget of visible words.

People in a chat read the first lines and the buttons. The budgets count the
words a card shows before anything is pressed (:func:`tests.support.cards.visible_words`:
not inside an ``isVisible: false`` element nor inside an ``Action.ShowCard``),
for every customer card ``app.py cards`` exports, in every language:
welcome ≤ 60; a question ≤ 50; a diagnosis or fix card ≤ 90; the summary
≤ 150 + 25 per item to change; the check results ≤ 150 + 25 per failed check;
any other customer card ≤ 120.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from dialogs.gallery import is_customer_card, sample_cards
from dialogs.i18n import LANGUAGES
from tests.support.cards import dict_nodes, visible_words, words_in

# Cards other helpers are converting this round; each goes from this list when it lands.
NOT_YET_SHORT: dict[str, str] = {}


@functools.cache
def _cards(lang: str) -> dict[str, dict[str, Any]]:
    return {name: card for name, card in sample_cards(lang=lang).items()
            if is_customer_card(name)}


def _changes(card: dict[str, Any]) -> int:
    """Items to change on a summary: each has its own "Show the fix" button."""
    return sum(1 for node in dict_nodes(card)
               if node.get("type") == "Action.Submit"
               and node.get("data", {}).get("msa") == "show_fix")


def _failed_checks(card: dict[str, Any]) -> int:
    # A check's row starts with its mark (dialogs/live/cards.py): "✗ **Security defaults**: …".
    return sum(1 for node in dict_nodes(card)
               if node.get("type") == "TextBlock" and str(node.get("text", "")).startswith("✗"))


def budget(name: str, card: dict[str, Any]) -> int:
    """The visible-word budget of the card called ``name``."""
    if name.startswith("welcome"):
        return 60
    if name.startswith("question-") and name != "question-answer":
        return 50
    if name == "diagnosis" or name.startswith(("fix-", "powershell-")):
        return 90
    if name.startswith("summary"):
        return 150 + 25 * _changes(card)
    if name.startswith("checks-") and name != "checks-consent":  # the results, as they arrive
        return 150 + 25 * _failed_checks(card)
    return 120


CASES = [pytest.param(lang, name, marks=[pytest.mark.xfail(reason=NOT_YET_SHORT[name],
                                                            strict=True)]
                      if name in NOT_YET_SHORT else [])
         for lang in LANGUAGES for name in _cards(lang)]


@pytest.mark.parametrize(("lang", "name"), CASES)
def test_every_customer_card_keeps_its_word_budget(lang: str, name: str) -> None:
    card = _cards(lang)[name]
    assert visible_words(card) <= budget(name, card), (lang, name, visible_words(card))


def test_every_language_exports_the_same_customer_cards() -> None:
    assert set(_cards("lv")) == set(_cards("en")) == set(_cards("ru"))
    assert len(_cards("en")) > 60


def test_the_detail_is_one_press_away_not_gone() -> None:
    # Short first hides, it does not drop: the fix card still carries every step.
    card = _cards("en")["fix-smtp_auth_disabled_mailbox"]
    hidden = [node for node in dict_nodes(card) if node.get("isVisible") is False]
    toggles = {target for node in dict_nodes(card) if node.get("type") == "Action.ToggleVisibility"
               for target in node["targetElements"]}
    assert {node["id"] for node in hidden} == toggles
    assert len(hidden) == 3  # why, how to check, other ways (with the links)
    assert "Set-CASMailbox" in str(card)


def test_the_counter_counts_what_is_shown_and_only_that() -> None:
    card = {"type": "AdaptiveCard", "body": [
        {"type": "TextBlock",
         "text": "Open **[Exchange admin center](https://x.example/a b)** now"},
        {"type": "Container", "isVisible": False, "items": [
            {"type": "TextBlock", "text": "hidden words here"}]},
        {"type": "CodeBlock", "codeSnippet": "Get-TransportConfig | Format-List",
         "fallback": {"type": "TextBlock", "text": "not counted twice"}},
        {"type": "FactSet", "facts": [{"title": "MFA", "value": "No"}]},
    ], "actions": [
        {"type": "Action.Submit", "title": "It works", "data": {"msa": "fix_worked"}},
        {"type": "Action.ShowCard", "title": "Text", "card": {
            "type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "inside a ShowCard"}]}},
    ]}
    assert words_in("⏱ 3–5 minutes › Save") == 3
    assert visible_words(card) == 5 + 2 + 2 + 2 + 1  # text, code, facts, buttons
