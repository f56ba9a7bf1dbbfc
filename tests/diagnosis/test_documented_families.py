"""Every documented member of an error family maps to its cause, not just the one example.

Issue 20, round 2: a Microsoft error code or reason that Microsoft documents is
knowledge, so the whole documented family is covered. The texts here are
CONSTRUCTED from the documentation (the code and its documented description), not
copied from any pasted error:

* Exchange Online NDR codes: "Non-delivery reports in Exchange Online" and the
  "Fix email delivery issues for error code ..." pages (learn.microsoft.com);
* Graph: "Microsoft Graph error responses and resource types" (HTTP status codes,
  ``code`` values) and "Resolve Microsoft Graph authorization errors";
* EWS: the ``ResponseCode`` reference (``ErrorMissingEmailAddress`` ...);
* Entra: every sign-in error code of domain.md section 3.
"""

from __future__ import annotations

import re

import pytest

from dialogs.diagnosis import Diagnoser

# --- Exchange Online NDR codes ---------------------------------------------------------------

_BANNED_IP = [f"550 5.7.{n} Access denied, banned sending IP [192.0.2.1]" for n in range(606, 650)]
_TENANT_BAN = [f"550 5.7.{n} Access denied, tenant has exceeded threshold" for n in range(700, 750)]
_IP_RESTRICTED = [f"451 4.7.{n} Access denied, please try again later" for n in range(850, 900)]

NDR: list[tuple[str, str]] = [
    *((text, "sender_blocked") for text in _BANNED_IP),
    *((text, "sender_blocked") for text in _TENANT_BAN),
    *((text, "rate_limited") for text in _IP_RESTRICTED),
    ("550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains",
     "sender_blocked"),
    ("550 5.7.501 Access denied, spam abuse detected", "sender_blocked"),
    ("550 5.7.502 Access denied, banned sender", "sender_blocked"),
    ("550 5.7.503 Access denied, banned sender", "sender_blocked"),
    ("550 5.7.511 Access denied, banned sender[192.0.2.1]", "sender_blocked"),
    ("550 5.7.507 Access denied, rejected by recipient", "sender_blocked"),
    (("550 5.7.513 Service unavailable, Client host [192.0.2.1] blocked by contoso.com using "
     "Customer Block list (AS16012607)"), "sender_blocked"),
    ("550 5.1.8 Access denied, bad outbound sender", "sender_blocked"),
    ("550 5.7.508 Access denied, [192.0.2.1] has exceeded permitted limits within /64 range",
     "rate_limited"),
    ("550 5.2.121 Recipient's per hour message receive limit from specific sender exceeded",
     "rate_limited"),
    ("550 5.2.122 Recipient's per hour message receive limit exceeded", "rate_limited"),
    ("452 4.5.3 Too many recipients", "rate_limited"),
    ("432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded", "rate_limited"),
    ("451 4.7.500 Access denied, please try again later", "rate_limited"),
    ("550 5.7.1 Client was not authenticated", "not_authenticated"),
    ("530 5.7.57 Client was not authenticated to send anonymous mail during MAIL FROM",
     "not_authenticated"),
    ("550 5.7.64 TenantAttribution; Relay Access Denied", "wrong_endpoint"),
    ("554 5.2.252 SendAsDenied; user@example.com not allowed to send as other@example.com",
     "send_as_denied"),
]


@pytest.mark.parametrize(("text", "cause"), NDR, ids=lambda value: str(value)[:24])
def test_every_documented_ndr_code_maps_to_its_cause(diagnoser: Diagnoser, text: str,
                                                      cause: str) -> None:
    diagnosis = diagnoser.diagnose(text)
    assert diagnosis.cause_id == cause and not diagnosis.is_ambiguous, diagnosis


# --- Graph and EWS -----------------------------------------------------------------------------

SERVICE: list[tuple[str, str]] = [
    ("413 Request Entity Too Large", "message_too_large"),
    (('{"error":{"code":"RequestEntityTooLarge","message":"The request size exceeds the maximum '
     'limit."}}'), "message_too_large"),
    ('{"error":{"code":"quotaLimitReached","message":"The user has reached their quota limit."}}',
     "message_too_large"),
    ("507 Insufficient Storage", "message_too_large"),
    ("ErrorMessageSizeExceeded", "message_too_large"),
    ("ErrorQuotaExceeded", "message_too_large"),
    ("429 Too Many Requests", "rate_limited"),
    ('{"error":{"code":"activityLimitReached","message":"The app or user has been throttled."}}',
     "rate_limited"),
    ('{"error":{"code":"throttledRequest","message":"Too many requests."}}', "rate_limited"),
    (('{"error":{"code":"ApplicationThrottled","message":"Application is over its '
     'MailboxConcurrency limit."}}'), "rate_limited"),
    ("ErrorServerBusy", "rate_limited"),
    ("ErrorExceededConnectionCount", "rate_limited"),
    (('{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is '
     'not yet valid."}}'), "oauth_token"),
    ("ErrorMissingEmailAddress", "no_exchange_license"),
    ("ErrorNonExistentMailbox", "no_exchange_license"),
    ("ErrorInvalidLicense", "no_exchange_license"),
    ("MailboxNotEnabledForRESTAPI", "no_exchange_license"),
    ("ErrorAccountDisabled", "account_blocked"),
    ("ErrorPasswordExpired", "account_blocked"),
    ("ErrorSendAsDenied", "send_as_denied"),
]


@pytest.mark.parametrize(("text", "cause"), SERVICE, ids=lambda value: str(value)[:24])
def test_documented_graph_and_ews_codes(diagnoser: Diagnoser, text: str, cause: str) -> None:
    diagnosis = diagnoser.diagnose(text)
    assert diagnosis.cause_id == cause and not diagnosis.is_ambiguous, diagnosis


def test_a_conditional_access_claims_challenge_asks_ca_or_mfa(diagnoser: Diagnoser) -> None:
    # Graph's 403 insufficient_claims: a Conditional Access policy wants more (MFA, a device).
    diagnosis = diagnoser.diagnose("HTTP 403; Forbidden error=insufficient_claims")
    assert diagnosis.is_ambiguous
    assert {"conditional_access", "mfa_required"} <= set(diagnosis.contenders)


# --- Entra sign-in codes of domain.md section 3 -------------------------------------------------

ENTRA: dict[str, str] = {
    "50126": "wrong_credentials", "50034": "wrong_credentials", "50020": "wrong_credentials",
    "50076": "mfa_required", "50079": "mfa_required", "50074": "mfa_required",
    "50158": "mfa_required",
    "53000": "conditional_access", "53001": "conditional_access", "53002": "conditional_access",
    "53003": "conditional_access", "53004": "conditional_access", "53005": "conditional_access",
    "530035": "security_defaults", "530032": "security_defaults",
    "50053": "account_blocked", "50057": "account_blocked", "50055": "account_blocked",
    "50144": "account_blocked",
    "65001": "oauth_token", "65004": "oauth_token", "700016": "oauth_token",
    "7000112": "oauth_token", "7000215": "oauth_token", "7000222": "oauth_token",
    "7000218": "oauth_token", "500011": "oauth_token", "650057": "oauth_token",
    "70011": "oauth_token", "70000": "oauth_token", "70008": "oauth_token",
    "700082": "oauth_token", "50173": "oauth_token", "90002": "oauth_token",
}


@pytest.mark.parametrize(("code", "cause"), sorted(ENTRA.items()))
def test_every_entra_code_maps_in_both_written_forms(diagnoser: Diagnoser, code: str,
                                                     cause: str) -> None:
    # "AADSTS50126: ..." in an exception; "errorCode": 50126 in a sign-in log entry.
    assert diagnoser.diagnose(f"AADSTS{code}: see the sign-in log").cause_id == cause
    assert diagnoser.diagnose(f'"errorCode": {code}').cause_id == cause
    assert diagnoser.code_to_cause(code) == cause


# --- nodemailer's "Invalid login" is no sign of a password sign-in ------------------------------

def test_nodemailer_invalid_login_sets_no_password_signal(diagnosis_knowledge: object) -> None:
    # nodemailer prefixes "Invalid login: " to the server's reply after every AUTH
    # method, XOAUTH2 included (its _actionAUTHComplete), so no password-signal
    # pattern may read it as a password sign-in.
    from dialogs.diagnosis import pattern_specs

    password = [spec for spec in pattern_specs(diagnosis_knowledge) if spec.signal == "password"]
    assert password
    for spec in password:
        assert not re.search(spec.regex, "Error: Invalid login: 535 5.7.3 Authentication "
                                         "unsuccessful"), spec.regex


def test_nodemailer_invalid_login_after_xoauth2_is_the_token(diagnoser: Diagnoser) -> None:
    text = ("Error: Invalid login: 535 5.7.3 Authentication unsuccessful\n"
            "  code: 'EAUTH',\n  response: '535 5.7.3 Authentication unsuccessful',\n"
            "  responseCode: 535,\n  command: 'AUTH XOAUTH2'")
    assert diagnoser.diagnose(text).cause_id == "oauth_token"
