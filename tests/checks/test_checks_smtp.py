"""The SMTP probe against a local STARTTLS server speaking Exchange Online's replies.

The probe signs in as the sending mailbox with the signed-in user's token:
as the mailbox itself, or as a user with Full Access to it (how a shared
mailbox sends with OAuth); otherwise it says why it did not try.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import warnings

import aiohttp
import pytest

from checks import SMTP_SCOPE, CheckContext, CheckStatus, Endpoints
from checks.smtp import SmtpProbeCheck, SmtpReply, cause_of_reply, xoauth2_initial_response
from dialogs.live.phrases import sentence_of
from tests.checks.fakes import (
    REPLY_AUTH_OK,
    REPLY_BAD_TOKEN,
    REPLY_MAILBOX_DISABLED,
    REPLY_TENANT_DISABLED,
    REPLY_TLS_421,
    SMTP_BAD_TOKEN,
    SMTP_NO_AUTH,
    SMTP_NO_STARTTLS,
    SMTP_TLS_421,
    SMTP_TLS_LEGACY_ONLY,
    StartTenant,
    TenantScenario,
)

S = TenantScenario().signed_in_as_mailbox()
ADMIN = TenantScenario()


async def test_accepted_token_passes_and_sends_no_mail(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    result = await tenant.run_check(session, "smtp_probe")
    assert result.status is CheckStatus.PASS, result
    assert REPLY_AUTH_OK in result.detail and "no mail was sent" in sentence_of(result)
    smtp = tenant.smtp
    verbs = [c.split(" ", 1)[0].upper() for c in smtp.commands]
    assert verbs == ["EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"]
    assert not smtp.mail_from_seen
    assert smtp.tls_versions and smtp.tls_versions[0] in ("TLSv1.2", "TLSv1.3")
    (payload,) = smtp.auth_payloads
    token = tenant.tokens.tokens[SMTP_SCOPE]
    assert payload == f"user={S.mailbox_upn}\x01auth=Bearer {token}\x01\x01"


@pytest.mark.parametrize(
    ("scenario", "cause", "reply"),
    [
        (
            S.with_(transport_smtp_auth_disabled=True),
            "smtp_auth_disabled_tenant",
            REPLY_TENANT_DISABLED,
        ),
        (
            S.with_(cas_smtp_auth_disabled=True),
            "smtp_auth_disabled_mailbox",
            REPLY_MAILBOX_DISABLED,
        ),
        (S.with_(smtp=SMTP_BAD_TOKEN), "oauth_token", REPLY_BAD_TOKEN),
        (S.with_(smtp=SMTP_TLS_421), "tls_version", REPLY_TLS_421),
    ],
)
async def test_refusals_name_the_cause(
    start_tenant: StartTenant,
    session: aiohttp.ClientSession,
    scenario: TenantScenario,
    cause: str,
    reply: str,
) -> None:
    tenant = await start_tenant(scenario)
    result = await tenant.run_check(session, "smtp_probe")
    assert (result.status, result.cause_id) == (CheckStatus.FAIL, cause), result
    assert reply[:60] in result.detail and reply[:30] in sentence_of(result)
    assert not tenant.smtp.mail_from_seen


async def test_legacy_tls_only_server_is_tls_version(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(smtp=SMTP_TLS_LEGACY_ONLY))
    result = await tenant.run_check(session, "smtp_probe")
    assert (result.status, result.cause_id) == (CheckStatus.FAIL, "tls_version"), result
    assert "TLS 1.2" in sentence_of(result)
    assert tenant.smtp.auth_payloads == []  # the token never went over the failed session


async def test_probe_refuses_tls_below_1_2_even_if_the_factory_allows_it(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(smtp=SMTP_TLS_LEGACY_ONLY))

    def permissive() -> ssl.SSLContext:
        ctx = tenant.tls.client_context()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        return ctx

    result = await SmtpProbeCheck(tenant.tokens, permissive).run(tenant.context())
    assert result.cause_id == "tls_version"


@pytest.mark.parametrize(
    ("behaviour", "cause"),
    [(SMTP_NO_STARTTLS, "starttls_required"), (SMTP_NO_AUTH, "wrong_endpoint")],
)
async def test_missing_extensions(
    start_tenant: StartTenant, session: aiohttp.ClientSession, behaviour: str, cause: str
) -> None:
    tenant = await start_tenant(S.with_(smtp=behaviour))
    result = await tenant.run_check(session, "smtp_probe")
    assert (result.status, result.cause_id) == (CheckStatus.FAIL, cause), result
    assert tenant.tokens.calls.count(SMTP_SCOPE) == 0


async def test_an_admin_without_full_access_says_why_the_sign_in_was_not_tried(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(ADMIN)
    result = await tenant.run_check(session, "smtp_probe")
    assert (result.status, result.finding) == (CheckStatus.SKIPPED, "smtp.skipped_no_access")
    sentence = sentence_of(result)
    assert f"{ADMIN.admin_upn} has no Full Access to {ADMIN.mailbox_upn}" in sentence
    assert "TLSv1" in sentence  # the connection itself was tested
    assert SMTP_SCOPE not in tenant.tokens.calls
    assert not any(c.upper().startswith("AUTH") for c in tenant.smtp.commands)
    assert "Get-MailboxPermission" in tenant.exchange.cmdlets()


@pytest.mark.parametrize("purpose", ["shared", "user"])
async def test_an_admin_with_full_access_tests_the_sending_mailbox(
    start_tenant: StartTenant, session: aiohttp.ClientSession, purpose: str
) -> None:
    tenant = await start_tenant(ADMIN.with_(user_purpose=purpose, full_access=(ADMIN.admin_upn,)))
    result = await tenant.run_check(session, "smtp_probe")
    assert (result.status, result.finding) == (CheckStatus.PASS, "smtp.accepted"), result
    (payload,) = tenant.smtp.auth_payloads
    assert payload.startswith(f"user={ADMIN.mailbox_upn}\x01")  # the mailbox, the admin's token
    assert not tenant.smtp.mail_from_seen


async def test_full_access_that_cannot_be_read_is_said(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(ADMIN.with_(exchange_refuse=("Get-MailboxPermission",)))
    result = await tenant.run_check(session, "smtp_probe")
    assert (result.status, result.finding) == (CheckStatus.SKIPPED,
                                               "smtp.skipped_access_unknown")
    assert "403" in sentence_of(result)


async def test_no_smtp_consent_still_tests_tls(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S, refuse_scopes=[SMTP_SCOPE])
    result = await tenant.run_check(session, "smtp_probe")
    assert (result.status, result.finding) == (CheckStatus.SKIPPED, "smtp.skipped_no_token")
    assert tenant.smtp.tls_versions


async def test_an_untrusted_certificate_is_named_as_such(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    result = await SmtpProbeCheck(tenant.tokens, ssl.create_default_context).run(tenant.context())
    assert (result.status, result.finding) == (CheckStatus.UNKNOWN, "smtp.certificate")
    assert "certificate" in sentence_of(result) and "not trusted" in sentence_of(result)
    assert tenant.smtp.auth_payloads == []


async def test_nothing_listening_is_unknown(start_tenant: StartTenant) -> None:
    tenant = await start_tenant(S)
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    context = tenant.context(endpoints=Endpoints(smtp_host="127.0.0.1", smtp_port=port))
    result = await SmtpProbeCheck(tenant.tokens, tenant.ssl_context_factory).run(context)
    assert result.status is CheckStatus.UNKNOWN and "Could not connect" in sentence_of(result)


async def test_server_that_hangs_is_cut_off_by_the_budget(start_tenant: StartTenant) -> None:
    tenant = await start_tenant(S.with_(delays={"smtp": 5}))
    context: CheckContext = tenant.context(timeout_s=0.3)
    result = await SmtpProbeCheck(tenant.tokens, tenant.ssl_context_factory).run(context)
    assert result.status is CheckStatus.UNKNOWN and result.duration_ms < 2000


def test_xoauth2_initial_response_format() -> None:
    encoded = xoauth2_initial_response("a@contoso.example", "tok")
    assert base64.b64decode(encoded) == b"user=a@contoso.example\x01auth=Bearer tok\x01\x01"


@pytest.mark.parametrize(
    ("line", "cause"),
    [
        (
            "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.",
            "wrong_credentials",
        ),
        (
            (
                "535 5.7.139 Authentication unsuccessful, user is locked by your organization's "
                "security defaults policy. Contact your administrator."
            ),
            "security_defaults",
        ),
        (
            (
                "535 5.7.139 Authentication unsuccessful, the request did not meet the criteria "
                "to be authenticated successfully. Contact your administrator."
            ),
            "conditional_access",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
            "basic_auth_disabled",
        ),
        (
            "550 5.7.30 Basic authentication is not supported for Client Submission.",
            "basic_auth_disabled",
        ),
        ("504 5.7.4 Unrecognized authentication type", "auth_mechanism"),
        ("451 5.7.3 STARTTLS is required to send mail", "starttls_required"),
        ("535 5.7.139 Authentication unsuccessful [AM0PR06MB6545]", "unknown"),
        ("451 4.7.0 Temporary server error. Please try again later. PRX4", None),
    ],
)
def test_reply_texts(line: str, cause: str | None) -> None:
    reply = SmtpReply(int(line[:3]), (line[4:],))
    assert cause_of_reply(reply) == cause
