"""Every card the bot can send, built with sample data (``python app.py cards``).

The card tests validate this whole set against the Adaptive Card schema, and
the picture gallery renders it, so a new card only needs to be added here to
be checked and shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dialogs import cards
from dialogs.live.cards import gallery_builders as check_builders
from dialogs.flow import QUESTIONS
from dialogs.handoff_cards import gallery_builders as handoff_builders
from dialogs.knowledge import Knowledge, default_knowledge
from dialogs.staff import gallery_builders as staff_builders

SAMPLE_MAILBOX = "tms@contoso.com"

# A customer whose answers leave several things to fix: the summary shows them all.
SAMPLE_FACTS: dict[str, Any] = {
    "answers": {
        "mailbox": SAMPLE_MAILBOX,
        "mailbox_type": "user",
        "license": "yes",
        "mfa": "yes",
        "security_defaults": "yes",
        "org_smtp_auth": "disabled",
        "mailbox_smtp_auth": "disabled",
        "conditional_access": "unsure",
        "auth_method": "basic",
        "test_result": "auth_failed",
    },
    "diagnosis": {
        "candidates": ["smtp_auth_disabled_tenant", "smtp_auth_disabled_mailbox"],
        "index": 0,
        "evidence": "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                    "disabled for the Tenant",
        "confidence": 0.97,
        "follow_up": None,
    },
}

# What the knowledge search finds for "when is basic auth turned off?".
SAMPLE_QUESTION_ANSWER = [
    ("basic_auth_disabled", "OAuth keeps working after Basic authentication is turned off at the "
                            "end of December 2026 and is not blocked by MFA, security defaults or "
                            "'block legacy authentication'."),
    ("smtp_auth_disabled_tenant", "The organisation-wide setting 'Turn off SMTP AUTH protocol for "
                                  "your organization' is on, so mailboxes without their own "
                                  "setting cannot use SMTP AUTH."),
]

SAMPLE_FOLLOW_UP = {
    "question": "Does CLOUDEX TMS sign in with a password (or app password), or with OAuth "
                "(Microsoft sign-in)?",
    "options": [["Password or app password", "wrong_credentials"],
                ["OAuth (Microsoft sign-in)", "oauth_token"]],
}

CardBuilder = Callable[[Knowledge], dict[str, Any]]


def _builders(knowledge: Knowledge) -> dict[str, CardBuilder]:
    builders: dict[str, CardBuilder] = {
        "welcome": cards.welcome_card,
        "help": cards.help_card,
        "overview": cards.overview_card,
        "summary": lambda k: cards.summary_card(k, SAMPLE_FACTS),
        "summary-all-fine": lambda k: cards.summary_card(k, {"answers": {
            "mailbox": SAMPLE_MAILBOX, "mailbox_type": "user", "license": "yes", "mfa": "no",
            "security_defaults": "no", "org_smtp_auth": "enabled",
            "mailbox_smtp_auth": "enabled", "conditional_access": "no", "auth_method": "oauth",
            "test_result": "works"}}),
        "diagnosis": lambda k: cards.diagnosis_card(k, SAMPLE_FACTS, "smtp_auth_disabled_tenant"),
        "follow-up": lambda k: cards.follow_up_card(SAMPLE_FOLLOW_UP),
        "question-answer": lambda k: cards.question_answer_card(k, SAMPLE_QUESTION_ANSWER),
        "powershell-smtp_auth_disabled_mailbox": lambda k: cards.fix_powershell_card(
            k.cause("smtp_auth_disabled_mailbox"), SAMPLE_FACTS),
        # Fixes without PowerShell: done in an admin center, or in CLOUDEX TMS itself.
        "powershell-admin-center": lambda k: cards.fix_powershell_card(
            k.cause("no_exchange_license"), SAMPLE_FACTS),
        "powershell-steps-only": lambda k: cards.fix_powershell_card(
            k.cause("wrong_endpoint"), SAMPLE_FACTS),
        "handoff-requested": lambda k: cards.handoff_requested_card(k, SAMPLE_FACTS),
        "resolved": lambda k: cards.resolved_card(k, SAMPLE_FACTS),
    }
    for question in QUESTIONS:
        builders[f"question-{question}"] = (
            lambda k, q=question: cards.question_card(k, q, SAMPLE_FACTS))
        builders[f"how-to-{question}"] = (
            lambda k, q=question: cards.how_to_find_out_card(k, q, SAMPLE_FACTS))
    builders["question-license-with-hint"] = lambda k: cards.question_card(
        k, "license", SAMPLE_FACTS, hint="Sorry, I didn't catch that.")
    for cause_id in knowledge.cause_ids:
        builders[f"fix-{cause_id}"] = lambda k, c=cause_id: cards.fix_card(k, c, SAMPLE_FACTS)
    builders.update(handoff_builders())
    builders.update(check_builders())
    builders.update(staff_builders())
    return builders


def sample_cards(knowledge: Knowledge | None = None) -> dict[str, dict[str, Any]]:
    """Return name -> card for every card the bot can send, with sample data."""
    knowledge = knowledge or default_knowledge()
    return {name: build(knowledge) for name, build in _builders(knowledge).items()}


def write_card_files(out_dir: Path) -> list[Path]:
    """Write each sample card to ``out_dir/<name>.json``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, card in sample_cards().items():
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
