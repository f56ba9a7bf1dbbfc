"""Checks that read the tenant through Microsoft Graph (delegated permissions).

Endpoints, permissions and fields follow Microsoft's Graph documentation
(summarised in the project's domain notes, "Live checks"). Graph answers
errors as ``{"error": {"code", "message"}}``; the client here turns them
into :class:`GraphError`, retries a 429 once when its ``Retry-After`` still
fits in the check's time budget, and the checks turn errors into
UNKNOWN/SKIPPED results that say which permission is missing.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp

from checks.base import (
    GRAPH_SCOPE,
    BaseCheck,
    CheckContext,
    CheckStatus,
    Endpoints,
    Outcome,
    TenantIsolationError,
    TokenProvider,
    redact,
    shorten,
)

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = Endpoints().graph_url
#: App id of "Office 365 Exchange Online", the resource Authenticated SMTP signs in to.
EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
NON_PREMIUM_CODE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
NOT_ON_PLAN = "Not available on your plan (needs Entra ID P1)."

ErrorCodeMapper = Callable[[str], "str | None"]
"""Maps an Entra sign-in error code ("50126") to a knowledge cause id, or None."""

# Service plans that give the user an Exchange Online mailbox. EXCHANGE_S_FOUNDATION
# is deliberately absent: it ships with non-mail SKUs and gives no mailbox.
EXCHANGE_MAILBOX_PLANS = frozenset(
    {
        "EXCHANGE_S_STANDARD",
        "EXCHANGE_S_ENTERPRISE",
        "EXCHANGE_S_DESKLESS",
        "EXCHANGE_S_ESSENTIALS",
        "EXCHANGE_S_STANDARD_MIDMARKET",
        "EXCHANGE_B_STANDARD",
        "EXCHANGE_L_STANDARD",
        "EXCHANGE_S_STANDARD_GOV",
        "EXCHANGE_S_ENTERPRISE_GOV",
        "EXCHANGE_S_DESKLESS_GOV",
    }
)

# Entra sign-in error codes seen with SMTP AUTH (domain.md §3) -> knowledge cause.
DEFAULT_ERROR_CAUSES: Mapping[str, str] = {
    "50126": "wrong_credentials",
    "50034": "wrong_credentials",
    "50020": "wrong_credentials",
    "50055": "wrong_credentials",
    "50144": "wrong_credentials",
    "90002": "wrong_credentials",
    "50076": "mfa_required",
    "50079": "mfa_required",
    "50074": "mfa_required",
    "53003": "conditional_access",
    "530035": "security_defaults",
    "530032": "security_defaults",
    "50053": "account_blocked",
    "50057": "account_blocked",
    "65001": "oauth_token",
    "65004": "oauth_token",
    "700016": "oauth_token",
    "7000112": "oauth_token",
    "7000215": "oauth_token",
    "7000222": "oauth_token",
    "7000218": "oauth_token",
    "500011": "oauth_token",
    "650057": "oauth_token",
    "70011": "oauth_token",
    "70000": "oauth_token",
    "70008": "oauth_token",
    "700082": "oauth_token",
    "50173": "oauth_token",
}


def default_error_mapper(code: str) -> str | None:
    """Map an Entra sign-in error code to a cause id with the built-in table.

    The bot passes its own mapper (the diagnosis) instead; this table keeps the
    checks useful on their own.

    Args:
        code: The sign-in's ``status.errorCode`` as text.

    Returns:
        The cause id, or None when the code is not known.
    """
    return DEFAULT_ERROR_CAUSES.get(str(code).strip())


class GraphError(Exception):
    """Microsoft Graph answered with an error (or could not be reached, status 0).

    The message is redacted: it never contains the access token.
    """

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        """Build the error.

        Args:
            status: HTTP status, or 0 when no answer arrived.
            code: Graph's ``error.code`` (or a local code such as "Timeout").
            message: Graph's ``error.message``, already redacted.
            retry_after: Seconds from a 429's ``Retry-After``.
        """
        super().__init__(f"Microsoft Graph answered {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def parse_retry_after(value: str | None, default: float = 1.0) -> float:
    """Read a ``Retry-After`` header (seconds or an HTTP date).

    Args:
        value: The header value, if any.
        default: Seconds to use when the header is missing or unreadable.

    Returns:
        Seconds to wait, never negative.
    """
    if not value:
        return default
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def odata_quote(value: str) -> str:
    """Quote a string literal for an OData ``$filter`` (doubling single quotes).

    Args:
        value: The literal.

    Returns:
        The literal wrapped in single quotes.
    """
    return "'" + value.replace("'", "''") + "'"


def build_url(base: str, path: str, params: Mapping[str, str] | None = None) -> str:
    """Join a Graph base URL, a path and OData query options.

    Spaces become ``%20`` (not ``+``), which is what Graph documents for ``$filter``.

    Args:
        base: The Graph base URL, e.g. https://graph.microsoft.com/v1.0.
        path: Path starting with "/"; user ids/UPNs in it are quoted here.
        params: Query options such as ``{"$select": "id"}``.

    Returns:
        The full URL.
    """
    url = base.rstrip("/") + quote(path, safe="/@'().,=-_~")
    if params:
        url += "?" + urlencode(params, quote_via=quote, safe="$,'()@")
    return url


class GraphClient:
    """A thin Graph GET client around an injected session and token provider."""

    def __init__(self, session: aiohttp.ClientSession, token_provider: TokenProvider) -> None:
        """Create the client.

        Args:
            session: The shared HTTP session (owned by the caller).
            token_provider: Returns a delegated Graph token for ``GRAPH_SCOPE``.
        """
        self._session = session
        self._tokens = token_provider

    async def get(self, url: str, *, deadline: float | None = None) -> dict[str, Any]:
        """GET a Graph URL and return its JSON body.

        A 429 is retried once when its ``Retry-After`` ends before ``deadline``
        (or within 5 s when there is no deadline); Graph asks clients to wait
        that long, so retrying sooner would only be throttled again.

        Args:
            url: Full URL (see :func:`build_url`).
            deadline: ``loop.time()`` by which the caller must be done.

        Returns:
            The decoded JSON object.

        Raises:
            GraphError: Graph answered an error or could not be reached.
            TokenUnavailable: The token provider has no Graph token.
        """
        token = await self._tokens(GRAPH_SCOPE)
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            status, body, retry_after = await self._send(url, token, deadline)
            if status == 429 and attempt == 1:
                wait = retry_after if retry_after is not None else 1.0
                fits = loop.time() + wait < deadline - 0.05 if deadline is not None else wait <= 5
                if fits:
                    logger.info("Graph throttled %s; retrying in %.1f s", _path(url), wait)
                    await asyncio.sleep(wait)
                    continue
            if status >= 400:
                raw_error = body.get("error")
                error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
                code = str(error.get("code") or f"HTTP{status}")
                message = shorten(redact(str(error.get("message") or ""), token), 200)
                raise GraphError(status, code, message, retry_after)
            return body
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns/raises

    async def get_all(
        self, url: str, *, deadline: float | None = None, max_pages: int = 5
    ) -> list[dict[str, Any]]:
        """GET a collection, following ``@odata.nextLink`` for a few pages.

        Args:
            url: Full URL of the collection.
            deadline: ``loop.time()`` by which the caller must be done.
            max_pages: Stop after this many pages (bounds time on huge tenants).

        Returns:
            The items of all pages read.

        Raises:
            GraphError: Graph answered an error.
        """
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        for _ in range(max_pages):
            if not next_url:
                break
            page = await self.get(next_url, deadline=deadline)
            items.extend(v for v in page.get("value", []) if isinstance(v, dict))
            next_url = page.get("@odata.nextLink")
        return items

    async def _send(
        self, url: str, token: str, deadline: float | None
    ) -> tuple[int, dict[str, Any], float | None]:
        loop = asyncio.get_running_loop()
        # Slightly longer than the check's budget so the runner's own timeout
        # (which reports "timed out after N s") wins when both would fire.
        total = max(0.5, deadline - loop.time() + 0.5) if deadline is not None else 30.0
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            async with self._session.get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=total)
            ) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
                retry_after = (
                    parse_retry_after(resp.headers.get("Retry-After"))
                    if resp.status in (429, 503)
                    else None
                )
                logger.debug("Graph GET %s -> %s", _path(url), resp.status)
                return resp.status, body if isinstance(body, dict) else {}, retry_after
        except TimeoutError as exc:
            raise GraphError(0, "Timeout", "no answer from Microsoft Graph in time") from exc
        except aiohttp.ClientError as exc:
            # The exception text can carry the URL but never headers, so it is safe.
            raise GraphError(
                0, "ConnectionError", f"could not reach Microsoft Graph ({type(exc).__name__})"
            ) from exc


def _path(url: str) -> str:
    # Only the path is logged: query strings carry addresses, which logs don't need.
    return urlsplit(url).path


def error_outcome(err: GraphError, permission: str, cause_id: str | None = None) -> Outcome:
    """Turn a Graph error into the result a check reports.

    Args:
        err: The error.
        permission: The delegated permission (and admin role) the call needs,
            named in the evidence when Graph refuses.
        cause_id: Cause the check speaks to, kept on the result.

    Returns:
        SKIPPED for a tenant without Entra ID P1, otherwise UNKNOWN with
        what went wrong and what would fix it.
    """
    detail = f"{err.code}: {err.message}" if err.message else err.code
    if err.code == NON_PREMIUM_CODE:
        return Outcome(CheckStatus.SKIPPED, NOT_ON_PLAN, cause_id)
    if err.status == 401:
        text = f"Microsoft Graph did not accept the sign-in (401 {detail}). Sign in again."
    elif err.status == 403:
        text = f"Missing permission: this check needs {permission}. Graph said 403 {detail}"
    elif err.status == 404:
        text = f"Not found (404 {detail})."
    elif err.status == 429:
        wait = f" Try again in {int(err.retry_after)} s." if err.retry_after else ""
        text = f"Microsoft Graph is throttling requests (429).{wait}"
    elif err.status == 0:
        text = f"Could not read from Microsoft Graph: {err.message}."
    else:
        text = f"Microsoft Graph answered {err.status} {detail}"
    return Outcome(CheckStatus.UNKNOWN, shorten(text), cause_id)


class GraphCheck(BaseCheck):
    """A check that reads Graph; subclasses implement :meth:`read`."""

    permission: str = ""

    def __init__(self, graph: GraphClient) -> None:
        """Create the check.

        Args:
            graph: The Graph client shared by all Graph checks of a run.
        """
        self.graph = graph

    async def evaluate(self, context: CheckContext, deadline: float) -> Outcome:
        """Run :meth:`read`, mapping Graph errors to UNKNOWN/SKIPPED.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            The verdict.
        """
        try:
            return await self.read(context, deadline)
        except GraphError as err:
            return self.on_error(err)

    def on_error(self, err: GraphError) -> Outcome:
        """Map a Graph error; checks override this for codes that are findings.

        Args:
            err: The error.

        Returns:
            The verdict.
        """
        return error_outcome(err, self.permission, self.cause_id)

    def url(self, context: CheckContext, path: str, params: Mapping[str, str] | None = None) -> str:
        """Build a URL on the context's Graph endpoint.

        Args:
            context: Supplies ``endpoints.graph_url``.
            path: Path starting with "/".
            params: OData query options.

        Returns:
            The full URL.
        """
        return build_url(context.endpoints.graph_url, path, params)

    async def mailbox_object_id(self, context: CheckContext, deadline: float) -> str:
        """The mailbox user's object id (some endpoints and CA policies need it).

        Args:
            context: Supplies ``mailbox_id`` or ``mailbox_upn``.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            The object id.

        Raises:
            GraphError: The lookup failed.
        """
        if context.mailbox_id:
            return context.mailbox_id
        body = await self.graph.get(
            self.url(context, f"/users/{context.mailbox_upn}", {"$select": "id"}),
            deadline=deadline,
        )
        return str(body["id"])

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read and judge the setting.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            The verdict.

        Raises:
            GraphError: Graph answered an error not handled by the check.
        """
        raise NotImplementedError


class LicenseCheck(GraphCheck):
    """Does the mailbox's user have a provisioned Exchange Online service plan?"""

    check_id = "license"
    title = "Exchange Online licence"
    cause_id = "no_exchange_license"
    permission = "LicenseAssignment.Read.All (or User.Read.All)"

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read ``/users/{id}/licenseDetails`` and look for an Exchange mailbox plan.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            PASS for a provisioned plan, WARN while provisioning, FAIL otherwise.
        """
        skus = await self.graph.get_all(
            self.url(context, f"/users/{context.mailbox_ref}/licenseDetails"), deadline=deadline
        )
        return judge_licenses(skus)


def judge_licenses(skus: Iterable[Mapping[str, Any]]) -> Outcome:
    """Judge ``licenseDetails`` items (pure, so the rules can be tested directly).

    Args:
        skus: The ``value`` items of ``/users/{id}/licenseDetails``.

    Returns:
        The licence verdict.
    """
    found: dict[str, list[str]] = {"Success": [], "Pending": [], "Disabled": []}
    foundation: list[str] = []
    sku_names: list[str] = []
    for sku in skus:
        sku_name = str(sku.get("skuPartNumber") or sku.get("skuId") or "?")
        sku_names.append(sku_name)
        for plan in sku.get("servicePlans") or []:
            name = str(plan.get("servicePlanName", ""))
            state = str(plan.get("provisioningStatus", ""))
            label = f"{name} in {sku_name} ({state})"
            if name == "EXCHANGE_S_FOUNDATION":
                foundation.append(label)
            elif name in EXCHANGE_MAILBOX_PLANS:
                # PendingProvisioning / PendingInput / PendingActivation all mean "not yet";
                # Disabled (or anything unknown) means the admin switched the plan off.
                if state == "Success":
                    found["Success"].append(label)
                elif state.startswith("Pending"):
                    found["Pending"].append(label)
                else:
                    found["Disabled"].append(label)
    if found["Success"]:
        return Outcome(
            CheckStatus.PASS, "Exchange Online plan active: " + ", ".join(found["Success"])
        )
    if found["Pending"]:
        return Outcome(
            CheckStatus.WARN,
            "Exchange Online plan still being provisioned: "
            + ", ".join(found["Pending"])
            + ". Wait for it to finish (usually minutes).",
            "no_exchange_license",
        )
    if found["Disabled"]:
        return Outcome(
            CheckStatus.FAIL,
            "Exchange Online plan is turned off in the licence: " + ", ".join(found["Disabled"]),
            "no_exchange_license",
        )
    if foundation:
        return Outcome(
            CheckStatus.FAIL,
            "Only EXCHANGE_S_FOUNDATION (no mailbox): " + ", ".join(foundation),
            "no_exchange_license",
        )
    what = ", ".join(sku_names) if sku_names else "no licences at all"
    return Outcome(CheckStatus.FAIL, f"No Exchange Online plan ({what}).", "no_exchange_license")


class MailboxTypeCheck(GraphCheck):
    """Is the mailbox a user mailbox (the only kind that signs in to SMTP)?"""

    check_id = "mailbox_type"
    title = "Mailbox type"
    cause_id = "unsupported_mailbox_type"
    permission = "MailboxSettings.Read (and the admin needs access to that mailbox)"

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read ``mailboxSettings.userPurpose``.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            PASS for user/linked, WARN for shared, FAIL for the rest.
        """
        body = await self.graph.get(
            self.url(
                context, f"/users/{context.mailbox_ref}/mailboxSettings", {"$select": "userPurpose"}
            ),
            deadline=deadline,
        )
        purpose = str(body.get("userPurpose") or "").strip()
        if purpose in ("user", "linked"):
            return Outcome(CheckStatus.PASS, f"userPurpose is {purpose!r}: a user mailbox.")
        if purpose == "shared":
            return Outcome(
                CheckStatus.WARN,
                "userPurpose is 'shared': a shared mailbox cannot sign in with a password; "
                "send through a licensed user with Send As, or use OAuth app-only.",
                "unsupported_mailbox_type",
            )
        return Outcome(
            CheckStatus.FAIL,
            f"userPurpose is {purpose or 'empty'!r}: this kind of mailbox cannot send "
            "with Authenticated SMTP.",
            "unsupported_mailbox_type",
        )

    def on_error(self, err: GraphError) -> Outcome:
        """Treat ``MailboxNotEnabledForRESTAPI`` as "no usable mailbox".

        Args:
            err: The error.

        Returns:
            The verdict.
        """
        if err.code == "MailboxNotEnabledForRESTAPI":
            return Outcome(
                CheckStatus.FAIL,
                f"No usable Exchange Online mailbox ({err.code}: inactive, soft-deleted, "
                "on-premises or unlicensed).",
                "no_exchange_license",
            )
        return super().on_error(err)


class AccountEnabledCheck(GraphCheck):
    """Is the mailbox's user allowed to sign in at all?"""

    check_id = "account_enabled"
    title = "Account can sign in"
    cause_id = "account_blocked"
    permission = "User.Read.All"

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read ``accountEnabled`` of the mailbox's user.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            PASS when enabled, FAIL when sign-in is blocked.
        """
        body = await self.graph.get(
            self.url(
                context,
                f"/users/{context.mailbox_ref}",
                {"$select": "accountEnabled,userPrincipalName"},
            ),
            deadline=deadline,
        )
        upn = body.get("userPrincipalName") or context.mailbox_upn
        if body.get("accountEnabled") is False:
            return Outcome(
                CheckStatus.FAIL,
                f"Sign-in is blocked for {upn} (accountEnabled false).",
                "account_blocked",
            )
        if body.get("accountEnabled") is True:
            return Outcome(CheckStatus.PASS, f"{upn} is allowed to sign in.")
        return Outcome(CheckStatus.UNKNOWN, "Graph did not return accountEnabled.")


class SecurityDefaultsCheck(GraphCheck):
    """Security defaults block every legacy sign-in, Basic SMTP AUTH included."""

    check_id = "security_defaults"
    title = "Security defaults"
    cause_id = "security_defaults"
    permission = "Policy.Read.All"

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read ``identitySecurityDefaultsEnforcementPolicy.isEnabled``.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            FAIL when on (WARN when the app uses OAuth, which they don't block).
        """
        body = await self.graph.get(
            self.url(context, "/policies/identitySecurityDefaultsEnforcementPolicy"),
            deadline=deadline,
        )
        if body.get("isEnabled") is True:
            if context.auth_method == "oauth":
                return Outcome(
                    CheckStatus.WARN,
                    "Security defaults are on. They block Basic SMTP AUTH; OAuth still works.",
                    "security_defaults",
                )
            return Outcome(
                CheckStatus.FAIL,
                "Security defaults are on: they block Authenticated SMTP with a password.",
                "security_defaults",
            )
        if body.get("isEnabled") is False:
            return Outcome(CheckStatus.PASS, "Security defaults are off.")
        return Outcome(CheckStatus.UNKNOWN, "Graph did not return isEnabled.")


# Client app types that cover Authenticated SMTP with a password. SMTP AUTH is a
# legacy protocol, which Conditional Access files under "other" ("Other clients");
# "exchangeActiveSync" alone targets ActiveSync and does not touch SMTP.
SMTP_CLIENT_APP_TYPES = frozenset({"all", "other"})
_SMTP_APPS = frozenset({"All", "Office365", EXCHANGE_ONLINE_APP_ID})
# Grant controls a password-only legacy sign-in can never satisfy.
_UNSATISFIABLE = frozenset(
    {"mfa", "compliantDevice", "domainJoinedDevice", "approvedApplication", "compliantApplication"}
)


@dataclass(frozen=True)
class PolicyVerdict:
    """How one Conditional Access policy affects Authenticated SMTP for the user."""

    name: str
    effect: str  # "blocks" or "requires mfa"/"requires compliantDevice"…
    certain: bool  # False when it depends on location/platform/risk or on group membership
    report_only: bool

    def describe(self) -> str:
        """One line for the evidence.

        Returns:
            A sentence naming the policy.
        """
        text = f"policy '{self.name}' {self.effect}"
        if self.report_only:
            text += " (report-only: not enforced yet)"
        elif not self.certain:
            text += " (may apply: depends on conditions or group membership)"
        return text


def _needs_membership(policy: Mapping[str, Any]) -> bool:
    users = (policy.get("conditions") or {}).get("users") or {}
    return any(
        users.get(k) for k in ("includeGroups", "excludeGroups", "includeRoles", "excludeRoles")
    )


def judge_policy(
    policy: Mapping[str, Any], user_id: str, memberships: set[str] | None
) -> PolicyVerdict | None:
    """Decide whether a Conditional Access policy stops Authenticated SMTP for a user.

    Args:
        policy: A ``conditionalAccessPolicy`` object as Graph returns it.
        user_id: The mailbox user's object id.
        memberships: Ids of the user's groups and role templates, or None when
            unknown (then group/role scoping makes the verdict uncertain).

    Returns:
        The verdict, or None when the policy does not affect SMTP for the user.
    """
    state = policy.get("state")
    if state not in ("enabled", "enabledForReportingButNotEnforced"):
        return None
    conditions = policy.get("conditions") or {}
    if not set(conditions.get("clientAppTypes") or []) & SMTP_CLIENT_APP_TYPES:
        return None
    apps = conditions.get("applications") or {}
    if not set(apps.get("includeApplications") or []) & _SMTP_APPS:
        return None
    if set(apps.get("excludeApplications") or []) & (_SMTP_APPS - {"All"}):
        return None

    users = conditions.get("users") or {}
    certain = True
    if user_id in (users.get("excludeUsers") or []):
        return None
    excluded_via = set(users.get("excludeGroups") or []) | set(users.get("excludeRoles") or [])
    if excluded_via:
        if memberships is None:
            certain = False
        elif excluded_via & memberships:
            return None
    include_users = set(users.get("includeUsers") or [])
    included_via = set(users.get("includeGroups") or []) | set(users.get("includeRoles") or [])
    if "All" in include_users or user_id in include_users:
        pass
    elif included_via and memberships is None:
        certain = False
    elif not (included_via & (memberships or set())):
        return None

    # Location, platform, device and risk conditions narrow when the policy
    # fires; from here we can't tell where the customer's app connects from.
    if any(
        conditions.get(k)
        for k in ("locations", "platforms", "devices", "signInRiskLevels", "userRiskLevels")
    ):
        certain = False

    grant = policy.get("grantControls") or {}
    controls = set(grant.get("builtInControls") or [])
    if "block" in controls:
        effect = "blocks Authenticated SMTP"
    elif controls & _UNSATISFIABLE or grant.get("authenticationStrength"):
        needed = sorted(controls & _UNSATISFIABLE) or ["an authentication strength"]
        effect = f"requires {' or '.join(needed)}, which Authenticated SMTP cannot provide"
    else:
        return None
    return PolicyVerdict(
        name=str(policy.get("displayName") or policy.get("id") or "?"),
        effect=effect,
        certain=certain,
        report_only=state == "enabledForReportingButNotEnforced",
    )


class ConditionalAccessCheck(GraphCheck):
    """Does an enabled Conditional Access policy block legacy SMTP for the user?"""

    check_id = "conditional_access"
    title = "Conditional Access policies"
    cause_id = "conditional_access"
    permission = "Policy.Read.All (and the Security Reader or Global Reader role)"

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read all CA policies and judge each for the mailbox's user.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            FAIL naming the enforced policies that stop SMTP; WARN for report-only
            or conditional ones; PASS otherwise.
        """
        policies, user_id = await asyncio.gather(
            self.graph.get_all(
                self.url(context, "/identity/conditionalAccess/policies"), deadline=deadline
            ),
            self.mailbox_object_id(context, deadline),
        )
        memberships: set[str] | None = None
        if any(_needs_membership(p) for p in policies):
            memberships = await self._memberships(context, user_id, deadline)
        verdicts = [v for p in policies if (v := judge_policy(p, user_id, memberships))]
        enforced = [v for v in verdicts if v.certain and not v.report_only]
        if enforced:
            return Outcome(
                CheckStatus.FAIL,
                shorten("; ".join(v.describe() for v in enforced)),
                "conditional_access",
            )
        if verdicts:
            return Outcome(
                CheckStatus.WARN,
                shorten("; ".join(v.describe() for v in verdicts)),
                "conditional_access",
            )
        active = sum(1 for p in policies if p.get("state") == "enabled")
        return Outcome(
            CheckStatus.PASS,
            f"{len(policies)} policies read ({active} on); none stops Authenticated SMTP "
            f"for {context.mailbox_upn}.",
        )

    async def _memberships(
        self, context: CheckContext, user_id: str, deadline: float
    ) -> set[str] | None:
        # Group and role ids let us resolve group-scoped policies; without the
        # permission we still answer, just less certainly.
        try:
            items = await self.graph.get_all(
                self.url(context, f"/users/{user_id}/transitiveMemberOf"), deadline=deadline
            )
        except GraphError as err:
            logger.info("CA check: group memberships unavailable (%s)", err.code)
            return None
        ids: set[str] = set()
        for item in items:
            ids.update(str(item[k]) for k in ("id", "roleTemplateId") if item.get(k))
        return ids


class SignInsCheck(GraphCheck):
    """What did Entra say about recent Authenticated SMTP sign-ins of the mailbox?"""

    check_id = "smtp_sign_ins"
    title = "Recent Authenticated SMTP sign-ins"
    permission = (
        "AuditLog.Read.All and Directory.Read.All "
        "(and the Reports Reader, Security Reader or Global Reader role)"
    )

    def __init__(
        self, graph: GraphClient, map_error: ErrorCodeMapper = default_error_mapper
    ) -> None:
        """Create the check.

        Args:
            graph: The Graph client.
            map_error: Maps a sign-in error code to a cause id (the bot passes its diagnosis).
        """
        super().__init__(graph)
        self.map_error = map_error

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read the latest Authenticated SMTP sign-ins and explain the newest failure.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            PASS when the latest attempt succeeded or there is none; FAIL with
            the mapped cause when it failed.
        """
        flt = (
            f"clientAppUsed eq 'Authenticated SMTP' and userPrincipalName eq "
            f"{odata_quote(context.mailbox_upn)}"
        )
        body = await self.graph.get(
            self.url(context, "/auditLogs/signIns", {"$filter": flt, "$top": "20"}),
            deadline=deadline,
        )
        sign_ins = [s for s in body.get("value", []) if isinstance(s, dict)]
        # Graph returns newest first; sort anyway so a reordered page can't mislead.
        sign_ins.sort(key=lambda s: str(s.get("createdDateTime", "")), reverse=True)
        if not sign_ins:
            return Outcome(
                CheckStatus.PASS,
                f"No Authenticated SMTP sign-ins by {context.mailbox_upn} in the log "
                "(OAuth sign-ins are not listed under this client app).",
            )
        failures = [s for s in sign_ins if _error_code(s) != "0"]
        latest = sign_ins[0]
        if _error_code(latest) == "0":
            note = f"; {len(failures)} earlier attempt(s) failed" if failures else ""
            return Outcome(
                CheckStatus.PASS,
                f"Latest Authenticated SMTP sign-in ({latest.get('createdDateTime')}) "
                f"succeeded{note}.",
            )
        code = _error_code(latest)
        cause = self.map_error(code) or "unknown"
        reason = str((latest.get("status") or {}).get("failureReason") or "").strip()
        blocked_by = [
            str(p.get("displayName"))
            for p in latest.get("appliedConditionalAccessPolicies") or []
            if p.get("result") == "failure"
        ]
        text = f"Latest Authenticated SMTP sign-in ({latest.get('createdDateTime')}) failed: {code}"
        if reason:
            text += f" {reason}"
        if blocked_by:
            text += " (policy " + ", ".join(f"'{n}'" for n in blocked_by) + ")"
        text = text.rstrip(".") + "."
        if len(sign_ins) > 1:
            text += f" {len(failures)} of the last {len(sign_ins)} attempts failed."
        return Outcome(CheckStatus.FAIL, shorten(text), cause)


def _error_code(sign_in: Mapping[str, Any]) -> str:
    return str((sign_in.get("status") or {}).get("errorCode", 0))


class MfaRegistrationCheck(GraphCheck):
    """Is the user registered for MFA (which Basic SMTP AUTH cannot answer)?"""

    check_id = "mfa_registration"
    title = "MFA registration"
    cause_id = "mfa_required"
    permission = "AuditLog.Read.All (and the Reports Reader or Security Reader role)"

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read ``userRegistrationDetails`` of the mailbox's user.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            WARN when registered and the app uses (or may use) Basic auth; PASS otherwise.
        """
        user_id = await self.mailbox_object_id(context, deadline)
        body = await self.graph.get(
            self.url(context, f"/reports/authenticationMethods/userRegistrationDetails/{user_id}"),
            deadline=deadline,
        )
        methods = ", ".join(str(m) for m in body.get("methodsRegistered") or []) or "none"
        if body.get("isMfaRegistered") is True:
            if context.auth_method == "oauth":
                return Outcome(
                    CheckStatus.PASS,
                    f"Registered for MFA ({methods}); fine for OAuth sign-in.",
                )
            return Outcome(
                CheckStatus.WARN,
                f"Registered for MFA ({methods}). If MFA is enforced for this account, "
                "Basic SMTP AUTH fails; use OAuth or an account excluded from MFA.",
                "mfa_required",
            )
        return Outcome(CheckStatus.PASS, "Not registered for MFA.")


@dataclass(frozen=True)
class SignedInUser:
    """The signed-in user as ``/me`` returns it."""

    id: str
    user_principal_name: str
    display_name: str


async def me(
    session: aiohttp.ClientSession,
    token_provider: TokenProvider,
    *,
    graph_url: str = DEFAULT_GRAPH_URL,
) -> SignedInUser:
    """Read the signed-in user (``GET /me``).

    Args:
        session: The HTTP session.
        token_provider: Supplies the Graph token.
        graph_url: Graph base URL.

    Returns:
        The user's id, UPN and display name.

    Raises:
        GraphError: Graph refused or could not be reached.
    """
    body = await GraphClient(session, token_provider).get(
        build_url(graph_url, "/me", {"$select": "id,userPrincipalName,displayName"})
    )
    return SignedInUser(
        id=str(body.get("id", "")),
        user_principal_name=str(body.get("userPrincipalName", "")),
        display_name=str(body.get("displayName", "")),
    )


async def verified_domains(
    session: aiohttp.ClientSession,
    token_provider: TokenProvider,
    *,
    graph_url: str = DEFAULT_GRAPH_URL,
    tenant_id: str | None = None,
) -> tuple[str, ...]:
    """Read the tenant's verified domains (``GET /organization``).

    Args:
        session: The HTTP session.
        token_provider: Supplies the Graph token.
        graph_url: Graph base URL.
        tenant_id: When given, the organisation's id must match it.

    Returns:
        The verified domain names, lower-cased.

    Raises:
        GraphError: Graph refused or could not be reached.
        TenantIsolationError: The organisation is not ``tenant_id``.
    """
    body = await GraphClient(session, token_provider).get(
        build_url(graph_url, "/organization", {"$select": "id,verifiedDomains"})
    )
    domains: list[str] = []
    for org in body.get("value", []):
        if tenant_id and str(org.get("id", "")).lower() != tenant_id.lower():
            raise TenantIsolationError(
                "Graph answered for a different organisation than the signed-in tenant."
            )
        domains.extend(
            str(d["name"]).lower() for d in org.get("verifiedDomains") or [] if d.get("name")
        )
    return tuple(domains)
