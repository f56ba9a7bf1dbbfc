"""The live-checks desk's network ports, on ``checks/``: the signed-in tenant and the check suite.

:class:`GraphTenant` answers the desk's preflight (who signed in, their
verified domains, the sending address's user) and :class:`LiveSuite` starts
the checks of one run. Both take the HTTP session and the signed-in user's
token provider from the edge and nothing from a bot framework, so the desk
(:mod:`dialogs.live.desk`) runs on them in the bot and in tests alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

import aiohttp

from checks.base import (
    CheckContext,
    Endpoints,
    ServiceError,
    SslContextFactory,
    TenantIsolationError,
    TokenProvider,
    TokenUnavailable,
    default_ssl_context,
)
from checks.graph import (
    ErrorCodeMapper,
    default_error_mapper,
    find_mailbox_user,
    me,
    verified_domains,
)
from checks.runner import default_checks, run_checks
from dialogs.live.ports import MailboxUser, OtherOrganisation, PreflightError, RunPlan, SignedIn
from dialogs.live.results import CheckResult


class GraphTenant:
    """The desk's :class:`~dialogs.live.ports.Tenant`: preflight reads through Microsoft Graph."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_provider: TokenProvider,
        token_tenant: str | None,
        *,
        graph_url: str = Endpoints().graph_url,
    ) -> None:
        """Create the reader.

        Args:
            session: The shared HTTP session.
            token_provider: The signed-in user's tokens.
            token_tenant: The ``tid`` of the user's token, when known.
            graph_url: Graph base URL.
        """
        self._session, self._tokens = session, token_provider
        self._tenant, self._graph_url = token_tenant, graph_url

    def token_tenant(self) -> str | None:
        """The tenant of the user's token."""
        return self._tenant

    async def signed_in(self) -> SignedIn:
        """Who signed in (``/me``) and the organisation's verified domains, read together.

        Returns:
            The signed-in user.

        Raises:
            OtherOrganisation: Graph answered for another organisation.
            PreflightError: It could not be read (the finding says why).
        """
        tenant = self._tenant or ""
        try:
            user, domains = await asyncio.gather(
                me(self._session, self._tokens, graph_url=self._graph_url),
                verified_domains(self._session, self._tokens, graph_url=self._graph_url,
                                 tenant_id=tenant),
            )
        except TenantIsolationError as exc:
            raise OtherOrganisation(str(exc)) from None
        except ServiceError as exc:
            outcome = exc.outcome("User.Read")
            raise PreflightError(outcome.finding, {k: str(v) for k, v in outcome.facts.items()}
                                 ) from None
        except TokenUnavailable as exc:
            raise PreflightError("token.unavailable", {"reason": str(exc)}) from None
        return SignedIn(tenant, user.id, user.user_principal_name, domains)

    async def find_mailbox(self, address: str) -> MailboxUser | None:
        """The user of the sending address (by UPN, then by mail).

        Args:
            address: The sending address.

        Returns:
            The user; None when the organisation has none; the address without
            an id when it could not be looked up.
        """
        try:
            found = await find_mailbox_user(self._session, self._tokens, address,
                                            graph_url=self._graph_url)
        except (ServiceError, TokenUnavailable):
            return MailboxUser(address)  # can't look it up: the checks will say what they can
        return MailboxUser(found.user_principal_name, found.id) if found else None


class LiveSuite:
    """The desk's :class:`~dialogs.live.ports.CheckSuite`: :func:`default_checks` for one run."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_provider: TokenProvider,
        token_tenant: str | None,
        *,
        endpoints: Endpoints | None = None,
        ssl_context_factory: SslContextFactory = default_ssl_context,
        map_error: ErrorCodeMapper = default_error_mapper,
    ) -> None:
        """Build the checks (nothing is sent until :meth:`start`).

        Args:
            session: The shared HTTP session.
            token_provider: The signed-in user's tokens.
            token_tenant: The ``tid`` of the user's token (tenant isolation).
            endpoints: Where the checks connect.
            ssl_context_factory: TLS for the SMTP probe.
            map_error: Entra sign-in error code -> cause id.
        """
        self._endpoints = endpoints or Endpoints()
        self._tenant = token_tenant
        self._checks = default_checks(session, token_provider,
                                      ssl_context_factory=ssl_context_factory, map_error=map_error)

    def check_ids(self) -> Sequence[str]:
        """The checks in card order."""
        return [check.check_id for check in self._checks]

    def start(self, plan: RunPlan) -> AsyncGenerator[CheckResult, None]:
        """Start every check of the plan; results arrive in completion order.

        Args:
            plan: The run.

        Returns:
            The results, as they finish.

        Raises:
            OtherOrganisation: The plan leaves the signed-in tenant or its domains.
        """
        try:
            context = CheckContext(
                tenant_id=plan.tenant_id, user_id=plan.user_id, user_upn=plan.user_upn,
                mailbox_upn=plan.mailbox, mailbox_id=plan.mailbox_id,
                verified_domains=plan.domains, auth_method=plan.auth_method,
                endpoints=self._endpoints, timeout_s=plan.timeout_s,
            )
            return run_checks(context, self._checks, token_tenant_id=self._tenant or "")
        except (TenantIsolationError, ValueError) as exc:
            raise OtherOrganisation(str(exc)) from None
