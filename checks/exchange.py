"""Reads from Exchange Online's admin endpoint: switches, mailboxes, permissions, policies.

Graph does not expose ``SmtpClientAuthenticationDisabled``, the recipient type
of another user's mailbox, mailbox permissions or authentication policies, and
the supported Exchange Online Admin API covers only some of them (domain.md
§4). The route here is the one the EXO V3 PowerShell module uses,
``POST {exchange_admin_url}/{tenantId}/InvokeCommand`` with a ``CmdletInput``
body: unsupported and free to change without notice, so results read through
it say so, and a refusal degrades to "run this PowerShell and paste the
output" (:mod:`dialogs.live.switches`). Only ``Get-`` cmdlets are ever sent.

A "not found" from Exchange (``ManagementObjectNotFoundException``) is a
finding ("there is no such mailbox"), not a refusal.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from checks.base import (
    EXCHANGE_SCOPE,
    BaseCheck,
    CheckContext,
    Outcome,
    ServiceError,
    SharedRequests,
    TokenProvider,
    TokenUnavailable,
    as_bool,
    as_text,
    as_texts,
    certificate_problem,
    host_of,
    redact,
    shorten,
)
from dialogs.live.results import CheckStatus
from dialogs.live.switches import CHECK_ID as SWITCHES_CHECK_ID
from dialogs.live.switches import NOT_READ, PROPERTY, SwitchValue, judge_switches, parse_switch

logger = logging.getLogger(__name__)

NOT_FOUND_CODE = "ManagementObjectNotFoundException"
#: What the endpoint's refusals and errors need, named in results.
PERMISSION = "Exchange.Manage and an Exchange role that may read settings"


class ExchangeAdminError(ServiceError):
    """The Exchange admin endpoint refused or failed; the message is redacted."""

    service = "exchange"

    @property
    def not_found(self) -> bool:
        """True when Exchange says the object (a mailbox, a user) does not exist."""
        return self.status == 404 and NOT_FOUND_CODE in f"{self.code} {self.message}"


class ExchangeAdminClient:
    """Calls ``InvokeCommand`` with an injected session and token provider.

    One client serves one check run: the same cmdlet with the same parameters
    is sent once, however many checks ask for it.
    """

    def __init__(self, session: aiohttp.ClientSession, token_provider: TokenProvider) -> None:
        """Create the client.

        Args:
            session: The shared HTTP session (owned by the caller).
            token_provider: Returns a token for ``EXCHANGE_SCOPE``.
        """
        self._session = session
        self._tokens = token_provider
        self._answers = SharedRequests()

    async def invoke(
        self,
        context: CheckContext,
        cmdlet: str,
        parameters: Mapping[str, Any],
        *,
        deadline: float | None = None,
    ) -> list[dict[str, Any]]:
        """Run one read-only cmdlet and return its output objects (possibly none).

        Args:
            context: Supplies the endpoint, tenant id and the admin's UPN.
            cmdlet: A ``Get-*`` cmdlet name.
            parameters: The cmdlet's parameters.
            deadline: ``loop.time()`` by which the caller must be done.

        Returns:
            The ``value`` list of the response.

        Raises:
            ExchangeAdminError: The endpoint refused, failed or answered nothing usable.
            TokenUnavailable: No Exchange token.
            ValueError: ``cmdlet`` is not a ``Get-`` cmdlet.
        """
        if not cmdlet.startswith("Get-"):
            # This engine only ever reads; refuse anything else outright.
            raise ValueError(f"only Get- cmdlets are allowed, not {cmdlet!r}")
        key = json.dumps([cmdlet, dict(parameters)], sort_keys=True)
        return await self._answers.get(
            key, deadline, lambda d: self._invoke(context, cmdlet, parameters, d))

    async def _invoke(
        self,
        context: CheckContext,
        cmdlet: str,
        parameters: Mapping[str, Any],
        deadline: float | None,
    ) -> list[dict[str, Any]]:
        token = await self._tokens(EXCHANGE_SCOPE)
        url = f"{context.endpoints.exchange_admin_url}/{context.tenant_id}/InvokeCommand"
        headers = {
            "Authorization": f"Bearer {token}",
            # Routes the call to the admin's mailbox server, as the EXO module does.
            "X-AnchorMailbox": f"UPN:{context.user_upn}",
            "X-ResponseFormat": "json",
            "Accept": "application/json",
        }
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters)}}
        loop = asyncio.get_running_loop()
        total = max(0.5, deadline - loop.time() + 0.5) if deadline is not None else 30.0
        try:
            async with self._session.post(
                url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=total)
            ) as resp:
                text = await resp.text()
                logger.debug("Exchange InvokeCommand %s -> %s", cmdlet, resp.status)
                status = resp.status
        except TimeoutError as exc:
            raise ExchangeAdminError(0, "Timeout", "no answer in time") from exc
        except aiohttp.ClientError as exc:
            problem = certificate_problem(exc)
            if problem:
                raise ExchangeAdminError(
                    0, "CertificateError", problem, certificate=True, host=host_of(url)
                ) from exc
            raise ExchangeAdminError(0, "ConnectionError", type(exc).__name__) from exc
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError:
            data = {}
        if status >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            code = str(error.get("code", "")) if isinstance(error, dict) else ""
            message = str(error.get("message", "")) if isinstance(error, dict) else text
            raise ExchangeAdminError(
                status, code or f"HTTP{status}", shorten(redact(message, token), 300)
            )
        values = data.get("value") if isinstance(data, dict) else None
        if not isinstance(values, list):
            raise ExchangeAdminError(status, "NoValue", f"{cmdlet} answered without a value list")
        return [v for v in values if isinstance(v, dict)]


# -------------------------------------------------------------------------- the switches
class SmtpAuthSwitchesCheck(BaseCheck):
    """Reads both SMTP AUTH switches through the unsupported InvokeCommand route."""

    check_id = SWITCHES_CHECK_ID
    cause_id = None

    def __init__(self, client: ExchangeAdminClient) -> None:
        """Create the check.

        Args:
            client: The Exchange admin client.
        """
        self.client = client

    async def evaluate(self, context: CheckContext, deadline: float) -> Outcome:
        """Read ``Get-TransportConfig`` and ``Get-CASMailbox`` concurrently and judge them.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            The joint verdict; a missing mailbox is SKIPPED (nothing to read),
            a refusal leaves the unread switch "unread" for the paste.
        """
        (tenant, tenant_err), (mailbox, mailbox_err) = await asyncio.gather(
            self._read(context, "Get-TransportConfig", {}, deadline),
            self._read(context, "Get-CASMailbox", {"Identity": context.mailbox_upn}, deadline),
        )
        if isinstance(mailbox_err, ExchangeAdminError) and mailbox_err.not_found:
            return Outcome(
                CheckStatus.SKIPPED, "switches.no_mailbox", {"mailbox": context.mailbox_upn},
                None, mailbox_err.message,
            )
        verdict = judge_switches(tenant, mailbox)
        errors = [e for e in (tenant_err, mailbox_err) if e is not None]
        facts: dict[str, Any] = {**verdict.facts, "source": "exchange"}
        if errors:
            first = errors[0]
            if isinstance(first, ExchangeAdminError):
                refused = first.outcome(PERMISSION)
                facts.update(refused.facts)
                facts["refusal"] = refused.finding
                detail = "; ".join(
                    f"{e.status} {e.code}: {e.message}" if isinstance(e, ExchangeAdminError)
                    else str(e) for e in errors
                )
            else:
                facts.update(reason=str(first), refusal="token.unavailable")
                detail = str(first)
            return Outcome(verdict.status, verdict.finding, facts, verdict.cause_id, detail)
        return Outcome(verdict.status, verdict.finding, facts, verdict.cause_id)

    async def _read(
        self, context: CheckContext, cmdlet: str, params: Mapping[str, Any], deadline: float
    ) -> tuple[SwitchValue, Exception | None]:
        try:
            values = await self.client.invoke(context, cmdlet, params, deadline=deadline)
        except (ExchangeAdminError, TokenUnavailable) as err:
            return NOT_READ, err
        if not values:
            return NOT_READ, ExchangeAdminError(200, "NoObjects", f"{cmdlet} returned nothing")
        try:
            return parse_switch(values[0].get(PROPERTY)), None
        except ValueError as err:
            return NOT_READ, ExchangeAdminError(200, "UnexpectedValue", str(err))


# ------------------------------------------------------------------ mailboxes and rights
@dataclass(frozen=True)
class MailboxFacts:
    """What Exchange says about a mailbox (``Get-Mailbox``)."""

    recipient_type: str | None
    primary_address: str | None


async def read_mailbox(
    client: ExchangeAdminClient, context: CheckContext, deadline: float
) -> MailboxFacts | None:
    """``Get-Mailbox -Identity <mailbox>``: its ``RecipientTypeDetails``.

    Args:
        client: The Exchange admin client.
        context: Supplies the mailbox.
        deadline: ``loop.time()`` by which the caller must be done.

    Returns:
        The mailbox's facts, or None when Exchange has no such mailbox.

    Raises:
        ExchangeAdminError: The endpoint refused or failed.
    """
    try:
        values = await client.invoke(
            context, "Get-Mailbox", {"Identity": context.mailbox_upn}, deadline=deadline
        )
    except ExchangeAdminError as err:
        if err.not_found:
            return None
        raise
    if not values:
        return None
    row = values[0]
    return MailboxFacts(
        recipient_type=as_text(row.get("RecipientTypeDetails")),
        primary_address=as_text(row.get("PrimarySmtpAddress")),
    )


def _holder(row: Mapping[str, Any]) -> str:
    return (as_text(row.get("User")) or as_text(row.get("Trustee")) or "").lower()


async def full_access_holders(
    client: ExchangeAdminClient, context: CheckContext, deadline: float
) -> list[str]:
    """``Get-MailboxPermission -Identity <mailbox>``: who has Full Access (explicit, allowed).

    Args:
        client: The Exchange admin client.
        context: Supplies the mailbox.
        deadline: ``loop.time()`` by which the caller must be done.

    Returns:
        The holders' names as Exchange writes them (usually UPNs), lower-cased.

    Raises:
        ExchangeAdminError: The endpoint refused, failed, or has no such mailbox.
    """
    rows = await client.invoke(
        context, "Get-MailboxPermission", {"Identity": context.mailbox_upn}, deadline=deadline
    )
    holders: list[str] = []
    for row in rows:
        rights = {r.lower() for r in as_texts(row.get("AccessRights"))}
        denied = as_bool(row.get("Deny")) is True
        holder = _holder(row)
        # "NT AUTHORITY\SELF" is the mailbox itself, not a delegate.
        if "fullaccess" in rights and not denied and holder and "\\self" not in holder:
            holders.append(holder)
    return holders


# ------------------------------------------------------------------ authentication policies
@dataclass(frozen=True)
class BasicSmtpPolicy:
    """Whether an authentication policy lets the mailbox use Basic (password) SMTP AUTH."""

    policy: str | None  # the policy that applies, None when none does
    allows_basic_smtp: bool | None  # None when no policy applies or the value is unknown


async def basic_smtp_policy(
    client: ExchangeAdminClient, context: CheckContext, deadline: float
) -> BasicSmtpPolicy:
    """The authentication policy that applies to the mailbox's user, and its ``AllowBasicAuthSmtp``.

    The user's own policy (``Get-User`` ``AuthenticationPolicy``) wins over the
    organisation's default (``Get-OrganizationConfig`` ``DefaultAuthenticationPolicy``).

    Args:
        client: The Exchange admin client.
        context: Supplies the mailbox.
        deadline: ``loop.time()`` by which the caller must be done.

    Returns:
        The applying policy (None when none applies: Basic is allowed by policy).

    Raises:
        ExchangeAdminError: The endpoint refused or failed.
    """
    org_rows, user_rows, policies = await asyncio.gather(
        client.invoke(context, "Get-OrganizationConfig", {}, deadline=deadline),
        client.invoke(context, "Get-User", {"Identity": context.mailbox_upn}, deadline=deadline),
        client.invoke(context, "Get-AuthenticationPolicy", {}, deadline=deadline),
    )
    own = as_text(user_rows[0].get("AuthenticationPolicy")) if user_rows else None
    default = as_text(org_rows[0].get("DefaultAuthenticationPolicy")) if org_rows else None
    applying = own or default
    if not applying:
        return BasicSmtpPolicy(None, None)
    for row in policies:
        names = {(as_text(row.get(k)) or "").lower() for k in ("Name", "Identity", "Id")}
        if applying.lower() in names:
            return BasicSmtpPolicy(applying, as_bool(row.get("AllowBasicAuthSmtp")))
    return BasicSmtpPolicy(applying, None)

