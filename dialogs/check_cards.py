"""The live checks' cards: consent before sign-in, and the results card (updated as they arrive).

Built from the same pieces as every other card (:mod:`dialogs.cards`): the
fix for a failure is :func:`dialogs.cards.fix_sections`, the one fix builder,
so the results card, the guided flow and the staff tools show one text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from checks import CheckResult, CheckStatus
from dialogs.cards import Card, card, code_block, fix_sections, heading, submit, text
from dialogs.knowledge import Knowledge
from dialogs.live import PERMISSIONS, ROLES_NOTE, RUN_CHECKS, SIGN_IN, failed_causes

# Teams takes about 100 KB per message; the tests hold every card to 28 KB. Full
# fix texts go in while they fit this budget, the rest get a "Show the fix" button.
FIX_BUDGET_BYTES = 20_000

_ICONS: dict[CheckStatus, tuple[str, str | None]] = {
    CheckStatus.PASS: ("✓", "Good"),
    CheckStatus.FAIL: ("✗", "Attention"),
    CheckStatus.WARN: ("⚠", "Warning"),
    CheckStatus.UNKNOWN: ("?", None),
    CheckStatus.SKIPPED: ("–", None),
}


def consent_card(mailbox: str | None, admin_consent_url: str) -> Card:
    """Before sign-in: what will be read, each permission and why, and what a "no" means.

    Args:
        mailbox: The sending mailbox if known (pre-filled; the customer can change it).
        admin_consent_url: Where a Global Administrator consents for the organisation.

    Returns:
        The card; "Sign in and check" carries the mailbox input.
    """
    body: list[dict[str, Any]] = [
        text("Check your Microsoft 365 settings live", weight="Bolder", size="Medium"),
        text("If you sign in, I read the settings that decide whether the mailbox can send "
             "through smtp.office365.com and tell you exactly which one blocks it. I only "
             "read: nothing is changed, no mail is sent, and I never see your password."),
        heading("What I ask permission for (read-only, delegated: I see what you may see)"),
        {"type": "FactSet", "facts": [
            {"title": p.name, "value": p.why} for p in PERMISSIONS
        ]},
        text(ROLES_NOTE, subtle=True),
        text("Not a Global Administrator? Ask one to grant these permissions for your "
             f"organisation once: [admin consent]({admin_consent_url})."),
        text("If you'd rather not sign in, nothing is read: I'll ask you about the same "
             "settings one question at a time instead.", subtle=True),
        {"type": "Input.Text", "id": "mailbox", "style": "Email", "maxLength": 254,
         "label": "Sending mailbox to check", "placeholder": "tms@yourcompany.com",
         "value": mailbox or ""},
    ]
    return card(body, [
        submit("Sign in and check", {"msa": SIGN_IN}, style="positive"),
        submit("No thanks, ask me the questions", {"msa": "continue"}),
    ])


@dataclass(frozen=True)
class RunView:
    """What the results card shows at one moment of a run.

    Attributes:
        mailbox: The mailbox checked.
        expected: (check id, title) of every check in the run, in card order.
        results: The results so far (any order).
        done: True when every check has answered.
        signed_in_as: The signed-in account, if known.
        elapsed_s: How long the run took, once done.
        paste_lines: PowerShell to run when the Exchange endpoint refused.
        pasted: True when the switches were read from pasted output.
    """

    mailbox: str
    expected: Sequence[tuple[str, str]]
    results: Sequence[CheckResult]
    done: bool = False
    signed_in_as: str | None = None
    elapsed_s: float | None = None
    paste_lines: Sequence[str] = field(default_factory=tuple)
    pasted: bool = False


def _row(title: str, result: CheckResult | None) -> list[dict[str, Any]]:
    if result is None:
        return [text(f"… **{title}**: checking", subtle=True, spacing="Small")]
    icon, color = _ICONS[result.status]
    return [
        text(f"{icon} **{result.title or title}**", color=color, spacing="Small"),
        text(result.evidence or "(no details)", subtle=True, size="Small", spacing="None"),
    ]


def _size(elements: Sequence[dict[str, Any]]) -> int:
    return len(json.dumps(list(elements), ensure_ascii=False).encode("utf-8"))


def results_card(knowledge: Knowledge, view: RunView) -> Card:
    """The results of a live check: ✓ / ✗ / ? per check with evidence, then the fixes in order.

    Args:
        knowledge: Supplies the fixes and their order.
        view: The run as it stands.

    Returns:
        The card, with "Re-run checks" once the run is done.
    """
    by_id = {r.check_id: r for r in view.results}
    answered = sum(1 for check_id, _ in view.expected if check_id in by_id)
    body: list[dict[str, Any]] = [
        text("Live check of your tenant", weight="Bolder", size="Medium"),
        text(f"Mailbox: **{view.mailbox}**"
             + (f" · signed in as {view.signed_in_as}" if view.signed_in_as else "")),
    ]
    if view.done:
        took = f" in {view.elapsed_s:.1f} s" if view.elapsed_s is not None else ""
        body.append(text(f"All {len(view.expected)} checks done{took}. Nothing was changed "
                         "and no mail was sent.", subtle=True))
    else:
        body.append(text(f"Checking… {answered} of {len(view.expected)} done.", subtle=True))
    for check_id, title in view.expected:
        body.extend(_row(title, by_id.get(check_id)))
    # Results from outside the expected list (a pasted switch read) still show.
    for result in view.results:
        if result.check_id not in {c for c, _ in view.expected}:
            body.extend(_row(result.title, result))

    if view.paste_lines:
        body.append(heading("Couldn't read the SMTP AUTH switches"))
        body.append(text("Microsoft's Exchange admin endpoint refused (it is not officially "
                         "supported). Run this in Exchange Online PowerShell "
                         "(Connect-ExchangeOnline first) and paste the whole output here as "
                         "your next message:"))
        body.append(code_block(list(view.paste_lines)))

    causes = failed_causes(view.results, knowledge)
    actions: list[dict[str, Any]] = []
    if causes:
        body.append(heading("🔧 What to fix, in this order"))
        facts = {"answers": {"mailbox": view.mailbox}}
        spent = 0
        for number, (cause_id, status) in enumerate(causes, start=1):
            cause = knowledge.cause(cause_id)
            marker = "must fix" if status is CheckStatus.FAIL else "check this"
            header = text(f"{number}. {cause.title} ({marker})", weight="Bolder")
            sections = fix_sections(cause, facts)
            if spent + _size(sections) <= FIX_BUDGET_BYTES:
                spent += _size(sections)
                body.append({"type": "Container", "separator": True,
                             "items": [header, *sections]})
            else:
                body.append({"type": "Container", "separator": True, "items": [
                    header, text(cause.summary, subtle=True)]})
                actions.append(dict(submit(f"Fix {number}: {cause.title}"[:60],
                                           {"msa": "show_fix", "cause": cause_id}),
                                    mode="secondary"))
    elif view.done and not view.paste_lines:
        if any(r.status is CheckStatus.UNKNOWN for r in view.results):
            body.append(text("Nothing I could read blocks SMTP AUTH, but some checks could not "
                             "answer (see the ? lines). If sending still fails, paste the exact "
                             "error message here."))
        else:
            body.append(text("Nothing I checked blocks SMTP AUTH for this mailbox. If sending "
                             "still fails, paste the exact error message here."))
    if view.done:
        actions.insert(0, submit("Re-run checks", {"msa": RUN_CHECKS}))
        actions.append(dict(submit("Talk to a person", {"msa": "person"}), mode="secondary"))
    return card(body, actions)


def gallery_builders() -> dict[str, Any]:
    """Return name -> builder(knowledge) for the live-check cards, with sample data."""
    mailbox = "tms@contoso.com"
    expected = [
        ("license", "Exchange Online licence"), ("mailbox_type", "Mailbox type"),
        ("account_enabled", "Account can sign in"), ("security_defaults", "Security defaults"),
        ("conditional_access", "Conditional Access policies"),
        ("smtp_sign_ins", "Recent Authenticated SMTP sign-ins"),
        ("mfa_registration", "MFA registration"),
        ("smtp_auth_switches", "SMTP AUTH switches (unsupported Microsoft endpoint)"),
        ("smtp_probe", "Live SMTP test"),
    ]

    def result(check_id: str, status: CheckStatus, evidence: str,
               cause_id: str | None = None) -> CheckResult:
        title = dict(expected)[check_id]
        return CheckResult(check_id, title, status, evidence, cause_id, 180)

    found = [
        result("license", CheckStatus.PASS, "Exchange Online plan active: EXCHANGE_S_STANDARD "
               "in O365_BUSINESS_ESSENTIALS (Success)"),
        result("mailbox_type", CheckStatus.PASS, "userPurpose is 'user': a user mailbox."),
        result("account_enabled", CheckStatus.PASS, f"{mailbox} is allowed to sign in."),
        result("security_defaults", CheckStatus.FAIL, "Security defaults are on: they block "
               "Basic authentication, including SMTP AUTH with a password.",
               "security_defaults"),
        result("conditional_access", CheckStatus.FAIL, "'Block legacy authentication' (on) "
               "blocks other clients (legacy authentication) for all users.",
               "conditional_access"),
        result("smtp_sign_ins", CheckStatus.UNKNOWN, "Timed out after 10 s."),
        result("mfa_registration", CheckStatus.PASS, "Not registered for MFA."),
    ]
    refused = result(
        "smtp_auth_switches", CheckStatus.UNKNOWN,
        "The Exchange admin endpoint (unsupported by Microsoft) refused: Get-TransportConfig: "
        "403 The user isn't assigned to any management roles. organisation "
        "SmtpClientAuthenticationDisabled = not read; mailbox = not read.")
    probe = result("smtp_probe", CheckStatus.FAIL, "smtp.office365.com:587: TLSv1.3; AUTH "
                   "XOAUTH2 refused: 535 5.7.139 Authentication unsuccessful, "
                   "SmtpClientAuthentication is disabled for the Tenant.",
                   "smtp_auth_disabled_tenant")
    paste = [
        "Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled",
        f"Get-CASMailbox -Identity '{mailbox}' | Format-List SmtpClientAuthenticationDisabled",
    ]
    consent_url = ("https://login.microsoftonline.com/8d6a7f2c-1b3e-4c5d-9e8f-0a1b2c3d4e5f/"
                   "adminconsent?client_id=3f2b8c1d-7a6e-4d5c-9b8a-0c1d2e3f4a5b")
    return {
        "checks-consent": lambda k: consent_card(mailbox, consent_url),
        "checks-running": lambda k: results_card(k, RunView(
            mailbox, expected, found[:3], signed_in_as="admin@contoso.com")),
        "checks-results": lambda k: results_card(k, RunView(
            mailbox, expected, [*found, refused, probe], done=True, elapsed_s=4.2,
            signed_in_as="admin@contoso.com", paste_lines=paste)),
        "checks-all-passed": lambda k: results_card(k, RunView(
            mailbox, expected,
            [result(c, CheckStatus.PASS, "Fine.") for c, _ in expected], done=True,
            elapsed_s=1.1, signed_in_as=mailbox)),
    }
