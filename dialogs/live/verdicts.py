"""Results coalesced into final verdicts, fixes in order, and what only a person can resolve.

A check judges one setting on its own; some verdicts depend on the kind of
mailbox. A shared mailbox needs no licence and its sign-in should stay
blocked (Microsoft's advice), a room never signs in, a user mailbox needs
both. The knowledge file's ``mailbox_types`` say which kind needs what, and
:func:`coalesce` applies that to the raw results, so the licence and sign-in
rows of a shared mailbox read "not needed" / "blocked, as advised" instead of
demanding a licence and an unblocked account. Until the mailbox type is
known those rows are held back (:func:`visible`), so the card never shows a
✗ that turns into a ✓ a moment later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from dialogs.knowledge import Knowledge, MailboxType, SignIn, SmtpAuthSupport
from dialogs.live import phrases
from dialogs.live.results import CheckResult, CheckStatus

MAILBOX_TYPE = "mailbox_type"
#: Checks whose verdict depends on the mailbox type (held until it is known).
DEPENDS_ON_TYPE = frozenset({"license", "account_enabled"})
#: Causes that mean "this account should sign in" (wrong for mailboxes that never do).
_SIGN_IN_CAUSES = frozenset({"account_blocked", "wrong_credentials"})


def mailbox_kind(results: Iterable[CheckResult], knowledge: Knowledge) -> MailboxType | None:
    """The kind of mailbox the mailbox-type check read, as the knowledge file names it.

    Args:
        results: The results so far.
        knowledge: Supplies the mailbox types.

    Returns:
        The mailbox type, or None while unread or for a kind the knowledge doesn't list.
    """
    for result in results:
        if result.check_id == MAILBOX_TYPE and result.finding == "mailbox_type.read":
            return knowledge.mailbox_type_of(
                recipient_type=result.fact("recipient_type"),
                user_purpose=result.fact("user_purpose"),
            )
    return None


def _judge_type(result: CheckResult, kind: MailboxType | None, auth_method: str | None
                ) -> CheckResult:
    if result.finding != "mailbox_type.read":
        return result
    if kind is None:
        return result.with_verdict(CheckStatus.UNKNOWN, "mailbox_type.unknown_kind", None)
    title = kind.title.split(" (")[0].lower()
    if kind.smtp_auth is SmtpAuthSupport.SUPPORTED:
        return result.with_verdict(CheckStatus.PASS, "mailbox_type.user", None,
                                   type=kind.id, type_title=title)
    if kind.smtp_auth is SmtpAuthSupport.NEEDS_LICENSED_USER:
        if auth_method == "basic":
            return result.with_verdict(
                CheckStatus.WARN, "mailbox_type.shared_password", "unsupported_mailbox_type",
                type=kind.id, type_title=title,
            )
        holders = result.fact("full_access") or phrases.ANYONE_YOU_GRANT
        return result.with_verdict(CheckStatus.PASS, "mailbox_type.shared", None,
                                   type=kind.id, type_title=title, full_access=holders)
    return result.with_verdict(CheckStatus.FAIL, "mailbox_type.unsupported",
                               "unsupported_mailbox_type", type=kind.id, type_title=title)


def _judge_license(result: CheckResult, kind: MailboxType) -> CheckResult:
    if kind.needs_license:
        return result
    title = kind.title.split(" (")[0].lower()
    finding = "license.not_needed_shared" if kind.id == "shared" else "license.not_needed"
    return result.with_verdict(CheckStatus.PASS, finding, None, type=kind.id, type_title=title)


def _judge_account(result: CheckResult, kind: MailboxType) -> CheckResult:
    if kind.sign_in is SignIn.REQUIRED:
        return result
    title = kind.title.split(" (")[0].lower()
    if kind.sign_in is SignIn.NOT_USED:
        return result.with_verdict(CheckStatus.SKIPPED, "account.not_needed", None,
                                   type=kind.id, type_title=title)
    enabled = result.fact("enabled")
    if enabled == "false":
        return result.with_verdict(CheckStatus.PASS, "account.blocked_as_advised", None)
    if enabled == "true":
        return result.with_verdict(CheckStatus.PASS, "account.shared_enabled", None)
    return result


def coalesce(
    results: Sequence[CheckResult], knowledge: Knowledge, *, auth_method: str | None = None
) -> list[CheckResult]:
    """Apply the mailbox type's requirements (from the knowledge file) to the raw results.

    Args:
        results: Raw results, in arrival order.
        knowledge: Supplies the mailbox types.
        auth_method: How the customer's app signs in ("basic", "oauth"), if known.

    Returns:
        The final results, same order.
    """
    kind = mailbox_kind(results, knowledge)
    no_mailbox = any(r.check_id == MAILBOX_TYPE and r.finding == "mailbox_type.no_mailbox"
                     for r in results)
    final: list[CheckResult] = []
    for result in results:
        if no_mailbox and result.check_id == "smtp_probe" and result.status is not CheckStatus.PASS:
            # Without a mailbox a sign-in can only fail; that is the mailbox's finding, not SMTP's.
            result = result.with_verdict(CheckStatus.SKIPPED, "smtp.skipped_no_mailbox", None)
        elif result.check_id == MAILBOX_TYPE:
            result = _judge_type(result, kind, auth_method)
        elif kind is not None and result.check_id == "license":
            result = _judge_license(result, kind)
        elif kind is not None and result.check_id == "account_enabled":
            result = _judge_account(result, kind)
        elif (
            kind is not None
            and kind.sign_in is not SignIn.REQUIRED
            and result.cause_id in _SIGN_IN_CAUSES
            and result.status in (CheckStatus.FAIL, CheckStatus.WARN)
        ):
            # A password sign-in as a mailbox that should not sign in: the fix is
            # Send As or OAuth, not unblocking the account.
            result = result.with_verdict(result.status, result.finding, "unsupported_mailbox_type")
        final.append(result)
    return final


def visible(results: Sequence[CheckResult], *, done: bool) -> list[CheckResult]:
    """The results the card may show now: type-dependent ones wait for the mailbox type.

    Args:
        results: Coalesced results.
        done: True once every check has answered (then everything shows).

    Returns:
        The results to show.
    """
    if done or any(r.check_id == MAILBOX_TYPE for r in results):
        return list(results)
    return [r for r in results if r.check_id not in DEPENDS_ON_TYPE]


def failed_causes(
    results: Iterable[CheckResult], knowledge: Knowledge
) -> list[tuple[str, CheckStatus]]:
    """The causes the results point to, each once, in the knowledge base's fix order.

    Args:
        results: The (coalesced) results.
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
    order = knowledge.fix_order
    return sorted(worst.items(), key=lambda item: order[item[0]])


def needs_person(results: Iterable[CheckResult], knowledge: Knowledge) -> list[str]:
    """Causes found that only a person can resolve (``needs_person`` in the knowledge file).

    Args:
        results: The (coalesced) results.
        knowledge: Supplies the flags.

    Returns:
        The cause ids, in fix order; empty when the customer can fix everything.
    """
    return [cause for cause, _ in failed_causes(results, knowledge)
            if knowledge.cause(cause).needs_person]


def counts(results: Iterable[CheckResult]) -> Mapping[str, int]:
    """How many results have each status (for the audit log).

    Args:
        results: The results.

    Returns:
        status -> count.
    """
    tally: dict[str, int] = {}
    for result in results:
        tally[str(result.status)] = tally.get(str(result.status), 0) + 1
    return tally
