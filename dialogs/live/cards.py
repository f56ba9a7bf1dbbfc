"""The live checks' cards: consent before sign-in, and the results card (updated as results arrive).

Both are short by default (the visible-word budgets of issue 19: consent ≤ 120
words; results ≤ 150 plus 25 per failed check) and keep the detail one tap
away behind ``Action.ToggleVisibility``: what each permission allows and what
the bot does with it; the full sentence and the raw answer behind each check;
each fix's steps and PowerShell, built by :func:`dialogs.cards.fix_sections`,
the one fix builder, so the results card, the guided flow and the staff tools
show one text. Every word comes from :mod:`dialogs.live.phrases`, said in the
conversation's language (:mod:`dialogs.i18n`); permission names, PowerShell
and what Microsoft answered stay as they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogs.cards import (
    Card,
    card,
    code_block,
    fix_sections,
    heading,
    localized_title,
    submit,
    text,
)
from dialogs.i18n import SOURCE_LANG, Translator, translator
from dialogs.knowledge import Knowledge
from dialogs.live import phrases
from dialogs.live.intents import RUN_CHECKS, SIGN_IN
from dialogs.live.results import CheckResult, CheckStatus
from dialogs.live.verdicts import failed_causes

# Teams takes about 100 KB per message; the tests hold every card to 28 KB. Full
# fix texts go in while they fit this budget, the rest get a "Show the fix" button.
FIX_BUDGET_BYTES = 18_000

_ICONS: dict[CheckStatus, tuple[str, str | None]] = {
    CheckStatus.PASS: ("✓", "Good"),
    CheckStatus.FAIL: ("✗", "Attention"),
    CheckStatus.WARN: ("⚠", "Warning"),
    CheckStatus.UNKNOWN: ("?", None),
    CheckStatus.SKIPPED: ("–", None),
}


def _toggle(title: str, targets: Sequence[str]) -> dict[str, Any]:
    return {"type": "Action.ToggleVisibility", "title": title, "targetElements": list(targets)}


def _hidden(element_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "Container", "id": element_id, "isVisible": False, "items": items}


def consent_card(mailbox: str | None, admin_consent_url: str, *,
                 lang: str = SOURCE_LANG) -> Card:
    """Before sign-in: what will be read, and exactly what each permission allows and is used for.

    Args:
        mailbox: The sending mailbox if known (pre-filled; the customer can change it).
        admin_consent_url: Where a Global Administrator consents for the organisation.
        lang: The conversation's language.

    Returns:
        The card; "Sign in and check" carries the mailbox input.
    """
    tr = translator(lang)
    permissions: list[dict[str, Any]] = [text(tr(phrases.CONSENT_DETAILS_HEADING),
                                              weight="Bolder")]
    for permission in phrases.PERMISSIONS:
        permissions.append(text(f"**{permission.name}** ({permission.api})", spacing="Medium"))
        permissions.append({"type": "FactSet", "spacing": "Small", "facts": [
            {"title": tr(phrases.CONSENT_ALLOWS), "value": tr(permission.allows)},
            {"title": tr(phrases.CONSENT_BOT_DOES), "value": tr(permission.bot_does)},
        ]})
    permissions.append(text(tr(phrases.ROLES_NOTE), subtle=True))
    body: list[dict[str, Any]] = [
        text(tr(phrases.CONSENT_TITLE), weight="Bolder", size="Medium"),
        text(tr(phrases.CONSENT_INTRO)),
        {"type": "ActionSet", "actions": [
            _toggle(tr(phrases.CONSENT_DETAILS_BUTTON), ["consent-permissions"])]},
        _hidden("consent-permissions", permissions),
        text(tr.format(phrases.CONSENT_ADMIN, url=admin_consent_url)),
        text(tr(phrases.CONSENT_DECLINE), subtle=True),
        {"type": "Input.Text", "id": "mailbox", "style": "Email", "maxLength": 254,
         "label": tr(phrases.CONSENT_MAILBOX_LABEL), "placeholder": "tms@yourcompany.com",
         "value": mailbox or ""},
    ]
    return card(body, [
        submit(tr(phrases.CONSENT_SIGN_IN), {"msa": SIGN_IN}, style="positive"),
        submit(tr(phrases.CONSENT_NO_THANKS), {"msa": "continue"}),
    ])


@dataclass(frozen=True)
class RunView:
    """What the results card shows at one moment of a run.

    Attributes:
        mailbox: The mailbox checked.
        expected: Check ids of the run, in card order.
        results: The (coalesced, visible) results so far.
        done: True when every check has answered.
        signed_in_as: The signed-in account, if known.
        elapsed_s: How long the run took, once done.
        paste_lines: PowerShell to run when switches could not be read.
        pasted: True when the switches were read from pasted output.
        lang: The conversation's language.
    """

    mailbox: str
    expected: Sequence[str]
    results: Sequence[CheckResult]
    done: bool = False
    signed_in_as: str | None = None
    elapsed_s: float | None = None
    paste_lines: Sequence[str] = field(default_factory=tuple)
    pasted: bool = False
    lang: str = SOURCE_LANG


def _row(check_id: str, result: CheckResult | None, tr: Translator) -> dict[str, Any]:
    title = phrases.title_of(check_id, tr)
    if result is None:
        return text(f"… **{title}**", subtle=True, spacing="Small")
    icon, color = _ICONS[result.status]
    if result.status in (CheckStatus.FAIL, CheckStatus.WARN):
        shown = phrases.sentence_of(result, tr)  # a problem is said in full, right there
    elif result.status is CheckStatus.PASS:
        shown = phrases.short_of(result, tr) if result.finding in phrases.SAID_WHEN_FINE else ""
    else:
        shown = phrases.short_of(result, tr)
    line = f"{icon} **{title}**" + (f": {shown}" if shown else "")
    detail = [text(phrases.sentence_of(result, tr), subtle=True, size="Small", spacing="None")]
    if result.detail:
        # What the service answered, as it came (Microsoft's words): set apart in monospace.
        detail.append(dict(text(result.detail, subtle=True, size="Small", spacing="None"),
                           fontType="Monospace"))
    return {"type": "Container", "spacing": "Small",
            # Tapping a row shows what was read; the "Details" button shows every row's.
            "selectAction": _toggle(tr(phrases.RESULTS_SHOW_DETAILS), [f"detail-{check_id}"]),
            "items": [text(line, color=color, spacing="None"),
                      _hidden(f"detail-{check_id}", detail)]}


def _size(elements: Sequence[dict[str, Any]]) -> int:
    return len(json.dumps(list(elements), ensure_ascii=False).encode("utf-8"))


def _fixes(knowledge: Knowledge, view: RunView, actions: list[dict[str, Any]]
           ) -> list[dict[str, Any]]:
    causes = failed_causes(view.results, knowledge)
    if not causes:
        return []
    tr = translator(view.lang)
    body: list[dict[str, Any]] = [heading(tr(phrases.RESULTS_FIXES))]
    facts = {"answers": {"mailbox": view.mailbox}}
    spent = 0
    for number, (cause_id, status) in enumerate(causes, start=1):
        cause = knowledge.cause(cause_id)
        mark = text(tr.format(
            phrases.RESULTS_FIX_MARK, number=number, title=localized_title(cause, view.lang),
            status=tr(phrases.STATUS_WORDS[status])), weight="Bolder")
        sections = fix_sections(cause, facts, lang=view.lang)
        if spent + _size(sections) <= FIX_BUDGET_BYTES:
            spent += _size(sections)
            body.append({"type": "Container", "separator": True, "items": [
                mark,
                {"type": "ActionSet", "actions": [
                    _toggle(tr(phrases.RESULTS_SHOW_FIX), [f"fix-{number}"])]},
                _hidden(f"fix-{number}", sections),
            ]})
        else:
            body.append({"type": "Container", "separator": True, "items": [mark]})
            actions.append(dict(submit(f"{tr(phrases.RESULTS_SHOW_FIX)} {number}",
                                       {"msa": "show_fix", "cause": cause_id}),
                                mode="secondary"))
    return body


def results_card(knowledge: Knowledge, view: RunView) -> Card:
    """The results: ✓ / ✗ / ⚠ / ? / – per check, then the fixes in order, detail one tap away.

    Args:
        knowledge: Supplies the fixes and their order.
        view: The run as it stands.

    Returns:
        The card, with "Re-run checks" once the run is done.
    """
    tr = translator(view.lang)
    by_id = {r.check_id: r for r in view.results}
    answered = sum(1 for check_id in view.expected if check_id in by_id)
    who = tr.format(phrases.RESULTS_MAILBOX, mailbox=phrases.inert(view.mailbox))
    if view.signed_in_as:
        who += tr.format(phrases.RESULTS_SIGNED_IN, user=phrases.inert(view.signed_in_as))
    body: list[dict[str, Any]] = [
        text(tr(phrases.RESULTS_TITLE), weight="Bolder", size="Medium"),
        text(who),
    ]
    if view.pasted:
        body.append(text(tr(phrases.RESULTS_DONE_PASTED), subtle=True))
    elif view.done:
        seconds = f"{view.elapsed_s:.1f}" if view.elapsed_s is not None else "?"
        body.append(text(tr.format(phrases.RESULTS_DONE, total=len(view.expected),
                                   seconds=seconds), subtle=True))
    else:
        body.append(text(tr.format(phrases.RESULTS_PROGRESS, done=answered,
                                   total=len(view.expected)), subtle=True))
    for check_id in view.expected:
        body.append(_row(check_id, by_id.get(check_id), tr))
    # Results from outside the expected list (a pasted switch read) still show.
    for result in view.results:
        if result.check_id not in view.expected:
            body.append(_row(result.check_id, result, tr))

    if view.paste_lines:
        body.append(heading(tr(phrases.RESULTS_PASTE_HEADING)))
        body.append(text(tr(phrases.RESULTS_PASTE_ASK)))
        body.append(code_block(list(view.paste_lines)))

    actions: list[dict[str, Any]] = []
    fixes = _fixes(knowledge, view, actions)
    body.extend(fixes)
    if not fixes and view.done and not view.paste_lines:
        unknown = any(r.status is CheckStatus.UNKNOWN for r in view.results)
        body.append(text(tr(phrases.RESULTS_GOOD_BUT_UNKNOWN if unknown
                            else phrases.RESULTS_ALL_GOOD)))
    if view.done:
        # In the rows' order (results arrive in any order).
        shown = [*view.expected, *(r.check_id for r in view.results
                                   if r.check_id not in view.expected)]
        details = [f"detail-{check_id}" for check_id in shown if check_id in by_id]
        actions[:0] = [submit(tr(phrases.RESULTS_RERUN), {"msa": RUN_CHECKS}),
                       _toggle(tr(phrases.RESULTS_SHOW_DETAILS), details)]
        actions.append(dict(submit(tr(phrases.RESULTS_PERSON), {"msa": "person"}),
                            mode="secondary"))
    return card(body, actions)


def gallery_builders(lang: str = SOURCE_LANG) -> dict[str, Any]:
    """Return name -> builder(knowledge) for the live-check cards, with sample data, in ``lang``."""
    mailbox = "tms@contoso.com"
    expected = list(phrases.CHECK_TITLES)

    def result(check_id: str, status: CheckStatus, finding: str, cause_id: str | None = None,
               **facts: str) -> CheckResult:
        return CheckResult(check_id, status, finding, facts, cause_id, "", 180)

    found = [
        result("license", CheckStatus.PASS, "license.active",
               plans="EXCHANGE_S_STANDARD in O365_BUSINESS_ESSENTIALS"),
        result("mailbox_type", CheckStatus.PASS, "mailbox_type.user", type="user",
               type_title="user mailbox"),
        result("account_enabled", CheckStatus.PASS, "account.enabled", upn=mailbox),
        result("security_defaults", CheckStatus.FAIL, "security_defaults.on",
               "security_defaults"),
        result("conditional_access", CheckStatus.FAIL, "ca.blocks", "conditional_access",
               policies="'Block legacy authentication'"),
        result("mfa", CheckStatus.PASS, "mfa.off", registered="no"),
        result("smtp_sign_ins", CheckStatus.UNKNOWN, "timed_out", seconds="10"),
    ]
    refused = result("smtp_auth_switches", CheckStatus.UNKNOWN, "switches.unread",
                     tenant="unread", mailbox="unread", refusal="exchange.forbidden",
                     code="Forbidden")
    probe = result("smtp_probe", CheckStatus.FAIL, "smtp.refused", "smtp_auth_disabled_tenant",
                   user=mailbox, reply="535 5.7.139 Authentication unsuccessful, "
                   "SmtpClientAuthentication is disabled for the Tenant.")
    readiness = result("smtp_readiness", CheckStatus.WARN, "readiness.password",
                       "basic_auth_disabled", count="41", days="7")
    paste = [
        "Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled",
        f"Get-CASMailbox -Identity '{mailbox}' | Format-List SmtpClientAuthenticationDisabled",
    ]
    consent_url = ("https://login.microsoftonline.com/8d6a7f2c-1b3e-4c5d-9e8f-0a1b2c3d4e5f/"
                   "adminconsent?client_id=3f2b8c1d-7a6e-4d5c-9b8a-0c1d2e3f4a5b")
    # A shared mailbox read from a paste: the type's own requirements, and OAuth already in use.
    shared = [
        result("license", CheckStatus.PASS, "license.not_needed_shared", type="shared",
               type_title="shared mailbox"),
        result("mailbox_type", CheckStatus.PASS, "mailbox_type.shared", type="shared",
               type_title="shared mailbox", full_access="admin@contoso.com"),
        result("account_enabled", CheckStatus.PASS, "account.blocked_as_advised"),
        result("security_defaults", CheckStatus.PASS, "security_defaults.on_oauth"),
        result("conditional_access", CheckStatus.PASS, "ca.none", count="3", active="2"),
        result("mfa", CheckStatus.PASS, "mfa.enforced_oauth"),
        result("smtp_sign_ins", CheckStatus.PASS, "sign_ins.latest_ok",
               when="2026-12-05T09:14:02Z"),
        result("smtp_auth_switches", CheckStatus.FAIL, "switches.mailbox_off",
               "smtp_auth_disabled_mailbox", tenant="on", mailbox="off", source="pasted"),
        result("smtp_probe", CheckStatus.SKIPPED, "smtp.skipped_no_token",
               where="smtp.office365.com:587", tls="TLSv1.3",
               reason="AADSTS65001: The user or administrator has not consented to use the "
               "application"),
        result("smtp_readiness", CheckStatus.PASS, "readiness.oauth", days="7",
               apps="'CLOUDEX TMS' (12)"),
    ]
    return {
        "checks-consent": lambda k: consent_card(mailbox, consent_url, lang=lang),
        "checks-running": lambda k: results_card(k, RunView(
            mailbox, expected, found[:3], signed_in_as="admin@contoso.com", lang=lang)),
        "checks-results": lambda k: results_card(k, RunView(
            mailbox, expected, [*found, refused, probe, readiness], done=True, elapsed_s=4.2,
            signed_in_as="admin@contoso.com", paste_lines=paste, lang=lang)),
        "checks-after-paste": lambda k: results_card(k, RunView(
            "orders@contoso.com", expected, shared, done=True, signed_in_as="admin@contoso.com",
            pasted=True, lang=lang)),
        "checks-all-passed": lambda k: results_card(k, RunView(
            mailbox, expected,
            [result(c, CheckStatus.PASS, "") for c in expected], done=True,
            elapsed_s=1.1, signed_in_as=mailbox, lang=lang)),
    }
