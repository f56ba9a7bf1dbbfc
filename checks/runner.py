"""Runs the live checks concurrently and hands results back as they finish.

Teams gives the bot 15 s per request, so the bot posts "checking…" at once
and updates a card as results arrive: :func:`run_checks` is therefore an async
iterator in completion order, and every check has its own time budget (a
slow one becomes UNKNOWN "timed out" instead of holding up the others).
Before anything is sent anywhere, :func:`ensure_same_tenant` refuses runs
outside the signed-in user's own tenant and verified domains.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import replace

import aiohttp

from checks.base import (
    Check,
    CheckContext,
    SslContextFactory,
    TenantIsolationError,
    TokenProvider,
    default_ssl_context,
)
from checks.exchange import ExchangeAdminClient, SmtpAuthSwitchesCheck
from checks.graph import (
    AccountEnabledCheck,
    ConditionalAccessCheck,
    ErrorCodeMapper,
    GraphClient,
    LicenseCheck,
    MfaCheck,
    SecurityDefaultsCheck,
    SignInsCheck,
    default_error_mapper,
)
from checks.mailbox import MailboxTypeCheck
from checks.readiness import ReadinessCheck
from checks.smtp import SmtpProbeCheck
from dialogs.live.results import CheckResult, CheckStatus

logger = logging.getLogger(__name__)


def default_checks(
    session: aiohttp.ClientSession,
    token_provider: TokenProvider,
    *,
    ssl_context_factory: SslContextFactory = default_ssl_context,
    map_error: ErrorCodeMapper = default_error_mapper,
    exchange: bool = True,
    smtp: bool = True,
) -> list[Check]:
    """Build the full set of checks, in the order the results card lists them.

    Args:
        session: The shared HTTP session (the caller owns and closes it).
        token_provider: Returns tokens for ``GRAPH_SCOPE``, ``EXCHANGE_SCOPE``
            and ``SMTP_SCOPE``; raise ``TokenUnavailable`` for a scope it can't serve.
        ssl_context_factory: Client TLS context for the SMTP probe (the same
            CA setting as the session's).
        map_error: Entra sign-in error code -> cause id (the bot's diagnosis).
        exchange: Read through the Exchange admin endpoint (unsupported by
            Microsoft): the switches, the mailbox type of other mailboxes, Full
            Access and the authentication policy.
        smtp: Include the live SMTP probe.

    Returns:
        The checks. One Graph and one Exchange client serve them all, so a
        URL or cmdlet several checks need is fetched once per run.
    """
    graph = GraphClient(session, token_provider)
    admin = ExchangeAdminClient(session, token_provider) if exchange else None
    checks: list[Check] = [
        LicenseCheck(graph),
        MailboxTypeCheck(graph, admin),
        AccountEnabledCheck(graph),
        SecurityDefaultsCheck(graph),
        ConditionalAccessCheck(graph),
        MfaCheck(graph),
        SignInsCheck(graph, map_error),
    ]
    if admin is not None:
        checks.append(SmtpAuthSwitchesCheck(admin))
    if smtp:
        checks.append(SmtpProbeCheck(token_provider, ssl_context_factory, admin))
    checks.append(ReadinessCheck(graph, admin))
    return checks


def ensure_same_tenant(token_tenant_id: str, context: CheckContext) -> None:
    """Refuse a run outside the signed-in user's tenant or verified domains.

    Args:
        token_tenant_id: The ``tid`` claim of the signed-in user's token.
        context: The run's context.

    Raises:
        TenantIsolationError: The context names another tenant, or the mailbox's
            domain is not one of the tenant's verified domains.
    """
    if not token_tenant_id or token_tenant_id.strip().lower() != context.tenant_id.strip().lower():
        raise TenantIsolationError(
            "The checks can only run in the signed-in user's own tenant "
            f"(signed in to {token_tenant_id or 'no tenant'}, asked for {context.tenant_id})."
        )
    domains = {d.strip().lower() for d in context.verified_domains}
    if context.mailbox_domain not in domains:
        raise TenantIsolationError(
            f"{context.mailbox_upn} is not in one of this tenant's verified domains, "
            "so the checks won't look at it."
        )


def run_checks(
    context: CheckContext, checks: Iterable[Check], *, token_tenant_id: str
) -> AsyncGenerator[CheckResult, None]:
    """Start every check concurrently; yield each result as soon as it is ready.

    Tenant isolation is enforced here, eagerly: a refused run raises from this
    call, before any check starts or any request is made.

    Args:
        context: Whom and what to check, including per-check timeouts.
        checks: The checks (see :func:`default_checks`).
        token_tenant_id: The ``tid`` claim of the signed-in user's token.

    Returns:
        An async generator of results in completion order. Close it (for example
        with ``contextlib.aclosing``) when stopping early; closing cancels the
        checks still running.

    Raises:
        TenantIsolationError: The run would leave the user's tenant.
        ValueError: Two checks share an id.
    """
    ensure_same_tenant(token_tenant_id, context)
    checks = list(checks)
    ids = [c.check_id for c in checks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate check ids: {ids}")
    return _run(context, checks)


async def _run(context: CheckContext, checks: Sequence[Check]) -> AsyncGenerator[CheckResult, None]:
    tasks = [
        asyncio.create_task(_run_one(check, context), name=f"check:{check.check_id}")
        for check in checks
    ]
    try:
        for next_done in asyncio.as_completed(tasks):
            yield await next_done
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _run_one(check: Check, context: CheckContext) -> CheckResult:
    """Run one check within its budget; never raises (except cancellation)."""
    timeout = context.timeout_for(check.check_id)
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        async with asyncio.timeout(timeout):
            result = await check.run(context)
    except TimeoutError:
        return CheckResult(
            check.check_id,
            CheckStatus.UNKNOWN,
            "timed_out",
            {"seconds": f"{timeout:g}"},
            getattr(check, "cause_id", None),
            "",
            elapsed(),
        )
    except Exception as exc:
        # Checks report problems as results; reaching here is a bug. Log it for
        # us, show the user only the exception type (its text is not vetted).
        logger.warning("check %s failed unexpectedly", check.check_id, exc_info=exc)
        return CheckResult(
            check.check_id,
            CheckStatus.UNKNOWN,
            "failed_unexpectedly",
            {"error": type(exc).__name__},
            getattr(check, "cause_id", None),
            "",
            elapsed(),
        )
    return replace(result, duration_ms=elapsed())


async def collect(
    context: CheckContext, checks: Iterable[Check], *, token_tenant_id: str
) -> list[CheckResult]:
    """Run the checks and return all results, in the order of ``checks``.

    Args:
        context: Whom and what to check.
        checks: The checks.
        token_tenant_id: The ``tid`` claim of the signed-in user's token.

    Returns:
        One result per check.

    Raises:
        TenantIsolationError: The run would leave the user's tenant.
    """
    checks = list(checks)
    results = {
        r.check_id: r async for r in run_checks(context, checks, token_tenant_id=token_tenant_id)
    }
    return [results[c.check_id] for c in checks]
