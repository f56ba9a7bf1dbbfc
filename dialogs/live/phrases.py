"""Every customer-facing sentence of the live checks, in one place (English, translated).

The checks report *findings* (keys) and *facts* (values); this module turns
them into words: the check titles, one short and one full sentence per
finding, the consent card's permission table, and what the bot says around a
run. Nothing else in the live checks holds a customer-facing sentence.

Like :mod:`dialogs.messages`, the English texts here are the message ids of
the gettext catalogs (:mod:`dialogs.i18n`): :mod:`dialogs.translatable` reads
every upper-case constant of this module — texts, tuples and mappings of
texts, a :class:`Phrase`'s two texts, a :class:`Permission`'s two
explanations (its API and permission names are Microsoft's and stay) —
except those in :data:`FOR_AGENTS`. Say them through the conversation's
translator; after changing or adding one, run ``make i18n`` and translate it.

Sentences are ``str.format`` templates over the result's facts. A missing fact
renders as "?" (never a crash, never a wrong claim); fact values are made
inert for Adaptive Card markdown before they are inserted. Facts are
Microsoft's or the customer's (addresses, codes, policy names, counts) and
stay as they are in every language, except the few whose values are the
bot's own words (:data:`WORDED_FACTS`), which are translated with the
sentence. A count never sits where a language would inflect around it
("{count} times", "in {minutes} minutes"): templates say "times: {count}" or
"{minutes} min", so one translation is right for every number.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from dialogs.i18n import SOURCE_LANG as _SOURCE_LANG
from dialogs.i18n import Translator, translator
from dialogs.live.results import CheckResult, CheckStatus


@dataclass(frozen=True)
class Phrase:
    """How one finding reads: a few words for the row, a full sentence for the detail."""

    short: str
    text: str


#: Check titles, in the order the results card lists the checks.
CHECK_TITLES: Mapping[str, str] = {
    "license": "Exchange Online licence",
    "mailbox_type": "Mailbox type",
    "account_enabled": "Account sign-in",
    "security_defaults": "Security defaults",
    "conditional_access": "Conditional Access",
    "mfa": "Per-user MFA",
    "smtp_sign_ins": "SMTP sign-ins (7 days)",
    "smtp_auth_switches": "SMTP AUTH switches",
    "smtp_probe": "Live SMTP test",
    "smtp_readiness": "December 2026 readiness",
}

_P = Phrase
FINDINGS: Mapping[str, Phrase] = {
    # ----- any check --------------------------------------------------------------
    "timed_out": _P("no answer in time", "No answer within {seconds} s."),
    "failed_unexpectedly": _P(
        "check failed", "This check failed unexpectedly ({error}); the other results still stand."
    ),
    "token.unavailable": _P("no permission", "No access token: {reason}."),
    "not_on_plan": _P(
        "needs Entra ID P1", "Your tenant has no Entra ID P1, so Microsoft does not show this."
    ),
    "graph.unauthorized": _P(
        "sign-in not accepted",
        "Microsoft Graph did not accept the sign-in ({code}). Sign in again.",
    ),
    "graph.forbidden": _P(
        "not allowed to read", "Microsoft Graph refused ({code}): this needs {permission}."
    ),
    "graph.not_found": _P("not found", "Microsoft Graph found nothing there ({code})."),
    "graph.throttled": _P(
        "Microsoft is busy", "Microsoft Graph is throttling requests; try again in {seconds} s."
    ),
    "graph.unreachable": _P(
        "no answer", "Microsoft Graph could not be reached ({reason})."
    ),
    "graph.certificate": _P(
        "certificate not trusted",
        "The certificate of {host} is not trusted ({reason}): something between the bot and "
        "Microsoft intercepts TLS.",
    ),
    "graph.error": _P("error", "Microsoft Graph answered {status} {code}."),
    "exchange.unauthorized": _P(
        "sign-in not accepted",
        "The Exchange admin endpoint did not accept the sign-in ({code}). Sign in again.",
    ),
    "exchange.forbidden": _P(
        "not allowed to read",
        "The Exchange admin endpoint refused ({code}): your account needs an Exchange role that "
        "may read settings, such as View-Only Organization Management.",
    ),
    "exchange.unreachable": _P(
        "no answer", "The Exchange admin endpoint could not be reached ({reason})."
    ),
    "exchange.certificate": _P(
        "certificate not trusted",
        "The certificate of {host} is not trusted ({reason}): something between the bot and "
        "Microsoft intercepts TLS.",
    ),
    "exchange.error": _P("error", "The Exchange admin endpoint answered {status} {code}."),
    # ----- licence ------------------------------------------------------------------
    "license.active": _P("active", "An Exchange Online plan is active ({plans})."),
    "license.pending": _P(
        "still being set up",
        "The Exchange Online plan is still being set up ({plans}); this usually takes minutes.",
    ),
    "license.disabled": _P(
        "Exchange Online turned off",
        "A licence is assigned, but its Exchange Online app is turned off ({plans}).",
    ),
    "license.foundation_only": _P(
        "no mailbox plan",
        "Only 'Exchange Foundation' ({plans}), which gives no mailbox.",
    ),
    "license.none": _P("none with Exchange Online", "No licence with Exchange Online ({skus})."),
    "license.not_needed": _P(
        "not needed", "A {type_title} needs no licence."
    ),
    "license.not_needed_shared": _P(
        "not needed", "A shared mailbox needs no licence (up to 50 GB, no archive)."
    ),
    # ----- mailbox type -------------------------------------------------------------
    "mailbox_type.read": _P("read", "Exchange calls this mailbox '{kind}'."),
    "mailbox_type.user": _P("user mailbox", "A user mailbox: it can sign in to SMTP itself."),
    "mailbox_type.shared": _P(
        "shared mailbox",
        "A shared mailbox: it needs no licence and its sign-in stays blocked. It sends with "
        "OAuth by a user with Full Access ({full_access}), or through a licensed user with "
        "Send As.",
    ),
    "mailbox_type.shared_password": _P(
        "shared: no password sign-in",
        "A shared mailbox cannot sign in with a password. Send through a licensed user with "
        "Send As, or with OAuth by a user with Full Access.",
    ),
    "mailbox_type.unsupported": _P(
        "cannot send",
        "A {type_title} cannot send with Authenticated SMTP; use a licensed user mailbox.",
    ),
    "mailbox_type.unknown_kind": _P(
        "unknown kind", "Exchange calls this mailbox '{kind}', a kind I don't know."
    ),
    "mailbox_type.unread": _P(
        "couldn't read",
        "Couldn't read the mailbox type. In Exchange Online PowerShell: Get-EXOMailbox "
        "-Identity {mailbox_ps} | Format-List RecipientTypeDetails",
    ),
    "mailbox_type.no_mailbox": _P(
        "no mailbox",
        "There is no Exchange Online mailbox for {mailbox} (no licence, or it was deleted).",
    ),
    # ----- account ------------------------------------------------------------------
    "account.enabled": _P("allowed", "Sign-in is allowed for {upn}."),
    "account.blocked": _P("blocked", "Sign-in is blocked for {upn}."),
    "account.unknown": _P(
        "not reported", "Microsoft Graph did not say whether sign-in is allowed."
    ),
    "account.blocked_as_advised": _P(
        "blocked, as advised",
        "Sign-in is blocked, as Microsoft advises for a shared mailbox (OAuth and Send As "
        "don't need it).",
    ),
    "account.shared_enabled": _P(
        "allowed",
        "Sign-in is allowed; Microsoft advises blocking it for a shared mailbox.",
    ),
    "account.not_needed": _P("not needed", "A {type_title} does not sign in."),
    # ----- security defaults -----------------------------------------------------------
    "security_defaults.off": _P("off", "Security defaults are off."),
    "security_defaults.on": _P(
        "on: block password SMTP",
        "Security defaults are on: they block SMTP sign-in with a password.",
    ),
    "security_defaults.on_oauth": _P(
        "on, fine for OAuth",
        "Security defaults are on; they don't stop OAuth, which CLOUDEX TMS uses.",
    ),
    "security_defaults.unknown": _P(
        "not reported", "Microsoft Graph did not say whether security defaults are on."
    ),
    # ----- Conditional Access ----------------------------------------------------------
    "ca.none": _P(
        "nothing blocks SMTP",
        "{count} policies read ({active} on); none stops SMTP sign-in for this mailbox.",
    ),
    "ca.blocks": _P("a policy blocks", "{policies} blocks SMTP sign-in for this mailbox."),
    "ca.may_block": _P(
        "a policy may block",
        "{policies} may stop SMTP sign-in (report-only, or it depends on conditions or groups).",
    ),
    # ----- per-user MFA -----------------------------------------------------------------
    "mfa.off": _P("off", "Per-user MFA is off (registered for MFA: {registered})."),
    "mfa.enforced": _P(
        "enforced",
        "Per-user MFA is enforced: SMTP with a password fails (app passwords end in December "
        "2026). OAuth works.",
    ),
    "mfa.enforced_password": _P(
        "enforced: blocks password SMTP",
        "Per-user MFA is enforced, so CLOUDEX TMS's password sign-in to SMTP fails. Use OAuth.",
    ),
    "mfa.enforced_oauth": _P(
        "enforced, fine for OAuth", "Per-user MFA is enforced; OAuth handles it."
    ),
    "mfa.enabled": _P(
        "enabled",
        "Per-user MFA is enabled and becomes enforced once a method is registered; then SMTP "
        "with a password stops working.",
    ),
    "mfa.unknown": _P(
        "not readable",
        "Couldn't read the per-user MFA state ({reason}). Registered for MFA: {registered}.",
    ),
    # ----- SMTP sign-ins ---------------------------------------------------------------
    "sign_ins.none": _P(
        "none with a password", "No SMTP sign-ins with a password in the last {days} days."
    ),
    "sign_ins.latest_ok": _P("latest worked", "The latest SMTP sign-in ({when}) worked."),
    "sign_ins.latest_ok_after_failures": _P(
        "latest worked",
        "The latest SMTP sign-in ({when}) worked; {failed} earlier ones failed.",
    ),
    "sign_ins.failed": _P(
        "latest failed: {code}",
        "The latest SMTP sign-in ({when}) failed: {code} {reason} {failed} of {total} failed "
        "in {days} days.",
    ),
    # ----- SMTP AUTH switches -----------------------------------------------------------
    "switches.on": _P("on", "SMTP AUTH is allowed for this mailbox."),
    "switches.mailbox_overrides": _P(
        "on for this mailbox",
        "SMTP AUTH is allowed for this mailbox; its own setting overrides the organisation's "
        "'off'.",
    ),
    "switches.mailbox_off": _P("off for the mailbox", "SMTP AUTH is turned off for this mailbox."),
    "switches.tenant_off": _P(
        "off for the organisation",
        "SMTP AUTH is off for the organisation, and this mailbox follows it.",
    ),
    "switches.unread": _P(
        "couldn't read",
        "Couldn't read the SMTP AUTH switches (organisation: {tenant}; mailbox: {mailbox}).",
    ),
    "switches.no_mailbox": _P(
        "no mailbox", "There is no mailbox, so there is no SMTP AUTH setting to read."
    ),
    # ----- live SMTP test ---------------------------------------------------------------
    "smtp.accepted": _P(
        "sign-in works",
        "Signed in to {where} as {user} with OAuth ({tls}); no mail was sent.",
    ),
    "smtp.refused": _P("sign-in refused", "The sign-in as {user} was refused: {reply}"),
    "smtp.skipped_no_access": _P(
        "not tried: no Full Access",
        "Sign-in not tried: {signed_in} has no Full Access to {mailbox}, and only the mailbox "
        "or a user with Full Access can test it. {where} answers with {tls}.",
    ),
    "smtp.skipped_access_unknown": _P(
        "not tried",
        "Sign-in not tried: I couldn't check whether {signed_in} has Full Access to {mailbox} "
        "({reason}). {where} answers with {tls}.",
    ),
    "smtp.skipped_no_token": _P(
        "not tried: no SMTP.Send",
        "Sign-in not tried: no SMTP.Send permission ({reason}). {where} answers with {tls}.",
    ),
    "smtp.skipped_no_mailbox": _P(
        "not tried", "Sign-in not tried: there is no mailbox to sign in to."
    ),
    "smtp.no_xoauth2": _P("no OAuth offered", "{where} does not offer XOAUTH2 ({tls})."),
    "smtp.no_starttls": _P(
        "no STARTTLS", "{where} offers no STARTTLS, so a client can't protect its sign-in."
    ),
    "smtp.no_auth": _P(
        "no sign-in offered",
        "{where} offers no sign-in after STARTTLS: it is not a submission server (an MX host "
        "instead of smtp.office365.com?).",
    ),
    "smtp.certificate": _P(
        "certificate not trusted",
        "The certificate of {where} is not trusted ({reason}): something intercepts TLS.",
    ),
    "smtp.tls_failed": _P(
        "TLS 1.2 failed", "TLS 1.2 or newer could not be set up with {where} ({reason})."
    ),
    "smtp.step_refused": _P("refused", "{where} refused at {step}: {reply}"),
    "smtp.unreachable": _P("no connection", "Could not connect to {where} ({reason})."),
    "smtp.timeout": _P("no answer in time", "{where} did not answer in time."),
    "smtp.broke_off": _P(
        "connection broke off", "The SMTP conversation with {where} broke off ({reason})."
    ),
    # ----- December 2026 readiness --------------------------------------------------------
    "readiness.password": _P(
        "uses a password",
        "This mailbox signed in to SMTP with a password {count} times in the last {days} days. "
        "Microsoft turns that off by default at the end of December 2026: plan OAuth.",
    ),
    "readiness.password_blocked": _P(
        "password already blocked",
        "This mailbox tried SMTP with a password {count} times in the last {days} days, and "
        "the authentication policy '{policy}' already blocks it: move to OAuth.",
    ),
    "readiness.oauth": _P(
        "already on OAuth ✓",
        "Already on OAuth ✓: no password sign-ins in {days} days; OAuth sign-ins by {apps}.",
    ),
    "readiness.said_oauth": _P(
        "uses OAuth",
        "No SMTP sign-ins with a password in {days} days, and you told me CLOUDEX TMS uses "
        "OAuth: ready for December 2026.",
    ),
    "readiness.said_oauth_no_log": _P(
        "uses OAuth",
        "I can't see the sign-in log (it needs Entra ID P1); you told me CLOUDEX TMS uses "
        "OAuth: ready for December 2026.",
    ),
    "readiness.password_tried": _P(
        "tries a password",
        "This mailbox tried SMTP with a password {count} times in the last {days} days. "
        "Microsoft turns that off by default at the end of December 2026: plan OAuth.",
    ),
    "readiness.said_password": _P(
        "uses a password",
        "You told me CLOUDEX TMS signs in with a password. Microsoft turns that off by default "
        "at the end of December 2026: plan OAuth.",
    ),
    "readiness.no_activity": _P(
        "no SMTP sign-ins seen",
        "No SMTP sign-ins of this mailbox in the last {days} days, so I can't tell how it signs "
        "in. If it uses a password, plan OAuth before the end of December 2026.",
    ),
    "readiness.no_log": _P(
        "couldn't see the sign-in log",
        "I can't see the sign-in log (it needs Entra ID P1). See how this mailbox signs in "
        "under Exchange admin center > Reports > Mail flow > SMTP AUTH clients report.",
    ),
    "readiness.no_log_policy_blocks": _P(
        "password SMTP already blocked",
        "I can't see the sign-in log (it needs Entra ID P1), but the authentication policy "
        "'{policy}' already blocks SMTP with a password. See what still uses it under Exchange "
        "admin center > Reports > Mail flow > SMTP AUTH clients report.",
    ),
}

#: Passing findings worth their few words on the row (what kind of mailbox, why a licence or
#: an unblocked sign-in is not needed, that the mailbox is ready for December 2026).
SAID_WHEN_FINE = frozenset({
    "mailbox_type.user", "mailbox_type.shared", "license.not_needed", "license.not_needed_shared",
    "account.blocked_as_advised", "account.shared_enabled", "readiness.oauth",
    "readiness.said_oauth", "readiness.said_oauth_no_log", "security_defaults.on_oauth",
    "mfa.enforced_oauth",
})

#: Extra words for a result by its "source" fact (shown with the full sentence).
SOURCES: Mapping[str, str] = {
    "exchange": "Read through an Exchange admin endpoint Microsoft does not officially support.",
    "pasted": "Read from the PowerShell output you pasted.",
    "paste_unreadable": "I found no SmtpClientAuthenticationDisabled value in what you pasted.",
    "graph": "Read through Microsoft Graph.",
}

STATUS_WORDS: Mapping[CheckStatus, str] = {
    CheckStatus.PASS: "fine",
    CheckStatus.FAIL: "must fix",
    CheckStatus.WARN: "check this",
    CheckStatus.UNKNOWN: "couldn't tell",
    CheckStatus.SKIPPED: "not checked",
}


# ----- the consent card ----------------------------------------------------------------
@dataclass(frozen=True)
class Permission:
    """One delegated permission the sign-in asks for: what it allows, and what the bot does."""

    api: str
    name: str
    allows: str
    bot_does: str


PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        "Microsoft Graph", "User.Read",
        "Sign you in and read your own profile and your organisation's basic details.",
        "Reads who you are and your organisation's verified domains, so I only look at your "
        "own tenant.",
    ),
    Permission(
        "Microsoft Graph", "User.Read.All",
        "Read every user's profile in your organisation.",
        "Reads only the sending mailbox's user: its licences and whether its sign-in is "
        "allowed.",
    ),
    Permission(
        "Microsoft Graph", "MailboxSettings.Read",
        "Read the settings of mailboxes you can open.",
        "Reads only your own mailbox's type, when you check your own mailbox.",
    ),
    Permission(
        "Microsoft Graph", "Policy.Read.All",
        "Read your organisation's policies.",
        "Reads security defaults, Conditional Access policies and the per-user MFA state of "
        "the sending mailbox.",
    ),
    Permission(
        "Microsoft Graph", "AuditLog.Read.All",
        "Read the audit and sign-in logs of everyone.",
        "Reads the sending mailbox's SMTP sign-ins of the last 7 days and its MFA "
        "registration.",
    ),
    Permission(
        "Microsoft Graph", "Directory.Read.All",
        "Read all directory data: users, groups, roles.",
        "Microsoft requires it next to AuditLog.Read.All for the sign-in log; I also read which "
        "groups a Conditional Access policy covers.",
    ),
    Permission(
        "Office 365 Exchange Online", "Exchange.Manage",
        "Run Exchange Online PowerShell as you, including changes, within your Exchange role.",
        "Runs only Get- commands (SMTP AUTH switches, mailbox type, Full Access, authentication "
        "policies) and never a Set- command. If you'd rather not allow it, you can paste "
        "PowerShell output instead.",
    ),
    Permission(
        "Office 365 Exchange Online", "SMTP.Send",
        "Send mail as you, and as mailboxes you have Full Access to, through SMTP.",
        "Signs in to smtp.office365.com once and stops right after the sign-in: no mail is "
        "ever sent.",
    ),
)

CONSENT_TITLE = "Check your Microsoft 365 settings live"
CONSENT_INTRO = (
    "Sign in and I read the settings that decide whether the mailbox can send, and tell you "
    "which one blocks it. I change nothing, send no mail and never see your password."
)
CONSENT_DETAILS_BUTTON = "What each permission allows"
CONSENT_DETAILS_HEADING = "Each permission: what Microsoft lets it do, and what I do with it"
CONSENT_ALLOWS = "Allows"
CONSENT_BOT_DOES = "I only"
ROLES_NOTE = (
    "You also need a role that may read these settings: Global Reader (or Security Reader plus "
    "Reports Reader) in Entra ID, and View-Only Organization Management in Exchange."
)
CONSENT_ADMIN = "Not an administrator? Ask one to [grant the permissions once]({url})."
CONSENT_DECLINE = "Rather not sign in? I'll ask about the same settings instead."
CONSENT_MAILBOX_LABEL = "Sending mailbox to check"
CONSENT_SIGN_IN = "Sign in and check"
CONSENT_NO_THANKS = "No thanks, ask me the questions"

# ----- the results card ------------------------------------------------------------------
RESULTS_TITLE = "Live check of your tenant"
RESULTS_MAILBOX = "Mailbox: **{mailbox}**"
RESULTS_SIGNED_IN = " · signed in as {user}"
RESULTS_PROGRESS = "Checking… {done} of {total} done."
RESULTS_DONE = "All {total} checks done in {seconds} s. Nothing was changed and no mail was sent."
RESULTS_DONE_PASTED = "Updated from your paste. Nothing was changed and no mail was sent."
RESULTS_FIXES = "🔧 What to fix, in this order"
RESULTS_SHOW_FIX = "How to fix"
RESULTS_SHOW_DETAILS = "Details"
RESULTS_ALL_GOOD = (
    "Nothing I checked blocks sending. If it still fails, paste the exact error here."
)
RESULTS_GOOD_BUT_UNKNOWN = (
    "Nothing I could read blocks sending, but some checks couldn't answer (?). If it still "
    "fails, paste the exact error here."
)
RESULTS_PASTE_HEADING = "Couldn't read the SMTP AUTH switches"
RESULTS_PASTE_ASK = "Run this in Exchange Online PowerShell and paste the output here:"
RESULTS_RERUN = "Re-run checks"
RESULTS_PERSON = "Talk to a person"
RESULTS_FIX_MARK = "{number}. {title} ({status})"

# ----- around a run -------------------------------------------------------------------------
CHECKING = "Checking your tenant now… the results will appear here in a few seconds."
STILL_RUNNING = "The checks are still running; the results card above updates as they finish."
NOT_SET_UP = (
    "Live checks need a sign-in, and sign-in isn't set up for this bot yet. Let's go through "
    "the settings with questions instead: say \"continue\"."
)
LIMITED = (
    "You've run the live checks {count} times in the last hour, which is the limit. Please "
    "try again in about {minutes} min; meanwhile I can go through the settings with questions "
    "(say \"continue\")."
)
BAD_ADDRESS = (
    "That doesn't look like a mailbox address I can check. Please type the full address, for "
    "example tms@contoso.com, or leave the field empty to check your own mailbox."
)
NOT_AN_ADDRESS = "I can't check \"{mailbox}\": it is not a plain mailbox address."
SIGNED_IN_NO_RUN = "You're signed in. Say \"check my tenant\" when you want me to run the checks."
SIGN_IN_CARD_TEXT = "Sign in so I can read your Microsoft 365 settings."
SIGN_IN_BUTTON = "Sign in"
SIGN_IN_START_FAILED = (
    "I couldn't start the sign-in ({reason}). Please try again in a minute, or say "
    "\"continue\" to answer the questions instead."
)
SIGN_IN_FAILED = (
    "The sign-in didn't work ({reason}). Press \"Check my tenant\" to try again, or say "
    "\"continue\" to answer the questions instead."
)
DEVICE_SIGN_IN_FAILED = (
    "The sign-in didn't complete ({reason}). Say \"check my tenant\" to try again, or "
    "\"continue\" for the questions."
)
OTHER_ORGANISATION = (
    "I won't run these checks: you signed in with an account from another organisation than "
    "this chat's. I only check the tenant you sign in to from your own organisation, so please "
    "sign in with an account of this organisation."
)
OUTSIDE_DOMAINS = (
    "I won't run these checks: {mailbox} is not in one of your organisation's verified "
    "domains, so it isn't your mailbox to check. Type an address of your own organisation."
)
MAILBOX_NOT_FOUND = (
    "There is no user or mailbox {mailbox} in your organisation. Check the address and press "
    "\"Check my tenant\" again (you can type another address there)."
)
PREFLIGHT_FAILED = (
    "I couldn't read your tenant ({reason}). Say \"check my tenant\" to try again, or "
    "\"continue\" to answer the questions instead."
)
PREFLIGHT_TIMEOUT = "Microsoft Graph did not answer in time"
CERTIFICATE_NOT_TRUSTED = "{service}'s certificate is not trusted ({reason})"
SERVICE_UNREACHABLE = "{service} could not be reached ({error})"
PASTE_THANKS = "Thanks, I read the SMTP AUTH switches from your paste."
PASTE_UNREADABLE = (
    "I found no SmtpClientAuthenticationDisabled value in that. Please paste the whole output "
    "of the command, including the line with the value."
)
PASTE_CONFLICT = (
    "The output shows different values for several mailboxes; please paste the output for "
    "{mailbox} only."
)
PASTE_RUN_FIRST = "Please run the checks again first: say \"check my tenant\"."
ESCALATED_DETAIL = "Live checks found: {causes}"


# ----- what stays English --------------------------------------------------------------------
#: Constants that are not the customer's to read, so the catalogs leave them out: what the
#: agents' ticket says (agents read English), and the edge's reasons for a failed connection,
#: which it raises as exceptions before any conversation is known (they show in brackets,
#: like Microsoft's own error text).
FOR_AGENTS: Mapping[str, str] = {
    "ESCALATED_DETAIL": "the handoff ticket's detail line, for agents",
    "CERTIFICATE_NOT_TRUSTED": "an exception's message, raised by the edge (bot/auth.py)",
    "SERVICE_UNREACHABLE": "an exception's message, raised by the edge (bot/auth.py)",
}

# ----- fact values that are the bot's own words ---------------------------------------------------
#: How a sentence names each kind of mailbox (the knowledge's ``mailbox_types`` ids), in running
#: text: "A shared mailbox needs no licence."
KIND_NAMES: Mapping[str, str] = {
    "user": "user mailbox",
    "shared": "shared mailbox",
    "room": "room mailbox",
    "equipment": "equipment mailbox",
    "group": "Microsoft 365 group",
    "unlicensed": "user without an Exchange Online licence",
    "soft_deleted": "soft-deleted or recently restored mailbox",
}
#: Who may send for a shared mailbox when nobody has Full Access to it yet.
ANYONE_YOU_GRANT = "you can grant it"
#: Switch states and yes/no as the checks write them into facts -> how a sentence says them.
FACT_WORDS: Mapping[str, str] = {
    "on": "on", "off": "off", "inherits": "follows the organisation", "unread": "not read",
    "yes": "yes", "no": "no",
    # Reasons the checks give in their own words (checks/graph.py, checks/smtp.py).
    "no state in the answer": "no state in the answer",
    "Exchange is not read": "Exchange is not read",
}
#: Facts whose values are the bot's own words (above), translated with the sentence; every
#: other fact is Microsoft's or the customer's and is shown as it is.
WORDED_FACTS = frozenset({"tenant", "mailbox", "registered", "reason", "type_title",
                          "full_access"})


# ----- rendering ---------------------------------------------------------------------------
class _Facts(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


_FORMATTER = string.Formatter()


def inert(value: str) -> str:
    """Make a fact value safe inside Adaptive Card markdown (no links, no emphasis).

    Args:
        value: Text that came from a service or the customer.

    Returns:
        The text with link brackets and emphasis markers neutralised.
    """
    return (
        value.replace("[", "(").replace("]", ")").replace("*", "∗").replace("`", "'")
    )


def _worded(key: str, value: str, facts: Mapping[str, str], tr: Translator) -> str:
    """A fact's value as the sentence says it: the bot's own words translated, the rest as is."""
    if key == "type_title" and facts.get("type") in KIND_NAMES:
        return tr(KIND_NAMES[facts["type"]])
    if key not in WORDED_FACTS:
        return value
    if value in FACT_WORDS:
        return tr(FACT_WORDS[value])
    return tr(value) if value == ANYONE_YOU_GRANT else value


def fill(template: str, facts: Mapping[str, str], tr: Translator | None = None) -> str:
    """Translate a template and fill its ``{slots}`` from facts; a missing fact reads "?".

    Args:
        template: A sentence template of this module (English: the message id).
        facts: The values.
        tr: The conversation's translator (English when None).

    Returns:
        The sentence.
    """
    tr = tr or translator(_SOURCE_LANG)
    values = _Facts({k: inert(_worded(k, v, facts, tr)) for k, v in facts.items()})
    return _FORMATTER.vformat(tr(template), (), values)


def minutes(seconds: float) -> str:
    """A wait in whole minutes, as a number: templates say "{minutes} min" after it.

    Args:
        seconds: The wait.

    Returns:
        e.g. "1", "37" (never less than 1).
    """
    return str(max(1, round(seconds / 60)))


def title_of(check_id: str, tr: Translator | None = None) -> str:
    """The check's title as the card shows it.

    Args:
        check_id: The check's id.
        tr: The conversation's translator (English when None).

    Returns:
        Its title, or the id itself for a check this module doesn't know.
    """
    title = CHECK_TITLES.get(check_id)
    if title is None:
        return check_id.replace("_", " ")
    return tr(title) if tr is not None else title


def _phrase(result: CheckResult) -> Phrase:
    return FINDINGS.get(result.finding) or Phrase(STATUS_WORDS[result.status], result.detail or "")


def short_of(result: CheckResult, tr: Translator | None = None) -> str:
    """The few words the results row shows next to the title.

    Args:
        result: The result.
        tr: The conversation's translator (English when None).

    Returns:
        The short text.
    """
    return fill(_phrase(result).short, result.facts, tr)


def sentence_of(result: CheckResult, tr: Translator | None = None) -> str:
    """The full sentence explaining a result (and where it was read, when that matters).

    Args:
        result: The result.
        tr: The conversation's translator (English when None).

    Returns:
        The sentence.
    """
    text = fill(_phrase(result).text, result.facts, tr)
    refusal = FINDINGS.get(result.facts.get("refusal", ""))
    if refusal is not None:
        text = f"{text} {fill(refusal.text, result.facts, tr)}"
    source = SOURCES.get(result.facts.get("source", ""))
    if source and result.check_id == "smtp_auth_switches":
        text = f"{text} {tr(source) if tr is not None else source}"
    return " ".join(text.split())
