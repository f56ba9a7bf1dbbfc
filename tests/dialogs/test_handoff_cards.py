"""Handoff cards: valid Adaptive Card 1.5 (via the gallery), buttons per state, summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dialogs.gallery import sample_cards
from dialogs.handoff import cards as hc
from dialogs.knowledge import Knowledge
from tests.support.cards import card_errors

Cards = dict[str, dict[str, Any]]


def _actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return list(card.get("actions", []))


def _texts(node: Any) -> str:
    if isinstance(node, dict):
        own = [node["text"]] if isinstance(node.get("text"), str) else []
        if node.get("type") == "FactSet":
            own += [f"{f['title']}: {f['value']}" for f in node["facts"]]
        return "\n".join(own + [_texts(v) for k, v in node.items() if k != "fallback"])
    if isinstance(node, list):
        return "\n".join(_texts(v) for v in node)
    return ""


@pytest.fixture(scope="module")
def gallery() -> dict[str, dict[str, Any]]:
    return {name: card for name, card in sample_cards().items()
            if name.startswith("handoff-") and name != "handoff-requested"}


def test_every_handoff_card_is_in_the_gallery_and_validates(gallery: Cards) -> None:
    assert set(gallery) == {
        "handoff-thread-waiting", "handoff-thread-taken", "handoff-thread-already-taken",
        "handoff-thread-closed", "handoff-queue", "handoff-queue-empty", "handoff-solved",
        "handoff-rating"}
    for name, card in gallery.items():
        assert card_errors(card) == [], name


def test_the_validator_would_catch_a_broken_handoff_card(gallery: Cards) -> None:
    broken = dict(gallery["handoff-thread-waiting"])
    broken["refresh"] = {"action": {"type": "Action.Submit", "title": "x"}}
    assert card_errors(broken)


def test_thread_card_buttons_follow_the_ticket_state(gallery: Cards) -> None:
    waiting = _actions(gallery["handoff-thread-waiting"])
    assert [(a["type"], a["verb"], a["title"]) for a in waiting] == [
        ("Action.Execute", "handoff_take_over", "Take over")]
    assert waiting[0]["data"] == {"msa": "handoff_take_over", "ticket": "3f9a1c0b7e21"}
    assert waiting[0]["fallback"]["type"] == "Action.Submit"
    taken = _actions(gallery["handoff-thread-taken"])
    assert [(a["verb"], a["title"]) for a in taken] == [("handoff_end", "End and hand back")]
    assert _actions(gallery["handoff-thread-closed"]) == []
    for name in ("handoff-thread-waiting", "handoff-thread-taken", "handoff-thread-closed"):
        refresh = gallery[name]["refresh"]["action"]
        assert refresh["verb"] == "handoff_refresh" and "userIds" not in gallery[name]["refresh"]


def test_thread_card_shows_who_company_summary_and_last_error(gallery: Cards) -> None:
    shown = _texts(gallery["handoff-thread-waiting"]["body"])
    for expected in ("Alex Wilber needs a person", "contoso.com", "8d6a7f2c", "tms@contoso.com",
                     "Said twice that a proposed fix did not help", "535 5.7.139",
                     "Authenticated SMTP is turned off for the whole organisation",
                     "Exchange Online licence", "SmtpClientAuthenticationDisabled = True",
                     # The customer writes Latvian: the card names the language, in English,
                     # and shows their words as written.
                     "Customer's language: Latvian", "Joprojām 535 5.7.139 arī pēc izmaiņām",
                     "3f9a1c0b7e21"):
        assert expected.lower() in shown.lower(), expected
    assert "Already taken by Dana Berzina." in _texts(
        gallery["handoff-thread-already-taken"]["body"])


def test_feedback_cards_carry_the_ticket_and_values(gallery: Cards) -> None:
    solved = [a["data"] for a in _actions(gallery["handoff-solved"])]
    assert solved == [{"msa": "handoff_solved", "ticket": "3f9a1c0b7e21", "value": "yes"},
                      {"msa": "handoff_solved", "ticket": "3f9a1c0b7e21", "value": "no"}]
    rating = [a["data"]["value"] for a in _actions(gallery["handoff-rating"])]
    assert rating == [1, 2, 3, 4, 5]


def test_queue_card_lists_waiting_tickets_oldest_first(knowledge: Knowledge) -> None:
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    tickets = [{"id": f"t{i}", "customer_name": name, "tenant_id": "tenant",
                "summary": hc.ticket_summary(knowledge, {}, "person_requested"),
                "created_at": now - timedelta(minutes=minutes)}
               for i, (name, minutes) in enumerate([("First", 25), ("Second", 3)])]
    shown = _texts(hc.queue_card(tickets, now)["body"])
    assert "Queue: 2 waiting" in shown
    assert shown.index("1. **First**") < shown.index("2. **Second**")
    assert "waiting 25 min" in shown and "waiting 3 min" in shown
    assert "Nobody is waiting" in _texts(hc.queue_card([], now)["body"])


def test_summary_keeps_answers_diagnosis_checks_and_the_last_messages(knowledge: Knowledge) -> None:
    facts = {"answers": {"mailbox": "it@fabrikam.lv", "mailbox_type": "shared"},
             "diagnosis": {"candidates": ["mfa_required", "wrong_credentials"], "index": 1,
                           "evidence": "535 5.7.3 Authentication unsuccessful"},
             "failed_fixes": 2}
    messages = [{"who": "C", "text": f"message {i}", "at": ""} for i in range(9)]
    summary = hc.ticket_summary(knowledge, facts, "dead_end",
                                checks=[{"title": "Mailbox type", "status": "fail",
                                         "evidence": "SharedMailbox"}],
                                last_messages=messages, detail="x" * 500)
    assert summary["company"] == "fabrikam.lv" and summary["mailbox"] == "it@fabrikam.lv"
    assert summary["diagnosis"]["cause"] == "wrong_credentials"
    assert summary["last_error"] == "535 5.7.3 Authentication unsuccessful"
    assert [m["text"] for m in summary["last_messages"]] == [f"message {i}" for i in range(4, 9)]
    assert summary["answers"] and all(len(pair) == 2 for pair in summary["answers"])
    assert len(summary["reason_text"]) < 300
    assert summary["failed_fixes"] == 2
    no_diagnosis = hc.ticket_summary(knowledge, {}, "checks", checks=[
        {"title": "Mailbox type", "status": "fail", "evidence": "SharedMailbox"}])
    assert no_diagnosis["last_error"] == "Mailbox type: SharedMailbox"
