"""Checks that read the tenant through Microsoft Graph (delegated permissions).

Endpoints, permissions and fields follow Microsoft's Graph documentation
(summarised in the project's domain notes, "Live checks"), in every
documented variant: a property bare or wrapped as ``{"value": …}``, an entity
bare or wrapped, unknown fields ignored, and a missing field reported as
"couldn't tell", never as a failure. Graph answers errors as
``{"error": {"code", "message"}}``; the client turns them into
:class:`GraphError`, retries a 429 once when its ``Retry-After`` still fits
in the check's time budget, and shares one answer between the checks of a run
that ask for the same URL.
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
    SIGN_IN_WINDOW_DAYS,
    BaseCheck,
    CheckContext,
    Endpoints,
    Outcome,
    ServiceError,
    SharedRequests,
    TenantIsolationError,
    TokenProvider,
    as_bool,
    as_text,
    as_texts,
    certificate_problem,
    entity_of,
    host_of,
    redact,
    shorten,
)
from dialogs.live.results import CheckStatus

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = Endpoints().graph_url
#: App id of "Office 365 Exchange Online", the resource Authenticated SMTP signs in to.
EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
#: The ``clientAppUsed`` of a password (Basic) SMTP AUTH sign-in.
AUTHENTICATED_SMTP = "Authenticated SMTP"
NON_PREMIUM_CODE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"

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


class GraphError(ServiceError):
    """Microsoft Graph answered with an error (or could not be reached, status 0)."""

    service = "graph"


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
        url += "?" + urlencode(params, quote_via=quote, safe="$,'()@:")
    return url


class GraphClient:
    """A thin Graph GET client around an injected session and token provider.

    One client serves one check run: concurrent checks asking for the same URL
    share a single request (and its answer, or its error).
    """

    def __init__(self, session: aiohttp.ClientSession, token_provider: TokenProvider) -> None:
        """Create the client.

        Args:
            session: The shared HTTP session (owned by the caller).
            token_provider: Returns a delegated Graph token for ``GRAPH_SCOPE``.
        """
        self._session = session
        self._tokens = token_provider
        self._answers = SharedRequests()

    async def get(self, url: str, *, deadline: float | None = None) -> dict[str, Any]:
        """GET a Graph URL and return its JSON body (shared within the run).

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
        return await self._answers.get(url, deadline, lambda d: self._get(url, d))

    async def _get(self, url: str, deadline: float | None) -> dict[str, Any]:
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
            values = page.get("value")
            if isinstance(values, list):
                items.extend(v for v in values if isinstance(v, dict))
            link = page.get("@odata.nextLink")
            next_url = link if isinstance(link, str) else None
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
            raise GraphError(0, "Timeout", "no answer in time") from exc
        except aiohttp.ClientError as exc:
            problem = certificate_problem(exc)
            if problem:
                raise GraphError(
                    0, "CertificateError", problem, certificate=True, host=host_of(url)
                ) from exc
            # The exception text can carry the URL but never headers, so it is safe.
            raise GraphError(0, "ConnectionError", type(exc).__name__) from exc


def _path(url: str) -> str:
    # Only the path is logged: query strings carry addresses, which logs don't need.
    return urlsplit(url).path


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
            SKIPPED for a tenant without Entra ID P1, otherwise UNKNOWN.
        """
        if err.code == NON_PREMIUM_CODE:
            return Outcome(CheckStatus.SKIPPED, "not_on_plan", {}, self.cause_id, err.code)
        return err.outcome(self.permission, self.cause_id)

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
        found = as_text(body.get("id"))
        if not found:
            raise GraphError(200, "NoId", "the user's id was not in the answer")
        return found

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


# ------------------------------------------------------------------------------ licence
class LicenseCheck(GraphCheck):
    """Does the mailbox's user have a provisioned Exchange Online service plan?"""

    check_id = "license"
    cause_id = "no_exchange_license"
    permission = "User.Read.All"

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
        sku_name = as_text(sku.get("skuPartNumber")) or as_text(sku.get("skuId")) or "?"
        sku_names.append(sku_name)
        plans = sku.get("servicePlans")
        for plan in plans if isinstance(plans, list) else []:
            if not isinstance(plan, Mapping):
                continue
            name = as_text(plan.get("servicePlanName")) or ""
            state = as_text(plan.get("provisioningStatus")) or ""
            label = f"{name} in {sku_name}"
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
                    found["Disabled"].append(f"{label} ({state or '?'})")
    if found["Success"]:
        return Outcome(CheckStatus.PASS, "license.active", {"plans": ", ".join(found["Success"])})
    if found["Pending"]:
        return Outcome(
            CheckStatus.WARN,
            "license.pending",
            {"plans": ", ".join(found["Pending"])},
            "no_exchange_license",
        )
    if found["Disabled"]:
        return Outcome(
            CheckStatus.FAIL,
            "license.disabled",
            {"plans": ", ".join(found["Disabled"])},
            "no_exchange_license",
        )
    if foundation:
        return Outcome(
            CheckStatus.FAIL,
            "license.foundation_only",
            {"plans": ", ".join(foundation)},
            "no_exchange_license",
        )
    skus_text = ", ".join(sku_names) if sku_names else "no licences at all"
    return Outcome(CheckStatus.FAIL, "license.none", {"skus": skus_text}, "no_exchange_license")


# ------------------------------------------------------------------------------ account
class AccountEnabledCheck(GraphCheck):
    """Is the mailbox's user allowed to sign in at all?"""

    check_id = "account_enabled"
    cause_id = "account_blocked"
    permission = "User.Read.All"

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read ``accountEnabled`` of the mailbox's user.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            PASS when enabled, FAIL when sign-in is blocked, UNKNOWN when not said.
        """
        body = await self.graph.get(
            self.url(
                context,
                f"/users/{context.mailbox_ref}",
                {"$select": "accountEnabled,userPrincipalName"},
            ),
            deadline=deadline,
        )
        upn = as_text(body.get("userPrincipalName")) or context.mailbox_upn
        enabled = as_bool(body.get("accountEnabled"))
        if enabled is False:
            return Outcome(
                CheckStatus.FAIL, "account.blocked", {"upn": upn, "enabled": "false"},
                "account_blocked",
            )
        if enabled is True:
            return Outcome(CheckStatus.PASS, "account.enabled", {"upn": upn, "enabled": "true"})
        return Outcome(CheckStatus.UNKNOWN, "account.unknown", {"upn": upn})


# --------------------------------------------------------------------- security defaults
class SecurityDefaultsCheck(GraphCheck):
    """Security defaults block every legacy sign-in, Basic SMTP AUTH included."""

    check_id = "security_defaults"
    cause_id = "security_defaults"
    permission = "Policy.Read.All"

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read ``identitySecurityDefaultsEnforcementPolicy.isEnabled``.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            FAIL when on (PASS when the app uses OAuth, which they don't block).
        """
        body = await self.graph.get(
            self.url(context, "/policies/identitySecurityDefaultsEnforcementPolicy"),
            deadline=deadline,
        )
        enabled = as_bool(entity_of(body, marker="isEnabled").get("isEnabled"))
        if enabled is True:
            if context.auth_method == "oauth":
                return Outcome(CheckStatus.PASS, "security_defaults.on_oauth", {"on": "true"})
            return Outcome(
                CheckStatus.FAIL, "security_defaults.on", {"on": "true"}, "security_defaults"
            )
        if enabled is False:
            return Outcome(CheckStatus.PASS, "security_defaults.off", {"on": "false"})
        return Outcome(CheckStatus.UNKNOWN, "security_defaults.unknown")


# -------------------------------------------------------------------- Conditional Access
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
        """The policy's name for a finding, quoted.

        Returns:
            e.g. "'Block legacy authentication'".
        """
        return f"'{self.name}'"


def _section(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _needs_membership(policy: Mapping[str, Any]) -> bool:
    users = _section(_section(policy, "conditions"), "users")
    return any(
        as_texts(users.get(k)) for k in ("includeGroups", "excludeGroups", "includeRoles",
                                         "excludeRoles")
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
    state = as_text(policy.get("state"))
    if state not in ("enabled", "enabledForReportingButNotEnforced"):
        return None
    conditions = _section(policy, "conditions")
    if not set(as_texts(conditions.get("clientAppTypes"))) & SMTP_CLIENT_APP_TYPES:
        return None
    apps = _section(conditions, "applications")
    if not set(as_texts(apps.get("includeApplications"))) & _SMTP_APPS:
        return None
    if set(as_texts(apps.get("excludeApplications"))) & (_SMTP_APPS - {"All"}):
        return None

    users = _section(conditions, "users")
    certain = True
    if user_id in as_texts(users.get("excludeUsers")):
        return None
    excluded_via = set(as_texts(users.get("excludeGroups"))) | set(
        as_texts(users.get("excludeRoles"))
    )
    if excluded_via:
        if memberships is None:
            certain = False
        elif excluded_via & memberships:
            return None
    include_users = set(as_texts(users.get("includeUsers")))
    included_via = set(as_texts(users.get("includeGroups"))) | set(
        as_texts(users.get("includeRoles"))
    )
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

    grant = _section(policy, "grantControls")
    controls = set(as_texts(grant.get("builtInControls")))
    if "block" in controls:
        effect = "blocks"
    elif controls & _UNSATISFIABLE or grant.get("authenticationStrength"):
        needed = sorted(controls & _UNSATISFIABLE) or ["an authentication strength"]
        effect = "requires " + " or ".join(needed)
    else:
        return None
    return PolicyVerdict(
        name=as_text(policy.get("displayName")) or as_text(policy.get("id")) or "?",
        effect=effect,
        certain=certain,
        report_only=state == "enabledForReportingButNotEnforced",
    )


class ConditionalAccessCheck(GraphCheck):
    """Does an enabled Conditional Access policy block legacy SMTP for the user?"""

    check_id = "conditional_access"
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
        detail = "; ".join(f"{v.name}: {v.effect}" for v in verdicts)
        if enforced:
            names = ", ".join(v.describe() for v in enforced)
            return Outcome(
                CheckStatus.FAIL, "ca.blocks", {"policies": shorten(names, 200)},
                "conditional_access", detail,
            )
        if verdicts:
            names = ", ".join(v.describe() for v in verdicts)
            return Outcome(
                CheckStatus.WARN, "ca.may_block", {"policies": shorten(names, 200)},
                "conditional_access", detail,
            )
        active = sum(1 for p in policies if as_text(p.get("state")) == "enabled")
        return Outcome(CheckStatus.PASS, "ca.none", {"count": len(policies), "active": active})

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


# ---------------------------------------------------------------------------- sign-ins
def smtp_sign_ins_url(context: CheckContext) -> str:
    """The v1.0 sign-in log query for the mailbox's password SMTP sign-ins in the window.

    The recent-failures check and the December 2026 readiness read the same
    page, so the run's Graph client fetches it once.

    Args:
        context: Supplies the mailbox, the window and the endpoint.

    Returns:
        The URL.
    """
    since = context.window_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    flt = (
        f"clientAppUsed eq {odata_quote(AUTHENTICATED_SMTP)} and userPrincipalName eq "
        f"{odata_quote(context.mailbox_upn)} and createdDateTime ge {since}"
    )
    return build_url(
        context.endpoints.graph_url, "/auditLogs/signIns", {"$filter": flt, "$top": "500"}
    )


def error_code_of(sign_in: Mapping[str, Any]) -> str:
    """A sign-in's ``status.errorCode`` as text ("0" = success; "?" when missing).

    Args:
        sign_in: A ``signIn`` object.

    Returns:
        The code.
    """
    status = sign_in.get("status")
    code = status.get("errorCode") if isinstance(status, Mapping) else None
    return "?" if code is None or code == "" else str(code).strip()


class SignInsCheck(GraphCheck):
    """What did Entra say about recent Authenticated SMTP sign-ins of the mailbox?"""

    check_id = "smtp_sign_ins"
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
        """Read the window's Authenticated SMTP sign-ins and explain the newest failure.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            PASS when the latest attempt succeeded or there is none; FAIL with
            the mapped cause when it failed.
        """
        sign_ins = await self.graph.get_all(smtp_sign_ins_url(context), deadline=deadline)
        days = SIGN_IN_WINDOW_DAYS
        # Graph returns newest first; sort anyway so a reordered page can't mislead.
        sign_ins.sort(key=lambda s: str(s.get("createdDateTime", "")), reverse=True)
        if not sign_ins:
            return Outcome(CheckStatus.PASS, "sign_ins.none", {"days": days, "total": 0})
        failures = [s for s in sign_ins if error_code_of(s) not in ("0", "?")]
        latest = sign_ins[0]
        when = as_text(latest.get("createdDateTime")) or "?"
        code = error_code_of(latest)
        if code == "0":
            if failures:
                return Outcome(
                    CheckStatus.PASS, "sign_ins.latest_ok_after_failures",
                    {"when": when, "failed": len(failures), "total": len(sign_ins), "days": days},
                )
            return Outcome(
                CheckStatus.PASS, "sign_ins.latest_ok",
                {"when": when, "total": len(sign_ins), "days": days},
            )
        if code == "?":
            return Outcome(CheckStatus.UNKNOWN, "sign_ins.failed", {"when": when, "days": days})
        cause = self.map_error(code) or "unknown"
        status = latest.get("status")
        reason = as_text(status.get("failureReason")) if isinstance(status, Mapping) else None
        applied = latest.get("appliedConditionalAccessPolicies")
        blocked_by = [
            as_text(p.get("displayName")) or "?"
            for p in applied if isinstance(p, Mapping) and as_text(p.get("result")) == "failure"
        ] if isinstance(applied, list) else []
        facts = {
            "when": when, "code": code, "reason": shorten(reason or "", 160),
            "failed": len(failures), "total": len(sign_ins), "days": days,
            "policies": ", ".join(f"'{n}'" for n in blocked_by),
        }
        return Outcome(CheckStatus.FAIL, "sign_ins.failed", facts, cause)


# ---------------------------------------------------------------------------- per-user MFA
class MfaCheck(GraphCheck):
    """Is MFA *enforced* for the mailbox's user (per-user MFA), which password SMTP can't answer?

    Being registered for MFA is not enforcement: security defaults and
    Conditional Access have their own rows. This reads the per-user MFA state
    (Graph beta ``authentication/requirements``) and, as context only, the
    registration report (bare or wrapped in ``value``, as Microsoft documents it).
    """

    check_id = "mfa"
    cause_id = "mfa_required"
    permission = "Policy.Read.All"

    async def read(self, context: CheckContext, deadline: float) -> Outcome:
        """Read the per-user MFA state and the registration.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            FAIL/WARN only when MFA is enforced (or about to be) for a password
            sign-in; PASS when off; UNKNOWN when the state can't be read.
        """
        user_id = await self.mailbox_object_id(context, deadline)
        beta = context.endpoints.graph_beta_url
        state_task = self.graph.get(
            build_url(beta, f"/users/{user_id}/authentication/requirements"), deadline=deadline
        )
        registration_task = self.graph.get(
            self.url(context, f"/reports/authenticationMethods/userRegistrationDetails/{user_id}"),
            deadline=deadline,
        )
        answers: tuple[dict[str, Any] | BaseException, ...] = await asyncio.gather(
            state_task, registration_task, return_exceptions=True
        )
        state_result, registration = answers
        registered = "?"
        if isinstance(registration, dict):
            entity = entity_of(registration, marker="isMfaRegistered")
            value = as_bool(entity.get("isMfaRegistered"))
            registered = "?" if value is None else ("yes" if value else "no")
        if isinstance(state_result, BaseException):
            if not isinstance(state_result, GraphError):
                raise state_result
            reason = state_result.code
            return Outcome(
                CheckStatus.UNKNOWN, "mfa.unknown",
                {"reason": reason, "registered": registered}, "mfa_required",
                f"{state_result.status} {state_result.code}: {state_result.message}",
            )
        entity = entity_of(state_result, marker="perUserMfaState")
        state = (as_text(entity.get("perUserMfaState")) or "").lower()
        facts = {"state": state or "?", "registered": registered}
        if state == "enforced":
            if context.auth_method == "oauth":
                return Outcome(CheckStatus.PASS, "mfa.enforced_oauth", facts)
            if context.auth_method == "basic":
                return Outcome(CheckStatus.FAIL, "mfa.enforced_password", facts, "mfa_required")
            return Outcome(CheckStatus.WARN, "mfa.enforced", facts, "mfa_required")
        if state == "enabled":
            if context.auth_method == "oauth":
                return Outcome(CheckStatus.PASS, "mfa.enforced_oauth", facts)
            return Outcome(CheckStatus.WARN, "mfa.enabled", facts, "mfa_required")
        if state == "disabled":
            return Outcome(CheckStatus.PASS, "mfa.off", facts)
        return Outcome(
            CheckStatus.UNKNOWN, "mfa.unknown", {**facts, "reason": "no state in the answer"},
            "mfa_required",
        )


# ------------------------------------------------------------------------ preflight reads
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
        id=as_text(body.get("id")) or "",
        user_principal_name=as_text(body.get("userPrincipalName")) or "",
        display_name=as_text(body.get("displayName")) or "",
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
    orgs = body.get("value")
    for org in orgs if isinstance(orgs, list) else []:
        if not isinstance(org, Mapping):
            continue
        if tenant_id and (as_text(org.get("id")) or "").lower() != tenant_id.lower():
            raise TenantIsolationError(
                "Graph answered for a different organisation than the signed-in tenant."
            )
        listed = org.get("verifiedDomains")
        for domain in listed if isinstance(listed, list) else []:
            name = as_text(domain.get("name")) if isinstance(domain, Mapping) else None
            if name:
                domains.append(name.lower())
    return tuple(domains)


@dataclass(frozen=True)
class MailboxUser:
    """The user behind a sending address, as Graph finds it."""

    id: str
    user_principal_name: str


async def find_mailbox_user(
    session: aiohttp.ClientSession,
    token_provider: TokenProvider,
    address: str,
    *,
    graph_url: str = DEFAULT_GRAPH_URL,
) -> MailboxUser | None:
    """Find the user of a sending address: by UPN first, then by primary mail address.

    Args:
        session: The HTTP session.
        token_provider: Supplies the Graph token.
        address: The sending address the customer gave.
        graph_url: Graph base URL.

    Returns:
        The user, or None when no user has that address (a 404, then no match).

    Raises:
        GraphError: Graph refused (e.g. no User.Read.All) or could not be reached.
    """
    graph = GraphClient(session, token_provider)
    select = {"$select": "id,userPrincipalName,mail"}
    try:
        body = await graph.get(build_url(graph_url, f"/users/{address}", select))
        found = as_text(body.get("id"))
        if found:
            return MailboxUser(found, as_text(body.get("userPrincipalName")) or address)
    except GraphError as err:
        if err.status != 404:
            raise
    # A shared mailbox or an alias can be addressed by its mail, not its UPN.
    params = {"$filter": f"mail eq {odata_quote(address)}", **select}
    matches = await graph.get_all(build_url(graph_url, "/users", params), max_pages=1)
    for user in matches:
        user_id, upn = as_text(user.get("id")), as_text(user.get("userPrincipalName"))
        if user_id and upn:
            return MailboxUser(user_id, upn)
    return None

