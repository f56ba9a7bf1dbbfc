"""The runner: concurrency, progressive results, timeouts, tenant isolation, no token leaks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp
import pytest

from checks import (
    Check,
    CheckContext,
    CheckResult,
    CheckStatus,
    TenantIsolationError,
    collect,
    ensure_same_tenant,
    run_checks,
)
from checks.graph import GraphError, me
from dialogs.knowledge import default_knowledge
from dialogs.live.phrases import sentence_of
from dialogs.live.verdicts import coalesce
from tests.checks.fakes import (
    CAUSE_CHECKS,
    CAUSE_SCENARIOS,
    SMTP_BAD_TOKEN,
    StartTenant,
    TenantScenario,
    ca_policy,
    smtp_sign_in,
)

S = TenantScenario.healthy().signed_in_as_mailbox()


class SleepyCheck:
    """A real Check implementation that takes a while (and notices cancellation)."""

    def __init__(self, check_id: str, seconds: float) -> None:
        self.check_id = check_id
        self.seconds = seconds
        self.cancelled = False

    async def run(self, context: CheckContext) -> CheckResult:
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return CheckResult(self.check_id, CheckStatus.PASS, "slept")


class BrokenCheck:
    """A Check with a bug: it raises instead of reporting."""

    check_id = "broken"

    async def run(self, context: CheckContext) -> CheckResult:
        raise RuntimeError("bug in a check")


def _pick(checks: list[Check], *ids: str) -> list[Check]:
    return [c for c in checks if c.check_id in ids]


# ----------------------------------------------------------------- concurrency


async def test_total_time_is_about_the_slowest_check_not_the_sum(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    delay = 0.3
    tenant = await start_tenant(
        S.with_(delays={"licenseDetails": delay, "securityDefaults": delay, "signIns": delay})
    )
    checks = _pick(tenant.checks(session), "license", "security_defaults", "smtp_sign_ins")
    started = time.perf_counter()
    results = await collect(tenant.context(), checks, token_tenant_id=S.tenant_id)
    total = time.perf_counter() - started
    assert [r.status for r in results] == [CheckStatus.PASS] * 3
    assert all(r.duration_ms >= delay * 1000 * 0.9 for r in results)
    durations = sum(r.duration_ms for r in results) / 1000
    assert total < durations  # structurally: concurrent, not sequential
    assert total < 2 * delay  # ≈ the slowest, with generous slack for a busy machine


async def test_results_arrive_as_they_complete(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(delays={"conditionalAccess": 0.6}))
    checks = tenant.checks(session)
    started = time.perf_counter()
    arrivals: list[tuple[str, float]] = []
    async with contextlib.aclosing(
        run_checks(tenant.context(), checks, token_tenant_id=S.tenant_id)
    ) as results:
        async for result in results:
            arrivals.append((result.check_id, time.perf_counter() - started))
    assert sorted(a[0] for a in arrivals) == sorted(c.check_id for c in checks)
    assert arrivals[-1][0] == "conditional_access"
    assert arrivals[0][1] < 0.5  # the first result didn't wait for the slow one
    assert arrivals[-1][1] >= 0.6


async def test_a_slow_check_times_out_alone(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(delays={"signIns": 5.0}))
    context = tenant.context(timeout_s=1.0, check_timeouts={"smtp_sign_ins": 0.3})
    started = time.perf_counter()
    results = await collect(context, tenant.checks(session), token_tenant_id=S.tenant_id)
    assert time.perf_counter() - started < 2.0
    by_id = {r.check_id: r for r in results}
    timed_out = by_id.pop("smtp_sign_ins")
    assert (timed_out.status, timed_out.finding) == (CheckStatus.UNKNOWN, "timed_out")
    assert sentence_of(timed_out) == "No answer within 0.3 s."
    # The readiness reads the same slow log page: with its own, longer budget it waited
    # for it (rather than sharing the other check's timeout), then timed out on its own.
    readiness = by_id.pop("smtp_readiness")
    assert (readiness.finding, readiness.facts["seconds"]) == ("timed_out", "1")
    assert all(r.status is CheckStatus.PASS for r in by_id.values()), by_id


async def test_a_broken_check_is_unknown_and_logged(
    start_tenant: StartTenant, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await start_tenant(S)
    with caplog.at_level(logging.WARNING, logger="checks"):
        (result,) = await collect(tenant.context(), [BrokenCheck()], token_tenant_id=S.tenant_id)
    assert result.status is CheckStatus.UNKNOWN and result.facts == {"error": "RuntimeError"}
    assert "bug in a check" not in repr(result)
    assert "broken" in caplog.text


async def test_collect_keeps_the_given_order_and_closing_early_cancels(
    start_tenant: StartTenant,
) -> None:
    tenant = await start_tenant(S)
    slow, fast = SleepyCheck("slow", 0.3), SleepyCheck("fast", 0.0)
    results = await collect(tenant.context(), [slow, fast], token_tenant_id=S.tenant_id)
    assert [r.check_id for r in results] == ["slow", "fast"]

    never = SleepyCheck("never", 60)
    async with contextlib.aclosing(
        run_checks(tenant.context(), [never, SleepyCheck("quick", 0)], token_tenant_id=S.tenant_id)
    ) as stream:
        first = await anext(stream)
    assert first.check_id == "quick"
    assert never.cancelled


async def test_duplicate_check_ids_are_refused(start_tenant: StartTenant) -> None:
    tenant = await start_tenant(S)
    with pytest.raises(ValueError, match="duplicate"):
        run_checks(
            tenant.context(),
            [SleepyCheck("a", 0), SleepyCheck("a", 0)],
            token_tenant_id=S.tenant_id,
        )


# ------------------------------------------------------------- tenant isolation


@pytest.mark.parametrize(
    ("token_tid", "overrides"),
    [
        ("00000000-0000-0000-0000-00000000beef", {}),
        ("", {}),
        (S.tenant_id, {"mailbox_upn": "tms@fabrikam.example"}),
        (S.tenant_id, {"mailbox_upn": "tms@sub.contoso.example"}),
        (S.tenant_id, {"verified_domains": ()}),
    ],
)
async def test_tenant_isolation_refuses_before_any_request(
    start_tenant: StartTenant,
    session: aiohttp.ClientSession,
    token_tid: str,
    overrides: dict[str, Any],
) -> None:
    tenant = await start_tenant(S)
    context = tenant.context(**overrides)
    with pytest.raises(TenantIsolationError):
        run_checks(context, tenant.checks(session), token_tenant_id=token_tid)
    with pytest.raises(TenantIsolationError):
        await collect(context, tenant.checks(session), token_tenant_id=token_tid)
    await asyncio.sleep(0.05)
    assert tenant.request_count == 0
    assert tenant.tokens.calls == []


def test_same_tenant_is_case_insensitive() -> None:
    context = CheckContext(
        tenant_id=S.tenant_id.upper(),
        user_id="u",
        user_upn="Admin@Contoso.example",
        mailbox_upn="TMS@CONTOSO.EXAMPLE",
        verified_domains=("contoso.example",),
    )
    ensure_same_tenant(S.tenant_id, context)


def test_context_rejects_odd_addresses() -> None:
    with pytest.raises(ValueError, match="not a valid address"):
        CheckContext(
            tenant_id="t",
            user_id="u",
            user_upn="admin@contoso.example",
            mailbox_upn="x@contoso.example; Remove-Mailbox",
            verified_domains=(),
        )


# ---------------------------------------------------------- one scenario per cause


@pytest.mark.parametrize("cause", sorted(CAUSE_SCENARIOS))
async def test_each_cause_scenario_is_named_by_its_checks(
    start_tenant: StartTenant, session: aiohttp.ClientSession, cause: str
) -> None:
    tenant = await start_tenant(TenantScenario.for_cause(cause).signed_in_as_mailbox())
    results = await collect(tenant.context(), tenant.checks(session), token_tenant_id=S.tenant_id)
    # The mailbox type's requirements are the domain's to apply (the knowledge file).
    by_id = {r.check_id: r for r in coalesce(results, default_knowledge())}
    for check_id in CAUSE_CHECKS[cause]:
        result = by_id[check_id]
        assert result.status in (CheckStatus.FAIL, CheckStatus.WARN), result
        assert result.cause_id == cause, result


async def test_healthy_tenant_has_no_failures(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    results = await collect(tenant.context(), tenant.checks(session), token_tenant_id=S.tenant_id)
    assert {r.status for r in results} == {CheckStatus.PASS}, results
    assert not tenant.smtp.mail_from_seen


# ------------------------------------------------------------------ token leaks

LEAKY = [
    # Servers that quote the bearer token in their error messages.
    S.with_(
        echo_token_in_errors=True,
        forbidden={
            "licenseDetails": "Authorization_RequestDenied",
            "signIns": "Authorization_RequestDenied",
        },
        smtp=SMTP_BAD_TOKEN,
    ),
    S.with_(
        exchange_error=403,
        throttle={"securityDefaults": 5},
        retry_after="0",
        ca_policies=[ca_policy("Block legacy authentication")],
        sign_ins=[smtp_sign_in(S.mailbox_upn, 53003)],
    ),
    TenantScenario.for_cause("smtp_auth_disabled_tenant"),
]


@pytest.mark.parametrize("scenario", LEAKY)
async def test_no_token_in_results_evidence_exceptions_or_logs(
    start_tenant: StartTenant,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    scenario: TenantScenario,
) -> None:
    tenant = await start_tenant(scenario)
    caplog.set_level(logging.DEBUG)
    results = await collect(tenant.context(), tenant.checks(session), token_tenant_id=S.tenant_id)
    seen = [repr(results)]
    seen += [sentence_of(r) + r.detail for r in results]
    # A raised error (from the helpers the bot calls directly) must be clean as well.
    broken = scenario.with_(
        forbidden={"me": "Authorization_RequestDenied"}, echo_token_in_errors=True
    )
    tenant.graph.scenario = broken
    with pytest.raises(GraphError) as info:
        await me(session, tenant.tokens, graph_url=tenant.graph.url)
    seen += [str(info.value), repr(info.value), info.value.message]
    seen += [caplog.text]
    seen += [record.getMessage() for record in caplog.records]
    blob = "\n".join(seen)
    assert tenant.tokens.calls, "the checks asked for tokens"
    for secret in tenant.tokens.all_secrets():
        assert secret not in blob
    assert "Bearer ey" not in blob
    if scenario.echo_token_in_errors:
        assert "[redacted]" in blob  # the echo happened and was scrubbed
