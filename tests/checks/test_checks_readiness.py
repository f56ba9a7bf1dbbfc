"""December 2026 readiness: password SMTP sign-ins vs OAuth, and the authentication policy."""

from __future__ import annotations

import aiohttp
import pytest

from checks import CheckStatus
from checks.readiness import is_oauth_to_exchange
from dialogs.live.phrases import sentence_of
from tests.checks.fakes import (
    StartTenant,
    TenantScenario,
    auth_policy,
    hours_ago,
    oauth_sign_in,
    password_sign_ins,
    smtp_sign_in,
)

S = TenantScenario()


async def test_password_sign_ins_warn_with_the_count_and_the_date(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(sign_ins=password_sign_ins(S.mailbox_upn, 41)))
    result = await tenant.run_check(session, "smtp_readiness")
    assert (result.status, result.finding, result.cause_id) == (
        CheckStatus.WARN, "readiness.password", "basic_auth_disabled")
    assert sentence_of(result) == (
        "This mailbox signed in to SMTP with a password 41 times in the last 7 days. Microsoft "
        "turns that off by default at the end of December 2026: plan OAuth.")
    # Only the mailbox's own sign-ins within the last 7 days were asked for.
    call = tenant.graph.calls("signIns")[0]
    assert "userPrincipalName eq 'tms@contoso.example'" in call.query["$filter"]
    assert "createdDateTime ge " in call.query["$filter"]


async def test_old_password_sign_ins_outside_the_week_do_not_count(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    old = [smtp_sign_in(S.mailbox_upn, 0, when=hours_ago(24 * 8))]
    tenant = await start_tenant(S.with_(sign_ins=old, oauth_apps={"CLOUDEX TMS": 3}))
    result = await tenant.run_check(session, "smtp_readiness")
    assert (result.status, result.finding) == (CheckStatus.PASS, "readiness.oauth")


async def test_oauth_only_is_ready(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(oauth_apps={"CLOUDEX TMS": 12, "Printer app": 2}))
    result = await tenant.run_check(session, "smtp_readiness")
    assert (result.status, result.finding) == (CheckStatus.PASS, "readiness.oauth")
    assert result.facts["apps"] == "'CLOUDEX TMS' (12), 'Printer app' (2)"
    assert "Already on OAuth ✓" in sentence_of(result)
    beta = tenant.graph.calls("signInsBeta")[0]
    assert "signInEventTypes/any(t: t eq 'nonInteractiveUser')" in beta.query["$filter"]


async def test_password_and_oauth_together_still_warn(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(sign_ins=password_sign_ins(S.mailbox_upn, 3),
                                        oauth_apps={"CLOUDEX TMS": 5}))
    result = await tenant.run_check(session, "smtp_readiness")
    assert (result.status, result.facts["count"]) == (CheckStatus.WARN, "3")


async def test_failing_password_attempts_are_tries_and_a_blocking_policy_is_a_failure(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    failing = password_sign_ins(S.mailbox_upn, 4, error_code=50126)
    tenant = await start_tenant(S.with_(sign_ins=failing))
    tried = await tenant.run_check(session, "smtp_readiness")
    assert (tried.status, tried.finding) == (CheckStatus.WARN, "readiness.password_tried")
    blocked = await start_tenant(S.with_(
        sign_ins=failing, default_auth_policy="No Basic",
        auth_policies=[auth_policy("No Basic", allow_basic_smtp=False)]))
    result = await blocked.run_check(session, "smtp_readiness")
    assert (result.status, result.finding) == (CheckStatus.FAIL, "readiness.password_blocked")
    assert "'No Basic' already blocks it" in sentence_of(result)
    assert {"Get-OrganizationConfig", "Get-User", "Get-AuthenticationPolicy"} <= set(
        blocked.exchange.cmdlets())


@pytest.mark.parametrize(("said", "status", "finding"), [
    (None, CheckStatus.UNKNOWN, "readiness.no_activity"),
    ("oauth", CheckStatus.PASS, "readiness.said_oauth"),
    ("basic", CheckStatus.WARN, "readiness.said_password"),
])
async def test_no_smtp_sign_ins_at_all_leans_on_what_the_customer_said(
    start_tenant: StartTenant, session: aiohttp.ClientSession, said: str | None,
    status: CheckStatus, finding: str,
) -> None:
    tenant = await start_tenant(S)
    result = await tenant.run_check(session, "smtp_readiness", auth_method=said)
    assert (result.status, result.finding) == (status, finding)


@pytest.mark.parametrize(("policy", "finding"), [
    (None, "readiness.no_log"),
    (auth_policy("No Basic", allow_basic_smtp=False), "readiness.no_log_policy_blocks"),
])
async def test_without_entra_id_p1_it_says_what_it_cannot_see_and_where_to_look(
    start_tenant: StartTenant, session: aiohttp.ClientSession, policy: dict[str, object] | None,
    finding: str,
) -> None:
    scenario = S.with_(premium=False, sign_ins=password_sign_ins(S.mailbox_upn, 5))
    if policy is not None:
        scenario = scenario.with_(auth_policies=[policy], user_auth_policy="No Basic")
    tenant = await start_tenant(scenario)
    result = await tenant.run_check(session, "smtp_readiness")
    assert (result.status, result.finding) == (CheckStatus.UNKNOWN, finding)
    sentence = sentence_of(result)
    assert "needs Entra ID P1" in sentence
    assert "Exchange admin center > Reports > Mail flow > SMTP AUTH clients report" in sentence


async def test_a_refused_exchange_endpoint_does_not_hide_the_log(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(exchange_error=403,
                                        sign_ins=password_sign_ins(S.mailbox_upn, 2)))
    result = await tenant.run_check(session, "smtp_readiness")
    assert (result.status, result.facts["count"]) == (CheckStatus.WARN, "2")


def test_only_successful_oauth_sign_ins_to_exchange_count() -> None:
    ok = oauth_sign_in("tms@contoso.example", "CLOUDEX TMS")
    assert is_oauth_to_exchange(ok)
    assert not is_oauth_to_exchange({**ok, "status": {"errorCode": 70008}})
    assert not is_oauth_to_exchange({**ok, "resourceId": "00000003-0000-0000-c000-000000000000",
                                     "resourceDisplayName": "Microsoft Graph"})
    assert not is_oauth_to_exchange({**ok, "clientAppUsed": "Authenticated SMTP"})
    assert not is_oauth_to_exchange({})
