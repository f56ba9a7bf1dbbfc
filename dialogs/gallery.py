"""Every card the bot can send, built with sample data, in every language (``python app.py cards``).

The card tests validate this whole set against the Adaptive Card schema and
count the words each customer card shows, and the picture gallery renders it,
so a new card only needs to be added here to be checked and shown. Staff and
agent cards are English only (agents and staff read English); customer cards
come in every language of :data:`dialogs.i18n.LANGUAGES`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dialogs import cards, messages
from dialogs.flow import QUESTIONS
from dialogs.handoff.cards import gallery_builders as handoff_builders
from dialogs.handoff.phrases import queued
from dialogs.i18n import LANGUAGES, SOURCE_LANG, translator
from dialogs.knowledge import Knowledge, default_knowledge
from dialogs.live.cards import gallery_builders as check_builders
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
    ("basic_auth_disabled", ("OAuth keeps working after Basic authentication is turned off at "
                             "the end of December 2026 and is not blocked by MFA, security "
                             "defaults or 'block legacy authentication'.")),
    ("smtp_auth_disabled_tenant", ("Mailboxes without their own setting follow the organisation, "
                                   "where SMTP AUTH is turned off.")),
]

SAMPLE_FOLLOW_UP = {
    "question": "Does CLOUDEX TMS sign in with a password / app password, or with OAuth "
                "(Microsoft sign-in)?",
    "options": [["Password or app password", "wrong_credentials"],
                ["OAuth (Microsoft sign-in)", "oauth_token"]],
}

CardBuilder = Callable[[Knowledge], dict[str, Any]]
STAFF_PREFIXES = ("staff-", "handoff-thread-", "handoff-queue")
"""Cards for support agents and staff (English only); every other card is a customer's."""


def is_customer_card(name: str) -> bool:
    """True for a card a customer sees (the rest are for agents and staff)."""
    return not name.startswith(STAFF_PREFIXES)


def _builders(knowledge: Knowledge, lang: str = SOURCE_LANG) -> dict[str, CardBuilder]:
    tr = translator(lang)
    builders: dict[str, CardBuilder] = {
        "welcome": lambda k: cards.welcome_card(k, lang=lang, live_checks=True),
        "welcome-no-sign-in": lambda k: cards.welcome_card(k, lang=lang),
        "help": lambda k: cards.help_card(k, lang=lang, live_checks=True),
        "overview": lambda k: cards.overview_card(k, lang=lang, facts=SAMPLE_FACTS),
        "summary": lambda k: cards.summary_card(k, SAMPLE_FACTS, lang=lang, live_checks=True),
        "summary-missing-option": lambda k: cards.summary_card(k, {"answers": {
            "mailbox": SAMPLE_MAILBOX, "mailbox_type": "user", "license": "yes", "mfa": "no",
            "security_defaults": "no", "org_smtp_auth": "enabled",
            "mailbox_smtp_auth": "missing", "conditional_access": "no", "auth_method": "oauth",
            "test_result": "auth_failed"}}, lang=lang, live_checks=True),
        "summary-all-fine": lambda k: cards.summary_card(k, {"answers": {
            "mailbox": SAMPLE_MAILBOX, "mailbox_type": "user", "license": "yes", "mfa": "no",
            "security_defaults": "no", "org_smtp_auth": "enabled",
            "mailbox_smtp_auth": "enabled", "conditional_access": "no", "auth_method": "oauth",
            "test_result": "works"}}, lang=lang, live_checks=True),
        "diagnosis": lambda k: cards.diagnosis_card(k, SAMPLE_FACTS, "smtp_auth_disabled_tenant",
                                                    lang=lang),
        "follow-up": lambda k: cards.follow_up_card(SAMPLE_FOLLOW_UP, lang=lang, knowledge=k),
        "question-answer": lambda k: cards.question_answer_card(k, SAMPLE_QUESTION_ANSWER,
                                                                lang=lang),
        "powershell-smtp_auth_disabled_mailbox": lambda k: cards.fix_powershell_card(
            k.cause("smtp_auth_disabled_mailbox"), SAMPLE_FACTS, lang=lang),
        # Fixes without PowerShell: done in an admin center, or in CLOUDEX TMS itself.
        "powershell-admin-center": lambda k: cards.fix_powershell_card(
            k.cause("no_exchange_license"), SAMPLE_FACTS, lang=lang),
        "powershell-steps-only": lambda k: cards.fix_powershell_card(
            k.cause("wrong_endpoint"), SAMPLE_FACTS, lang=lang),
        # As the customer sees it: the handoff's notice (their place in the queue) on the card.
        "handoff-requested": lambda k: cards.handoff_requested_card(
            k, SAMPLE_FACTS, lang=lang, status=[queued(1, tr)]),
        # A typed question answered from the knowledge's "answers", its steps one press away.
        "answer": lambda k: cards.answer_card(k, k.answers["smtp_auth"], "what", SAMPLE_FACTS,
                                              lang=lang),
        "answer-is-it-safe": lambda k: cards.answer_card(k, k.answers["security_defaults"],
                                                         "is_safe", SAMPLE_FACTS, lang=lang),
        # A reading below the confidence bar, asked back; a message not understood, re-asked.
        "confirm": lambda k: cards.confirm_card(k, "mfa", "no", lang=lang),
        "reask": lambda k: cards.reask_card(tr(messages.REASK), [
            (tr(messages.START_GUIDED_CHECK), {"msa": "start"}),
            (tr(messages.REASK_ERROR), {"msa": "paste_error"}),
            (tr(messages.TALK_TO_A_PERSON), {"msa": "person"})]),
        "resolved": lambda k: cards.resolved_card(k, SAMPLE_FACTS, lang=lang),
    }
    for question in QUESTIONS:
        builders[f"question-{question}"] = functools.partial(
            cards.question_card, question=question, facts=SAMPLE_FACTS, lang=lang)
        builders[f"how-to-{question}"] = functools.partial(
            cards.how_to_find_out_card, question=question, facts=SAMPLE_FACTS, lang=lang)
    builders["question-license-with-hint"] = lambda k: cards.question_card(
        k, "license", SAMPLE_FACTS, hint=translator(lang)(messages.NOT_UNDERSTOOD), lang=lang)
    for cause_id in knowledge.cause_ids:
        builders[f"fix-{cause_id}"] = functools.partial(
            cards.fix_card, cause_id=cause_id, facts=SAMPLE_FACTS, lang=lang)
    builders.update(handoff_builders(lang))
    builders.update(check_builders(lang))
    if lang == SOURCE_LANG:
        builders.update(staff_builders())
    return builders


def sample_cards(knowledge: Knowledge | None = None, lang: str = SOURCE_LANG
                 ) -> dict[str, dict[str, Any]]:
    """Return name -> card for every card the bot can send, with sample data, in ``lang``.

    Staff and agent cards come with English only.
    """
    knowledge = knowledge or default_knowledge()
    return {name: build(knowledge) for name, build in _builders(knowledge, lang).items()
            if lang == SOURCE_LANG or is_customer_card(name)}


def write_card_files(out_dir: Path) -> list[Path]:
    """Write each sample card to ``out_dir/<lang>/<name>.json``; return the paths."""
    written = []
    for lang in LANGUAGES:
        folder = out_dir / lang
        folder.mkdir(parents=True, exist_ok=True)
        for name, card in sample_cards(lang=lang).items():
            path = folder / f"{name}.json"
            path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
            written.append(path)
    return written
