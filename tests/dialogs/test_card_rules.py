"""Rules every card follows: no text Teams would swallow, at most six buttons in a row."""

from __future__ import annotations

from typing import Any

from dialogs import cards
from dialogs.engine import TurnInput
from dialogs.gallery import sample_cards
from tests.support.cards import card_errors


def _walk_texts(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
            found.append(node["text"])
        for value in node.values():
            found.extend(_walk_texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_walk_texts(item))
    return found


def test_no_card_text_holds_angle_brackets_teams_would_strip() -> None:
    for name, card in sample_cards().items():
        for shown in _walk_texts(card):
            assert cards._ANGLE_PLACEHOLDER.search(shown) is None, (name, shown[:120])


def test_placeholders_stay_readable() -> None:
    block = cards.text("Set-CASMailbox -Identity <mailbox>")
    assert block["text"] == "Set-CASMailbox -Identity ‹mailbox›"


def test_code_fallback_keeps_one_line_per_command() -> None:
    block = cards.code_block(["Connect-ExchangeOnline", "Get-TransportConfig"])
    assert block["codeSnippet"] == "Connect-ExchangeOnline\nGet-TransportConfig"
    assert block["fallback"]["text"] == "Connect-ExchangeOnline\n\nGet-TransportConfig"


def test_at_most_six_primary_buttons_on_every_card() -> None:
    for name, card in sample_cards().items():
        primary = [a for a in card.get("actions", []) if a.get("mode") != "secondary"]
        assert len(primary) <= cards.MAX_PRIMARY_ACTIONS, name


def test_seventh_button_moves_to_the_overflow_menu() -> None:
    built = cards.card([], [cards.submit(str(i), {"msa": "help"}) for i in range(8)])
    modes = [a.get("mode") for a in built["actions"]]
    assert modes == [None] * 6 + ["secondary", "secondary"]


def test_overview_card_lists_the_seed_table_with_fixes(knowledge, engine) -> None:  # type: ignore[no-untyped-def]
    result = engine.handle(None, TurnInput(text="why is Authenticated SMTP missing?"))
    overview = next(r.card for r in result.replies if r.card)
    shown = "\n".join(_walk_texts(overview))
    for row in knowledge.summary_table:
        assert cards.shown_text(row.reason) in shown
    assert card_errors(overview) == []
    fix = engine.handle(result.snapshot, TurnInput(action={"msa": "show_fix",
                                                           "cause": "no_exchange_license"}))
    assert "Exchange Online" in "\n".join(_walk_texts(fix.replies[0].card))
