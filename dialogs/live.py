"""What the live tenant checks mean for a conversation (no framework, no network).

The words that ask for them, the permissions they need and why, and how a
set of :class:`checks.CheckResult` values becomes "what to fix, in which
order". The bot's extension (``bot/live_checks.py``) and the cards
(:mod:`dialogs.check_cards`) share these, so the consent card, the results
card and the README say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks import CheckResult, CheckStatus
from dialogs.knowledge import Knowledge
from dialogs.understanding import normalise

#: The ``msa`` verbs of the live-check buttons (docs/contracts.md, "Card actions").
RUN_CHECKS = "run_checks"
SIGN_IN = "checks_sign_in"

# Whole-message phrases that ask for a live check (typed instead of pressing the button).
_PHRASES = frozenset(
    {
        "check my tenant", "check tenant", "check my tenant please", "please check my tenant",
        "run checks", "run the checks", "run check", "run live checks", "live check",
        "live checks", "re-run checks", "rerun checks", "re run checks", "run checks again",
        "check again", "check my settings", "check my setup", "check my microsoft 365",
        "check my m365", "run_checks",
    }
)


@dataclass(frozen=True)
class Permission:
    """One delegated permission the sign-in asks for, and why (shown before sign-in)."""

    api: str
    name: str
    why: str


#: Least privilege, read-only, per domain.md §4. User.Read.All covers both the
#: licence details and ``accountEnabled``, so LicenseAssignment.Read.All would only add.
PERMISSIONS: tuple[Permission, ...] = (
    Permission("Microsoft Graph", "User.Read",
               "sign you in and read your organisation's verified domains, so I only ever "
               "look at your own tenant"),
    Permission("Microsoft Graph", "User.Read.All",
               "the sending mailbox's licences and whether its account is enabled"),
    Permission("Microsoft Graph", "MailboxSettings.Read",
               "the mailbox type (user, shared, room …)"),
    Permission("Microsoft Graph", "Policy.Read.All",
               "security defaults and your Conditional Access policies"),
    Permission("Microsoft Graph", "AuditLog.Read.All",
               "recent failed SMTP sign-ins and the MFA registration report"),
    Permission("Microsoft Graph", "Directory.Read.All",
               "Microsoft requires it next to AuditLog.Read.All for the sign-in log, and it "
               "shows which groups a Conditional Access policy applies to"),
    Permission("Office 365 Exchange Online", "Exchange.Manage",
               "the organisation and mailbox SMTP AUTH switches, read through an Exchange "
               "admin endpoint Microsoft does not officially support; if it refuses, you "
               "can paste PowerShell output instead"),
    Permission("Office 365 Exchange Online", "SMTP.Send",
               "a live sign-in test on smtp.office365.com:587 when you are signed in as the "
               "sending mailbox; it stops after AUTH and sends no mail"),
)

ROLES_NOTE = (
    "You also need a role that may read these settings: Global Reader (or Security Reader "
    "plus Reports Reader) in Entra ID, and View-Only Organization Management in Exchange."
)


def wants_live_checks(text: str, action: Mapping[str, Any] | None = None) -> bool:
    """Tell whether a turn asks for the live checks (button or typed words).

    Args:
        text: What the customer typed.
        action: A pressed button's data, if any.

    Returns:
        True for the "Check my tenant" / "Re-run checks" buttons and their typed forms.
    """
    if isinstance(action, Mapping) and action.get("msa") == RUN_CHECKS:
        return True
    said = normalise(text or "").strip(" .!?")
    return bool(said) and len(said) <= 60 and said in _PHRASES


def failed_causes(
    results: Iterable[CheckResult], knowledge: Knowledge
) -> list[tuple[str, CheckStatus]]:
    """The causes the results point to, each once, in the knowledge base's fix order.

    Args:
        results: The checks' results so far.
        knowledge: Supplies the fix order (the order of its causes).

    Returns:
        (cause id, worst status) pairs: FAIL before WARN for the same cause,
        causes ordered as an admin has to fix them.
    """
    worst: dict[str, CheckStatus] = {}
    for result in results:
        if result.status not in (CheckStatus.FAIL, CheckStatus.WARN) or not result.cause_id:
            continue
        if result.cause_id not in knowledge.cause_ids:
            continue
        if worst.get(result.cause_id) is not CheckStatus.FAIL:
            worst[result.cause_id] = result.status
    order = {cause_id: n for n, cause_id in enumerate(knowledge.cause_ids)}
    return sorted(worst.items(), key=lambda item: order[item[0]])


def result_to_json(result: CheckResult) -> dict[str, Any]:
    """A result as plain JSON (kept in the conversation record; evidence holds no token).

    Args:
        result: The result.

    Returns:
        The dict.
    """
    return {
        "check_id": result.check_id,
        "title": result.title,
        "status": str(result.status),
        "evidence": result.evidence,
        "cause_id": result.cause_id,
        "duration_ms": result.duration_ms,
    }


def result_from_json(raw: Mapping[str, Any]) -> CheckResult | None:
    """Read a stored result back, or None when it is malformed.

    Args:
        raw: What :func:`result_to_json` produced.

    Returns:
        The result, or None.
    """
    try:
        return CheckResult(
            check_id=str(raw["check_id"]),
            title=str(raw["title"]),
            status=CheckStatus(str(raw["status"])),
            evidence=str(raw.get("evidence", "")),
            cause_id=str(raw["cause_id"]) if raw.get("cause_id") else None,
            duration_ms=int(raw.get("duration_ms", 0)),
        )
    except (KeyError, ValueError, TypeError):
        return None


def needs_paste(results: Sequence[CheckResult]) -> bool:
    """True when the SMTP AUTH switches could not be read and a PowerShell paste would help.

    Args:
        results: The results so far.

    Returns:
        Whether to offer "run this PowerShell and paste the output".
    """
    return any(
        r.check_id == "smtp_auth_switches" and r.status is CheckStatus.UNKNOWN for r in results
    )


def looks_like_paste(text: str) -> bool:
    """True when a message looks like pasted Get-TransportConfig / Get-CASMailbox output.

    Args:
        text: What the customer sent.

    Returns:
        Whether to read it as the PowerShell output the bot asked for.
    """
    lowered = (text or "").lower()
    return "smtpclientauth" in lowered or "get-transportconfig" in lowered or (
        "get-casmailbox" in lowered
    )
