"""Graph checks against the local fake Graph server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from checks import CheckStatus, TenantIsolationError
from checks.graph import (
    GraphClient,
    GraphError,
    LicenseCheck,
    find_mailbox_user,
    judge_licenses,
    me,
    verified_domains,
)
from dialogs.live.phrases import sentence_of
from tests.checks.fakes import (
    REGISTRATION_SHAPES,
    StartTenant,
    TenantScenario,
    ca_policy,
    hours_ago,
    license_sku,
    smtp_sign_in,
)

S = TenantScenario()


async def test_healthy_tenant_passes_every_graph_check(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(TenantScenario.healthy())
    for check_id in (
        "license",
        "mailbox_type",
        "account_enabled",
        "security_defaults",
        "conditional_access",
        "smtp_sign_ins",
        "mfa",
        "smtp_readiness",
    ):
        result = await tenant.run_check(session, check_id)
        assert result.status is CheckStatus.PASS, (check_id, result)
        assert result.check_id == check_id and result.finding
        assert result.duration_ms >= 0


# ---------------------------------------------------------------------- licence


@pytest.mark.parametrize(
    ("licenses", "status"),
    [
        ([license_sku("SPB", {"EXCHANGE_S_STANDARD": "Success"})], CheckStatus.PASS),
        ([license_sku("ENTERPRISEPACK", {"EXCHANGE_S_ENTERPRISE": "Success"})], CheckStatus.PASS),
        ([license_sku("SPE_F1", {"EXCHANGE_S_DESKLESS": "Success"})], CheckStatus.PASS),
        ([license_sku("SPB", {"EXCHANGE_S_STANDARD": "PendingProvisioning"})], CheckStatus.WARN),
        ([license_sku("SPB", {"EXCHANGE_S_STANDARD": "Disabled"})], CheckStatus.FAIL),
        (
            [license_sku("POWER_BI_STANDARD", {"EXCHANGE_S_FOUNDATION": "Success"})],
            CheckStatus.FAIL,
        ),
        ([], CheckStatus.FAIL),
    ],
)
async def test_license(
    start_tenant: StartTenant,
    session: aiohttp.ClientSession,
    licenses: list[dict[str, Any]],
    status: CheckStatus,
) -> None:
    tenant = await start_tenant(S.with_(licenses=licenses))
    result = await tenant.run_check(session, "license")
    assert result.status is status, result
    assert result.cause_id == "no_exchange_license"


def test_license_rules_prefer_an_active_plan_over_a_disabled_one() -> None:
    skus = [
        license_sku("EXCHANGESTANDARD", {"EXCHANGE_S_STANDARD": "Disabled"}),
        license_sku("SPB", {"EXCHANGE_S_STANDARD": "Success", "EXCHANGE_S_FOUNDATION": "Success"}),
    ]
    assert judge_licenses(skus).status is CheckStatus.PASS
    foundation = judge_licenses([license_sku("X", {"EXCHANGE_S_FOUNDATION": "Success"})])
    assert foundation.finding == "license.foundation_only"
    assert "EXCHANGE_S_FOUNDATION in X" in foundation.facts["plans"]


def test_license_details_missing_fields_are_not_a_crash() -> None:
    # Unknown fields ignored, missing ones skipped: no plan means no mailbox plan, said so.
    outcome = judge_licenses([{"skuId": "x", "servicePlans": [{"futureField": 1}]},
                              {"servicePlans": None}])
    assert outcome.finding == "license.none" and outcome.status is CheckStatus.FAIL


# ------------------------------------------------------------------ account

async def test_account_disabled_is_account_blocked(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(account_enabled=False))
    result = await tenant.run_check(session, "account_enabled")
    assert (result.status, result.cause_id) == (CheckStatus.FAIL, "account_blocked")
    assert result.facts["upn"] == S.mailbox_upn and result.facts["enabled"] == "false"
    assert S.mailbox_upn in sentence_of(result)


async def test_unknown_user_is_unknown_not_a_crash(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    result = await tenant.run_check(session, "account_enabled", mailbox_upn="ghost@contoso.example")
    assert result.status is CheckStatus.UNKNOWN and result.finding == "graph.not_found"
    assert "404" in result.detail


# ------------------------------------------------------------- security defaults


@pytest.mark.parametrize(
    ("enabled", "auth_method", "status"),
    [
        (True, None, CheckStatus.FAIL),
        (True, "basic", CheckStatus.FAIL),
        (True, "oauth", CheckStatus.PASS),
        (False, None, CheckStatus.PASS),
    ],
)
async def test_security_defaults(
    start_tenant: StartTenant,
    session: aiohttp.ClientSession,
    enabled: bool,
    auth_method: str | None,
    status: CheckStatus,
) -> None:
    tenant = await start_tenant(S.with_(security_defaults=enabled))
    result = await tenant.run_check(session, "security_defaults", auth_method=auth_method)
    assert (result.status, result.cause_id) == (status, "security_defaults")
    assert result.finding.startswith("security_defaults.")


async def test_security_defaults_without_policy_read_names_it(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(
        S.with_(forbidden={"securityDefaults": "Authorization_RequestDenied"})
    )
    result = await tenant.run_check(session, "security_defaults")
    assert result.status is CheckStatus.UNKNOWN and result.finding == "graph.forbidden"
    assert "Policy.Read.All" in sentence_of(result)


# ------------------------------------------------------------ conditional access

GROUP = "5e6f7a8b-3333-4eee-8fff-000000000003"


@pytest.mark.parametrize(
    ("policies", "memberships", "status", "named"),
    [
        (
            [ca_policy("Block legacy authentication")],
            [],
            CheckStatus.FAIL,
            "Block legacy authentication",
        ),
        (
            [ca_policy("Legacy report-only", state="enabledForReportingButNotEnforced")],
            [],
            CheckStatus.WARN,
            "report-only",
        ),
        ([ca_policy("Off", state="disabled")], [], CheckStatus.PASS, None),
        ([ca_policy("Excluded", exclude_users=[S.mailbox_id])], [], CheckStatus.PASS, None),
        ([ca_policy("Browser only", client_app_types=["browser"])], [], CheckStatus.PASS, None),
        (
            [ca_policy("Only EAS", client_app_types=["exchangeActiveSync"])],
            [],
            CheckStatus.PASS,
            None,
        ),
        (
            [ca_policy("All apps", client_app_types=["all"], controls=["mfa"])],
            [],
            CheckStatus.FAIL,
            "requires mfa",
        ),
        (
            [ca_policy("EXO only", include_applications=["00000002-0000-0ff1-ce00-000000000000"])],
            [],
            CheckStatus.FAIL,
            "EXO only",
        ),
        (
            [
                ca_policy(
                    "SharePoint", include_applications=["00000003-0000-0ff1-ce00-000000000000"]
                )
            ],
            [],
            CheckStatus.PASS,
            None,
        ),
        ([ca_policy("Other user", include_users=["someone-else"])], [], CheckStatus.PASS, None),
        (
            [ca_policy("Via group", include_users=[], include_groups=[GROUP])],
            [{"@odata.type": "#microsoft.graph.group", "id": GROUP}],
            CheckStatus.FAIL,
            "Via group",
        ),
        (
            [ca_policy("Group not member", include_users=[], include_groups=[GROUP])],
            [],
            CheckStatus.PASS,
            None,
        ),
        (
            [ca_policy("Excluded group", exclude_groups=[GROUP])],
            [{"@odata.type": "#microsoft.graph.group", "id": GROUP}],
            CheckStatus.PASS,
            None,
        ),
        (
            [
                ca_policy(
                    "Outside office",
                    locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]},
                )
            ],
            [],
            CheckStatus.WARN,
            "Outside office",
        ),
        ([ca_policy("Session only", controls=[])], [], CheckStatus.PASS, None),
    ],
)
async def test_conditional_access(
    start_tenant: StartTenant,
    session: aiohttp.ClientSession,
    policies: list[dict[str, Any]],
    memberships: list[dict[str, Any]],
    status: CheckStatus,
    named: str | None,
) -> None:
    tenant = await start_tenant(S.with_(ca_policies=policies, memberships=memberships))
    result = await tenant.run_check(session, "conditional_access")
    assert result.status is status, result
    assert result.cause_id == "conditional_access"
    if named:
        assert named in sentence_of(result) + result.detail


async def test_conditional_access_group_policy_without_membership_permission_warns(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(
        S.with_(
            ca_policies=[ca_policy("Via group", include_users=[], include_groups=[GROUP])],
            forbidden={"memberOf": "Authorization_RequestDenied"},
        )
    )
    result = await tenant.run_check(session, "conditional_access")
    assert result.status is CheckStatus.WARN and result.finding == "ca.may_block"
    assert "depends on conditions or groups" in sentence_of(result)


async def test_conditional_access_follows_next_link(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    harmless = [ca_policy(f"Browser {i}", client_app_types=["browser"]) for i in range(4)]
    tenant = await start_tenant(
        S.with_(ca_policies=[*harmless, ca_policy("Last page blocks")], page_size=2)
    )
    result = await tenant.run_check(session, "conditional_access")
    assert result.status is CheckStatus.FAIL and "Last page blocks" in sentence_of(result)
    assert len(tenant.graph.calls("conditionalAccess")) == 3


# ---------------------------------------------------------------------- sign-ins


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (50126, "wrong_credentials"),
        (53003, "conditional_access"),
        (50076, "mfa_required"),
        (530035, "security_defaults"),
        (50057, "account_blocked"),
        (99999, "unknown"),
    ],
)
async def test_failed_smtp_sign_in_maps_to_cause(
    start_tenant: StartTenant, session: aiohttp.ClientSession, code: int, cause: str
) -> None:
    tenant = await start_tenant(S.with_(sign_ins=[smtp_sign_in(S.mailbox_upn, code, "reason")]))
    result = await tenant.run_check(session, "smtp_sign_ins")
    assert (result.status, result.cause_id) == (CheckStatus.FAIL, cause)
    assert result.facts["code"] == str(code) and str(code) in sentence_of(result)
    (call,) = tenant.graph.calls("signIns")
    flt = call.query["$filter"]
    assert flt.startswith(
        f"clientAppUsed eq 'Authenticated SMTP' and userPrincipalName eq '{S.mailbox_upn}' "
        "and createdDateTime ge "
    )


async def test_sign_in_names_the_blocking_policy(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(TenantScenario.for_cause("conditional_access"))
    result = await tenant.run_check(session, "smtp_sign_ins")
    assert result.facts["policies"] == "'Block legacy authentication'"


async def test_injected_mapper_is_used(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(sign_ins=[smtp_sign_in(S.mailbox_upn, 50126)]))
    (check,) = [
        c
        for c in tenant.checks(session, map_error=lambda code: f"diag_{code}")
        if c.check_id == "smtp_sign_ins"
    ]
    result = await check.run(tenant.context())
    assert result.cause_id == "diag_50126"


async def test_latest_success_passes_despite_older_failures(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    sign_ins = [
        smtp_sign_in(S.mailbox_upn, 50126, when=hours_ago(30)),
        smtp_sign_in(S.mailbox_upn, 0, when=hours_ago(20)),
        smtp_sign_in("other@contoso.example", 50126, when=hours_ago(10)),
        smtp_sign_in(S.mailbox_upn, 50126, when=hours_ago(24 * 9)),  # outside the 7 days
    ]
    tenant = await start_tenant(S.with_(sign_ins=sign_ins))
    result = await tenant.run_check(session, "smtp_sign_ins")
    assert result.status is CheckStatus.PASS
    assert result.finding == "sign_ins.latest_ok_after_failures" and result.facts["failed"] == "1"


async def test_non_premium_tenant_skips_instead_of_failing(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(premium=False))
    result = await tenant.run_check(session, "smtp_sign_ins")
    assert result.status is CheckStatus.SKIPPED and result.finding == "not_on_plan"
    assert "Entra ID P1" in sentence_of(result)


async def test_sign_ins_without_permission_names_it(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(forbidden={"signIns": "Authorization_RequestDenied"}))
    result = await tenant.run_check(session, "smtp_sign_ins")
    assert result.status is CheckStatus.UNKNOWN
    assert "AuditLog.Read.All" in sentence_of(result)


# ---------------------------------------------------------------------- per-user MFA


@pytest.mark.parametrize(
    ("state", "registered", "auth_method", "status", "finding"),
    [
        ("disabled", True, None, CheckStatus.PASS, "mfa.off"),  # registered is no warning
        ("disabled", True, "basic", CheckStatus.PASS, "mfa.off"),
        ("disabled", False, None, CheckStatus.PASS, "mfa.off"),
        ("enforced", True, "basic", CheckStatus.FAIL, "mfa.enforced_password"),
        ("enforced", True, None, CheckStatus.WARN, "mfa.enforced"),
        ("enforced", True, "oauth", CheckStatus.PASS, "mfa.enforced_oauth"),
        ("enabled", False, None, CheckStatus.WARN, "mfa.enabled"),
    ],
)
@pytest.mark.parametrize("shape", REGISTRATION_SHAPES)
async def test_per_user_mfa_warns_on_enforcement_only(
    start_tenant: StartTenant,
    session: aiohttp.ClientSession,
    state: str,
    registered: bool,
    auth_method: str | None,
    status: CheckStatus,
    finding: str,
    shape: str,
) -> None:
    tenant = await start_tenant(S.with_(per_user_mfa=state, mfa_registered=registered,
                                        registration_shape=shape))
    result = await tenant.run_check(session, "mfa", auth_method=auth_method)
    assert (result.status, result.finding) == (status, finding)
    # Both documented shapes of userRegistrationDetails read the same.
    assert result.facts["registered"] == ("yes" if registered else "no")
    # Both reports are keyed by object id: the check resolved the UPN first.
    assert tenant.graph.calls("registrationDetails")[0].path.endswith(S.mailbox_id)
    assert tenant.graph.calls("mfaState")[0].path == (
        f"/beta/users/{S.mailbox_id}/authentication/requirements")


async def test_per_user_mfa_unreadable_is_a_question_not_a_failure(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(forbidden={"mfaState": "Authorization_RequestDenied"},
                                        premium=False))
    result = await tenant.run_check(session, "mfa")
    assert result.status is CheckStatus.UNKNOWN and result.finding == "mfa.unknown"
    assert result.facts["registered"] == "?"


# ------------------------------------------------------------------- throttling


async def test_429_is_retried_once_after_retry_after(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(throttle={"securityDefaults": 1}, retry_after="1"))
    started = time.perf_counter()
    result = await tenant.run_check(session, "security_defaults")
    assert result.status is CheckStatus.PASS
    assert time.perf_counter() - started >= 0.95  # it waited as asked
    assert len(tenant.graph.calls("securityDefaults")) == 2


async def test_429_twice_is_unknown(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(throttle={"securityDefaults": 2}, retry_after="0"))
    result = await tenant.run_check(session, "security_defaults")
    assert result.status is CheckStatus.UNKNOWN and result.finding == "graph.throttled"
    assert len(tenant.graph.calls("securityDefaults")) == 2


async def test_429_longer_than_the_budget_is_not_waited_for(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(throttle={"securityDefaults": 1}, retry_after="30"))
    started = time.perf_counter()
    result = await tenant.run_check(session, "security_defaults", timeout_s=2.0)
    assert time.perf_counter() - started < 1.0
    assert result.status is CheckStatus.UNKNOWN and result.finding == "graph.throttled"
    assert "30 s" in sentence_of(result)
    assert len(tenant.graph.calls("securityDefaults")) == 1


# ------------------------------------------------------------------ auth errors


async def test_bad_token_is_unknown_with_401(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)

    async def stale_tokens(scope: str) -> str:
        return "eyJ0eXAiOiJKV1QifQ.eyJleHAiOjB9.expired-signature"

    result = await LicenseCheck(GraphClient(session, stale_tokens)).run(tenant.context())
    assert result.status is CheckStatus.UNKNOWN and result.finding == "graph.unauthorized"
    assert "401" in result.detail and "expired-signature" not in repr(result)


async def test_missing_graph_consent_is_unknown(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S, refuse_scopes=["https://graph.microsoft.com/.default"])
    result = await tenant.run_check(session, "license")
    assert result.status is CheckStatus.UNKNOWN and result.finding == "token.unavailable"
    assert "consent" in sentence_of(result)
    assert tenant.request_count == 0


# ----------------------------------------------------------- me / verified domains


async def test_me_and_verified_domains(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    user = await me(session, tenant.tokens, graph_url=tenant.graph.url)
    assert (user.id, user.user_principal_name) == (S.admin_id, S.admin_upn)
    domains = await verified_domains(
        session, tenant.tokens, graph_url=tenant.graph.url, tenant_id=S.tenant_id
    )
    assert domains == ("contoso.example", "contoso.onmicrosoft.com")
    assert tenant.graph.calls("organization")[0].query["$select"] == "id,verifiedDomains"


async def test_verified_domains_of_another_org_are_refused(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    with pytest.raises(TenantIsolationError):
        await verified_domains(
            session,
            tenant.tokens,
            graph_url=tenant.graph.url,
            tenant_id="00000000-0000-0000-0000-00000000beef",
        )


async def test_me_raises_graph_error_with_code(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(forbidden={"me": "Authorization_RequestDenied"}))
    with pytest.raises(GraphError) as info:
        await me(session, tenant.tokens, graph_url=tenant.graph.url)
    assert (info.value.status, info.value.code) == (403, "Authorization_RequestDenied")


async def test_the_sending_address_is_found_by_upn_or_by_mail(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    found = await find_mailbox_user(session, tenant.tokens, S.mailbox_upn,
                                    graph_url=tenant.graph.url)
    assert found is not None and (found.id, found.user_principal_name) == (
        S.mailbox_id, S.mailbox_upn)
    assert await find_mailbox_user(session, tenant.tokens, "nobody@contoso.example",
                                   graph_url=tenant.graph.url) is None
    # Not a UPN: the mail filter was asked too, and answered nobody.
    assert tenant.graph.calls("users")[0].query["$filter"] == "mail eq 'nobody@contoso.example'"


async def test_the_runs_graph_client_asks_each_url_once(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(TenantScenario.healthy().with_(delays={"signIns": 0.2}))
    from checks import collect

    await collect(tenant.context(), tenant.checks(session), token_tenant_id=S.tenant_id)
    # The recent-failures check and the readiness read the same sign-in page.
    assert len(tenant.graph.calls("signIns")) == 1
