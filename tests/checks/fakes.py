"""Local stand-ins for Microsoft Graph, the Exchange admin endpoint and SMTP.

Real servers on 127.0.0.1, driven by one :class:`TenantScenario`, so the
checks are exercised over real sockets, HTTP and TLS, never through patched
functions. Bodies follow Microsoft's documentation (Graph resource shapes,
``{"error": {"code", "message", "innerError"}}`` errors, 429 with
``Retry-After``); the SMTP server answers with Exchange Online's exact reply
strings. The bot's tests reuse these, so everything is scenario-driven:

    from tests.checks.fakes import FakeTenant, TenantScenario

    async with FakeTenant(TenantScenario.for_cause("conditional_access")) as tenant:
        async with aiohttp.ClientSession() as session:
            results = await collect(tenant.context(), tenant.checks(session),
                                    token_tenant_id=tenant.scenario.tenant_id)

Endpoint names used by ``delays``, ``throttle`` and ``forbidden``: me,
organization, user, licenseDetails, mailboxSettings, memberOf,
securityDefaults, conditionalAccess, signIns, registrationDetails,
exchange, smtp.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import ipaddress
import json
import secrets
import ssl
import tempfile
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from checks import (
    EXCHANGE_SCOPE,
    GRAPH_SCOPE,
    SMTP_SCOPE,
    CheckContext,
    CheckResult,
    Endpoints,
    TokenUnavailable,
    default_checks,
)
from checks.base import Check

# --------------------------------------------------------------------------- TLS


@dataclass
class TlsMaterial:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost."""

    ca_pem: bytes
    cert_path: Path
    key_path: Path
    _tmp: tempfile.TemporaryDirectory[str] = field(repr=False)

    @classmethod
    def generate(cls) -> TlsMaterial:
        """Generate a CA and a server certificate signed by it (EC P-256, fast).

        Returns:
            The material; files live in a temporary directory until :meth:`cleanup`.
        """
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake Test CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        tmp = tempfile.TemporaryDirectory(prefix="fake-tls-")
        cert_path = Path(tmp.name, "server.pem")
        key_path = Path(tmp.name, "server.key")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cls(ca_cert.public_bytes(serialization.Encoding.PEM), cert_path, key_path, tmp)

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the fake CA (the probe's factory).

        Returns:
            A new client context.
        """
        return ssl.create_default_context(cadata=self.ca_pem.decode())

    def server_context(self, *, legacy_only: bool = False) -> ssl.SSLContext:
        """The SMTP server's context.

        Args:
            legacy_only: Offer only TLS 1.0/1.1, like a client-side stack
                Exchange Online refuses; a TLS 1.2+ client can't connect.

        Returns:
            A new server context.
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_path, self.key_path)
        if legacy_only:
            # Deliberately obsolete (that is the scenario), so Python's warning is noise here.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        return ctx

    def cleanup(self) -> None:
        """Delete the certificate files."""
        self._tmp.cleanup()


# ------------------------------------------------------------------------ tokens


class FakeTokenProvider:
    """A token provider handing out JWT-shaped tokens, one per scope.

    The fake servers accept exactly these tokens, so a check that sent the
    wrong token (or none) is caught. Every token ends in a random signature,
    which makes "the token appears nowhere" scans meaningful.
    """

    def __init__(self, tenant_id: str, upn: str, *, refuse: Iterable[str] = ()) -> None:
        """Create the provider.

        Args:
            tenant_id: Goes into the ``tid`` claim.
            upn: The signed-in user, for the ``upn`` claim.
            refuse: Scopes for which ``TokenUnavailable`` is raised.
        """
        self.refuse = set(refuse)
        self.calls: list[str] = []
        self.tokens: dict[str, str] = {}
        for scope in (GRAPH_SCOPE, EXCHANGE_SCOPE, SMTP_SCOPE):
            header = {"typ": "JWT", "alg": "RS256", "kid": "fake"}
            claims = {"aud": scope.rsplit("/", 1)[0], "tid": tenant_id, "upn": upn, "scp": scope}
            self.tokens[scope] = ".".join(
                [_b64url(header), _b64url(claims), secrets.token_urlsafe(32)]
            )

    async def __call__(self, scope: str) -> str:
        """Return the token for ``scope``.

        Args:
            scope: One of the ``*_SCOPE`` constants.

        Returns:
            The token.

        Raises:
            TokenUnavailable: The scope is refused or unknown.
        """
        self.calls.append(scope)
        if scope in self.refuse or scope not in self.tokens:
            raise TokenUnavailable(f"consent for {scope} was not granted")
        return self.tokens[scope]

    def is_valid(self, authorization: str | None, scope: str) -> bool:
        """Check an ``Authorization`` header against the token issued for ``scope``.

        Args:
            authorization: The header value.
            scope: The scope the endpoint requires.

        Returns:
            True for ``Bearer <the token for scope>``.
        """
        return authorization == f"Bearer {self.tokens[scope]}"

    def all_secrets(self) -> list[str]:
        """Every token and token signature, for leak scans.

        Returns:
            The strings that must never appear in output.
        """
        return [*self.tokens.values(), *(t.rsplit(".", 1)[1] for t in self.tokens.values())]


def _b64url(obj: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


# ---------------------------------------------------------------------- scenario

EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"

# SMTP behaviours (TenantScenario.smtp)
SMTP_ACCEPT = "accept"
SMTP_TENANT_DISABLED = "tenant_disabled"
SMTP_MAILBOX_DISABLED = "mailbox_disabled"
SMTP_BAD_TOKEN = "bad_token"
SMTP_TLS_LEGACY_ONLY = "tls_legacy_only"
SMTP_TLS_421 = "tls_421"
SMTP_NO_STARTTLS = "no_starttls"
SMTP_NO_AUTH = "no_auth"

# Exchange Online's reply strings (domain.md §2); the [...] tail is the server/trace id.
_TRACE = "[AM0PR06MB6545.eurprd06.prod.outlook.com 2026-11-28T20:15:04.123Z 08DE2C5B7A1F3D44]"
REPLY_AUTH_OK = "235 2.7.0 Authentication successful"
REPLY_TENANT_DISABLED = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
    f"Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. {_TRACE}"
)
REPLY_MAILBOX_DISABLED = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
    f"Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information. {_TRACE}"
)
REPLY_BAD_TOKEN = f"535 5.7.3 Authentication unsuccessful {_TRACE}"
REPLY_TLS_421 = (
    "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to "
    "support TLS 1.2. Visit https://aka.ms/smtp_auth_tls"
)


def license_sku(sku: str, plans: Mapping[str, str]) -> dict[str, Any]:
    """A ``licenseDetails`` item.

    Args:
        sku: ``skuPartNumber``, e.g. "O365_BUSINESS_ESSENTIALS".
        plans: servicePlanName -> provisioningStatus.

    Returns:
        The item as Graph returns it.
    """
    return {
        "id": secrets.token_urlsafe(24),
        "skuId": str(uuid.uuid5(uuid.NAMESPACE_OID, sku)),
        "skuPartNumber": sku,
        "servicePlans": [
            {
                "servicePlanId": str(uuid.uuid5(uuid.NAMESPACE_OID, name)),
                "servicePlanName": name,
                "provisioningStatus": status,
                "appliesTo": "User",
            }
            for name, status in plans.items()
        ],
    }


def ca_policy(
    name: str,
    *,
    state: str = "enabled",
    client_app_types: Iterable[str] = ("exchangeActiveSync", "other"),
    include_applications: Iterable[str] = ("All",),
    exclude_applications: Iterable[str] = (),
    include_users: Iterable[str] = ("All",),
    exclude_users: Iterable[str] = (),
    include_groups: Iterable[str] = (),
    exclude_groups: Iterable[str] = (),
    controls: Iterable[str] = ("block",),
    locations: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``conditionalAccessPolicy`` as Graph returns it (default: "block legacy auth").

    Args:
        name: ``displayName``.
        state: enabled, disabled or enabledForReportingButNotEnforced.
        client_app_types: ``conditions.clientAppTypes``.
        include_applications: ``conditions.applications.includeApplications``.
        exclude_applications: ``conditions.applications.excludeApplications``.
        include_users: ``conditions.users.includeUsers``.
        exclude_users: ``conditions.users.excludeUsers``.
        include_groups: ``conditions.users.includeGroups``.
        exclude_groups: ``conditions.users.excludeGroups``.
        controls: ``grantControls.builtInControls``.
        locations: ``conditions.locations``.

    Returns:
        The policy object.
    """
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_OID, name)),
        "templateId": None,
        "displayName": name,
        "createdDateTime": "2025-03-01T09:00:00.0000000Z",
        "modifiedDateTime": None,
        "state": state,
        "sessionControls": None,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "clientAppTypes": list(client_app_types),
            "platforms": None,
            "locations": dict(locations) if locations else None,
            "devices": None,
            "clientApplications": None,
            "applications": {
                "includeApplications": list(include_applications),
                "excludeApplications": list(exclude_applications),
                "includeUserActions": [],
                "includeAuthenticationContextClassReferences": [],
            },
            "users": {
                "includeUsers": list(include_users),
                "excludeUsers": list(exclude_users),
                "includeGroups": list(include_groups),
                "excludeGroups": list(exclude_groups),
                "includeRoles": [],
                "excludeRoles": [],
                "includeGuestsOrExternalUsers": None,
                "excludeGuestsOrExternalUsers": None,
            },
        },
        "grantControls": {
            "operator": "OR",
            "builtInControls": list(controls),
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength": None,
        },
    }


def smtp_sign_in(
    upn: str,
    error_code: int,
    failure_reason: str = "",
    *,
    when: str = "2026-11-28T08:00:00Z",
    policies: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A ``signIn`` of client app "Authenticated SMTP".

    Args:
        upn: ``userPrincipalName``.
        error_code: ``status.errorCode`` (0 = success).
        failure_reason: ``status.failureReason``.
        when: ``createdDateTime``.
        policies: (displayName, result) of ``appliedConditionalAccessPolicies``.

    Returns:
        The sign-in object.
    """
    applied = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, name)),
            "displayName": name,
            "enforcedGrantControls": ["Block"] if result == "failure" else [],
            "enforcedSessionControls": [],
            "result": result,
        }
        for name, result in policies
    ]
    return {
        "id": str(uuid.uuid4()),
        "createdDateTime": when,
        "userDisplayName": upn.split("@")[0],
        "userPrincipalName": upn,
        "userId": str(uuid.uuid5(uuid.NAMESPACE_OID, upn)),
        "appId": EXCHANGE_APP_ID,
        "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": "203.0.113.7",
        "clientAppUsed": "Authenticated SMTP",
        "correlationId": str(uuid.uuid4()),
        "conditionalAccessStatus": (
            "failure" if any(r == "failure" for _, r in policies) else "notApplied"
        ),
        "isInteractive": False,
        "riskState": "none",
        "status": {
            "errorCode": error_code,
            "failureReason": failure_reason or ("Other." if error_code else None),
            "additionalDetails": None,
        },
        "appliedConditionalAccessPolicies": applied,
    }


@dataclass
class TenantScenario:
    """Everything the fakes answer for one customer tenant.

    ``smtp=None`` derives the SMTP server's behaviour from the Exchange
    switches (mailbox ``True`` -> mailbox text; mailbox ``None`` and tenant
    ``True`` -> tenant text; no mailbox -> bad token; else accepted), so a
    scenario stays self-consistent; set it to force a behaviour.
    """

    tenant_id: str = "8f1c5a2e-0b7d-4c1e-9a55-3f2d6c7b9e10"
    domains: tuple[str, ...] = ("contoso.example", "contoso.onmicrosoft.com")
    admin_upn: str = "admin@contoso.example"
    admin_id: str = "4c1d2e3f-1111-4aaa-8bbb-000000000001"
    mailbox_upn: str = "tms@contoso.example"
    mailbox_id: str = "9a8b7c6d-2222-4ccc-8ddd-000000000002"
    account_enabled: bool = True
    licenses: list[dict[str, Any]] = field(
        default_factory=lambda: [
            license_sku(
                "O365_BUSINESS_ESSENTIALS",
                {"EXCHANGE_S_STANDARD": "Success", "MCOSTANDARD": "Success"},
            )
        ]
    )
    user_purpose: str | None = "user"  # None: MailboxNotEnabledForRESTAPI
    security_defaults: bool = False
    ca_policies: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)  # transitiveMemberOf items
    sign_ins: list[dict[str, Any]] = field(default_factory=list)
    mfa_registered: bool = False
    premium: bool = True  # Entra ID P1: sign-in logs and registration reports
    transport_smtp_auth_disabled: bool | None = False
    cas_smtp_auth_disabled: bool | None = None
    exchange_error: int | None = None  # answer every InvokeCommand with this status
    smtp: str | None = None
    delays: dict[str, float] = field(default_factory=dict)
    throttle: dict[str, int] = field(default_factory=dict)  # endpoint -> 429s before success
    retry_after: str = "1"
    forbidden: dict[str, str] = field(default_factory=dict)  # endpoint -> 403 error code
    page_size: int = 100  # collection pages; smaller values exercise @odata.nextLink
    echo_token_in_errors: bool = False  # a careless server: errors quote the bearer token

    def smtp_behaviour(self) -> str:
        """The SMTP behaviour, derived from the switches unless set explicitly.

        Returns:
            One of the ``SMTP_*`` constants.
        """
        if self.smtp:
            return self.smtp
        if self.user_purpose is None:
            return SMTP_BAD_TOKEN
        if self.cas_smtp_auth_disabled is True:
            return SMTP_MAILBOX_DISABLED
        if self.cas_smtp_auth_disabled is None and self.transport_smtp_auth_disabled:
            return SMTP_TENANT_DISABLED
        return SMTP_ACCEPT

    def with_(self, **changes: Any) -> TenantScenario:
        """A copy with some fields changed.

        Args:
            **changes: Field values.

        Returns:
            The new scenario.
        """
        return replace(self, **changes)

    @classmethod
    def healthy(cls) -> TenantScenario:
        """A tenant where everything lets the mailbox send.

        Returns:
            The scenario.
        """
        return cls()

    @classmethod
    def for_cause(cls, cause_id: str) -> TenantScenario:
        """A tenant whose only problem is ``cause_id``.

        Args:
            cause_id: A key of :data:`CAUSE_SCENARIOS`.

        Returns:
            The scenario.
        """
        return CAUSE_SCENARIOS[cause_id](cls())


def _no_license(s: TenantScenario) -> TenantScenario:
    return s.with_(
        licenses=[
            license_sku(
                "POWER_BI_STANDARD", {"EXCHANGE_S_FOUNDATION": "Success", "BI_AZURE_P0": "Success"}
            )
        ],
        user_purpose=None,
    )


CAUSE_SCENARIOS: dict[str, Callable[[TenantScenario], TenantScenario]] = {
    "no_exchange_license": _no_license,
    "unsupported_mailbox_type": lambda s: s.with_(user_purpose="room"),
    "account_blocked": lambda s: s.with_(
        account_enabled=False,
        sign_ins=[smtp_sign_in(s.mailbox_upn, 50057, "The user account is disabled.")],
    ),
    "security_defaults": lambda s: s.with_(security_defaults=True, premium=False),
    "conditional_access": lambda s: s.with_(
        ca_policies=[ca_policy("Block legacy authentication")],
        sign_ins=[
            smtp_sign_in(
                s.mailbox_upn,
                53003,
                "Access has been blocked by Conditional Access policies.",
                policies=[("Block legacy authentication", "failure")],
            )
        ],
    ),
    "mfa_required": lambda s: s.with_(
        mfa_registered=True,
        sign_ins=[
            smtp_sign_in(
                s.mailbox_upn,
                50076,
                "Due to a configuration change made by "
                "your administrator, you must use multi-factor authentication.",
            )
        ],
    ),
    "wrong_credentials": lambda s: s.with_(
        sign_ins=[
            smtp_sign_in(
                s.mailbox_upn,
                50126,
                "Error validating credentials due to invalid username or password.",
            )
        ],
    ),
    "smtp_auth_disabled_tenant": lambda s: s.with_(
        transport_smtp_auth_disabled=True, cas_smtp_auth_disabled=None
    ),
    "smtp_auth_disabled_mailbox": lambda s: s.with_(cas_smtp_auth_disabled=True),
    "oauth_token": lambda s: s.with_(smtp=SMTP_BAD_TOKEN),
    "tls_version": lambda s: s.with_(smtp=SMTP_TLS_LEGACY_ONLY),
    "starttls_required": lambda s: s.with_(smtp=SMTP_NO_STARTTLS),
    "wrong_endpoint": lambda s: s.with_(smtp=SMTP_NO_AUTH),
}

#: Which checks must FAIL (or WARN) naming the cause in each CAUSE_SCENARIOS tenant.
CAUSE_CHECKS: dict[str, tuple[str, ...]] = {
    "no_exchange_license": ("license", "mailbox_type"),
    "unsupported_mailbox_type": ("mailbox_type",),
    "account_blocked": ("account_enabled", "smtp_sign_ins"),
    "security_defaults": ("security_defaults",),
    "conditional_access": ("conditional_access", "smtp_sign_ins"),
    "mfa_required": ("mfa_registration", "smtp_sign_ins"),
    "wrong_credentials": ("smtp_sign_ins",),
    "smtp_auth_disabled_tenant": ("smtp_auth_switches", "smtp_probe"),
    "smtp_auth_disabled_mailbox": ("smtp_auth_switches", "smtp_probe"),
    "oauth_token": ("smtp_probe",),
    "tls_version": ("smtp_probe",),
    "starttls_required": ("smtp_probe",),
    "wrong_endpoint": ("smtp_probe",),
}


# ---------------------------------------------------------------------- HTTP fakes


@dataclass(frozen=True)
class RecordedRequest:
    """One request a fake HTTP server received (the Authorization header is not kept)."""

    endpoint: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


def graph_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    """A Graph error response: ``{"error": {"code", "message", "innerError"}}``.

    Args:
        status: HTTP status.
        code: ``error.code``.
        message: ``error.message``.
        **headers: Extra headers (``Retry_After`` becomes ``Retry-After``).

    Returns:
        The response.
    """
    request_id = str(uuid.uuid4())
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }
    }
    return web.json_response(
        body, status=status, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _FakeHttpServer:
    """Shared plumbing: start on an ephemeral port, record, delay, throttle, authorise."""

    scope: str = GRAPH_SCOPE

    def __init__(self, scenario: TenantScenario, tokens: FakeTokenProvider) -> None:
        self.scenario = scenario
        self.tokens = tokens
        self.requests: list[RecordedRequest] = []
        self._throttled: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.app = web.Application()

    def route(self, method: str, path: str, endpoint: str, handler: Handler) -> None:
        """Register a handler wrapped in the scenario's behaviour for ``endpoint``."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json() if request.can_read_body else None
            except ValueError:
                body = None
            self.requests.append(
                RecordedRequest(
                    endpoint,
                    request.method,
                    request.path,
                    dict(request.query),
                    {k: v for k, v in request.headers.items() if k.lower() != "authorization"},
                    body,
                )
            )
            if delay := self.scenario.delays.get(endpoint):
                await asyncio.sleep(delay)
            auth = request.headers.get("Authorization")
            if not self.tokens.is_valid(auth, self.scope):
                echo = f" ({auth})" if self.scenario.echo_token_in_errors else ""
                return self.unauthorized(f"Access token validation failure.{echo}")
            if self._throttled.get(endpoint, 0) < self.scenario.throttle.get(endpoint, 0):
                self._throttled[endpoint] = self._throttled.get(endpoint, 0) + 1
                return graph_error(
                    429,
                    "TooManyRequests",
                    "Too many requests.",
                    Retry_After=self.scenario.retry_after,
                )
            if code := self.scenario.forbidden.get(endpoint):
                echo = f" Token: {auth}" if self.scenario.echo_token_in_errors else ""
                return graph_error(
                    403, code, f"Insufficient privileges to complete the operation.{echo}"
                )
            return await handler(request)

        self.app.router.add_route(method, path, wrapped)

    def unauthorized(self, message: str) -> web.Response:
        """The 401 this service answers for a bad token."""
        return graph_error(401, "InvalidAuthenticationToken", message)

    def calls(self, endpoint: str) -> list[RecordedRequest]:
        """Requests received for one endpoint.

        Args:
            endpoint: The endpoint name.

        Returns:
            The recorded requests.
        """
        return [r for r in self.requests if r.endpoint == endpoint]

    async def start(self) -> None:
        """Listen on 127.0.0.1, on a free port."""
        # Cancel handlers whose client went away (a timed-out check) and don't wait
        # for delayed ones at shutdown: a scenario's delay must not slow teardown.
        self._runner = web.AppRunner(
            self.app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop the server."""
        if self._runner:
            await self._runner.cleanup()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"


class FakeGraph(_FakeHttpServer):
    """Answers the Graph v1.0 endpoints the checks read, from the scenario."""

    scope = GRAPH_SCOPE

    def __init__(self, scenario: TenantScenario, tokens: FakeTokenProvider) -> None:
        """Create the server (call :meth:`start`).

        Args:
            scenario: The tenant.
            tokens: Issues the only token accepted.
        """
        super().__init__(scenario, tokens)
        v = "/v1.0"
        self.route("GET", f"{v}/me", "me", self._me)
        self.route("GET", f"{v}/organization", "organization", self._organization)
        self.route("GET", f"{v}/users/{{user}}", "user", self._user)
        self.route("GET", f"{v}/users/{{user}}/licenseDetails", "licenseDetails", self._licenses)
        self.route("GET", f"{v}/users/{{user}}/mailboxSettings", "mailboxSettings", self._mbx)
        self.route("GET", f"{v}/users/{{user}}/transitiveMemberOf", "memberOf", self._member_of)
        self.route(
            "GET",
            f"{v}/policies/identitySecurityDefaultsEnforcementPolicy",
            "securityDefaults",
            self._security_defaults,
        )
        self.route("GET", f"{v}/identity/conditionalAccess/policies", "conditionalAccess", self._ca)
        self.route("GET", f"{v}/auditLogs/signIns", "signIns", self._sign_ins)
        self.route(
            "GET",
            f"{v}/reports/authenticationMethods/userRegistrationDetails/{{user}}",
            "registrationDetails",
            self._registration,
        )

    @property
    def url(self) -> str:
        """The Graph base URL to put in ``Endpoints.graph_url``."""
        return f"{self.origin}/v1.0"

    def _ctx(self, what: str) -> str:
        return f"https://graph.microsoft.com/v1.0/$metadata#{what}"

    def _find_user(self, ref: str) -> tuple[str, str] | None:
        s = self.scenario
        for upn, oid in ((s.mailbox_upn, s.mailbox_id), (s.admin_upn, s.admin_id)):
            if ref.lower() in (upn.lower(), oid.lower()):
                return upn, oid
        return None

    def _not_found(self, ref: str) -> web.Response:
        return graph_error(
            404,
            "Request_ResourceNotFound",
            f"Resource '{ref}' does not exist or one of its queried reference-property objects "
            "are not present.",
        )

    def _not_premium(self) -> web.Response:
        return graph_error(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        )

    def _page(self, request: web.Request, items: list[dict[str, Any]], what: str) -> web.Response:
        start = int(request.query.get("$skiptoken", "0"))
        size = self.scenario.page_size
        body: dict[str, Any] = {
            "@odata.context": self._ctx(what),
            "value": items[start : start + size],
        }
        if start + size < len(items):
            body["@odata.nextLink"] = str(
                request.url.with_query({**request.query, "$skiptoken": str(start + size)})
            )
        return web.json_response(body)

    async def _me(self, request: web.Request) -> web.Response:
        s = self.scenario
        return web.json_response(
            {
                "@odata.context": self._ctx("users(id,userPrincipalName,displayName)/$entity"),
                "id": s.admin_id,
                "userPrincipalName": s.admin_upn,
                "displayName": "Contoso Admin",
            }
        )

    async def _organization(self, request: web.Request) -> web.Response:
        s = self.scenario
        domains = [
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": i == 0,
                "isInitial": d.endswith(".onmicrosoft.com"),
                "name": d,
                "type": "Managed",
            }
            for i, d in enumerate(s.domains)
        ]
        return web.json_response(
            {
                "@odata.context": self._ctx("organization(id,verifiedDomains)"),
                "value": [{"id": s.tenant_id, "verifiedDomains": domains}],
            }
        )

    async def _user(self, request: web.Request) -> web.Response:
        ref = request.match_info["user"]
        found = self._find_user(ref)
        if not found:
            return self._not_found(ref)
        upn, oid = found
        enabled = self.scenario.account_enabled if upn == self.scenario.mailbox_upn else True
        full = {
            "id": oid,
            "userPrincipalName": upn,
            "accountEnabled": enabled,
            "displayName": upn.split("@")[0],
        }
        select = request.query.get("$select")
        fields = select.split(",") if select else ["id", "userPrincipalName", "displayName"]
        body: dict[str, Any] = {"@odata.context": self._ctx(f"users({select or ''})/$entity")}
        body.update({k: full.get(k) for k in fields})
        return web.json_response(body)

    async def _licenses(self, request: web.Request) -> web.Response:
        ref = request.match_info["user"]
        found = self._find_user(ref)
        if not found:
            return self._not_found(ref)
        items = self.scenario.licenses if found[0] == self.scenario.mailbox_upn else []
        return self._page(request, items, f"users('{ref}')/licenseDetails")

    async def _mbx(self, request: web.Request) -> web.Response:
        ref = request.match_info["user"]
        if not self._find_user(ref):
            return self._not_found(ref)
        if self.scenario.user_purpose is None:
            return graph_error(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        return web.json_response(
            {
                "@odata.context": self._ctx(f"users('{ref}')/mailboxSettings(userPurpose)"),
                "userPurpose": self.scenario.user_purpose,
            }
        )

    async def _member_of(self, request: web.Request) -> web.Response:
        ref = request.match_info["user"]
        if not self._find_user(ref):
            return self._not_found(ref)
        return self._page(request, self.scenario.memberships, "directoryObjects")

    async def _security_defaults(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "@odata.context": self._ctx(
                    "policies/identitySecurityDefaultsEnforcementPolicy/$entity"
                ),
                "id": "00000000-0000-0000-0000-000000000005",
                "displayName": "Security Defaults",
                "description": "Security defaults is a set of basic identity security mechanisms "
                "recommended by Microsoft.",
                "isEnabled": self.scenario.security_defaults,
            }
        )

    async def _ca(self, request: web.Request) -> web.Response:
        return self._page(request, self.scenario.ca_policies, "identity/conditionalAccess/policies")

    async def _sign_ins(self, request: web.Request) -> web.Response:
        if not self.scenario.premium:
            return self._not_premium()
        flt = request.query.get("$filter", "")
        if "clientAppUsed eq 'Authenticated SMTP'" not in flt:
            return graph_error(400, "BadRequest", "This fake only answers Authenticated SMTP.")
        items = [
            s
            for s in self.scenario.sign_ins
            if f"userPrincipalName eq '{s['userPrincipalName']}'".lower() in flt.lower()
        ]
        items.sort(key=lambda s: s["createdDateTime"], reverse=True)
        top = int(request.query.get("$top", "1000"))
        return web.json_response(
            {"@odata.context": self._ctx("auditLogs/signIns"), "value": items[:top]}
        )

    async def _registration(self, request: web.Request) -> web.Response:
        if not self.scenario.premium:
            return self._not_premium()
        ref = request.match_info["user"]
        found = self._find_user(ref)
        # This report is keyed by object id only; a UPN is "not found".
        if not found or ref.lower() != found[1].lower():
            return self._not_found(ref)
        registered = self.scenario.mfa_registered and found[0] == self.scenario.mailbox_upn
        return web.json_response(
            {
                "@odata.context": self._ctx(
                    "reports/authenticationMethods/userRegistrationDetails/$entity"
                ),
                "id": found[1],
                "userPrincipalName": found[0],
                "userDisplayName": found[0].split("@")[0],
                "userType": "member",
                "isAdmin": found[0] == self.scenario.admin_upn,
                "isSsprRegistered": registered,
                "isSsprEnabled": False,
                "isSsprCapable": False,
                "isMfaRegistered": registered,
                "isMfaCapable": registered,
                "isPasswordlessCapable": False,
                "methodsRegistered": ["microsoftAuthenticatorPush", "mobilePhone"]
                if registered
                else [],
                "defaultMfaMethod": "microsoftAuthenticatorPush" if registered else "none",
                "lastUpdatedDateTime": "2026-11-27T10:00:00Z",
            }
        )


class FakeExchangeAdmin(_FakeHttpServer):
    """Answers ``POST /adminapi/beta/{tenantId}/InvokeCommand`` like the EXO V3 route."""

    scope = EXCHANGE_SCOPE

    def __init__(self, scenario: TenantScenario, tokens: FakeTokenProvider) -> None:
        """Create the server (call :meth:`start`).

        Args:
            scenario: The tenant.
            tokens: Issues the only token accepted.
        """
        super().__init__(scenario, tokens)
        self.route("POST", "/adminapi/beta/{tenant}/InvokeCommand", "exchange", self._invoke)

    @property
    def url(self) -> str:
        """The base URL to put in ``Endpoints.exchange_admin_url``."""
        return f"{self.origin}/adminapi/beta"

    def unauthorized(self, message: str) -> web.Response:
        """The 401 of the admin endpoint (a bearer challenge and an error body)."""
        return graph_error(401, "Unauthorized", message)

    async def _invoke(self, request: web.Request) -> web.Response:
        s = self.scenario
        if request.match_info["tenant"] != s.tenant_id:
            return graph_error(404, "NotFound", "Tenant not found.")
        if s.exchange_error:
            messages = {
                401: "The user is not authorized.",
                403: "The user isn't assigned to any management roles.",
                404: "The requested resource was not found.",
            }
            return graph_error(
                s.exchange_error,
                "Forbidden" if s.exchange_error == 403 else "Error",
                messages.get(s.exchange_error, "An internal server error occurred."),
            )
        body = await request.json()
        cmdlet_input = body.get("CmdletInput") or {}
        name = cmdlet_input.get("CmdletName")
        params = cmdlet_input.get("Parameters") or {}
        meta = {
            "@odata.context": f"https://outlook.office365.com/adminapi/beta/{s.tenant_id}/"
            "$metadata#Collection(Exchange.GenericHashTable)",
            "adminapi.warnings@odata.type": "#Collection(String)",
            "@adminapi.warnings": [],
        }
        if name == "Get-TransportConfig":
            row = {
                "Identity": "Transport Settings",
                "SmtpClientAuthenticationDisabled": s.transport_smtp_auth_disabled,
                "AllowLegacyTLSClients": False,
                "MaxSendSize": "35 MB (36,700,160 bytes)",
            }
            return web.json_response({**meta, "value": [row]})
        if name == "Get-CASMailbox":
            identity = str(params.get("Identity", ""))
            if identity.lower() not in (s.mailbox_upn.lower(), s.admin_upn.lower()):
                return graph_error(
                    404,
                    "ManagementObjectNotFoundException",
                    f"|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|"
                    f"The operation couldn't be performed because object '{identity}' couldn't "
                    "be found on 'AM0PR06A01DC001.EURPR06A001.PROD.OUTLOOK.COM'.",
                )
            disabled = (
                s.cas_smtp_auth_disabled if identity.lower() == s.mailbox_upn.lower() else None
            )
            row = {
                "Identity": identity.split("@")[0],
                "PrimarySmtpAddress": identity,
                "SmtpClientAuthenticationDisabled": disabled,
                "ImapEnabled": True,
            }
            return web.json_response({**meta, "value": [row]})
        return graph_error(400, "BadRequest", f"Cmdlet {name!r} is not available in this fake.")


# ---------------------------------------------------------------------- SMTP fake


class FakeSmtpServer:
    """A hand-written asyncio SMTP server speaking Exchange Online's replies.

    Attributes:
        commands: Every command line received; an AUTH line's payload is kept
            only decoded in ``auth_payloads``.
        auth_payloads: Decoded XOAUTH2 initial responses.
        mail_from_seen: True if any client ever sent MAIL FROM (must stay False).
        tls_versions: TLS versions negotiated.
        tls_failures: Handshake errors seen by the server.
    """

    def __init__(
        self, scenario: TenantScenario, tokens: FakeTokenProvider, tls: TlsMaterial
    ) -> None:
        """Create the server (call :meth:`start`).

        Args:
            scenario: The tenant; ``smtp_behaviour()`` decides the replies.
            tokens: Issues the only SMTP token accepted.
            tls: Certificate material.
        """
        self.scenario = scenario
        self.tokens = tokens
        self.tls = tls
        self.commands: list[str] = []
        self.auth_payloads: list[str] = []
        self.mail_from_seen = False
        self.connections = 0
        self.tls_versions: list[str] = []
        self.tls_failures: list[str] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        """Listen on 127.0.0.1, on a free port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop open sessions."""
        if self._server:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            await self._session(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.5)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        behaviour = self.scenario.smtp_behaviour()
        host = "AM0PR06CA0045.outlook.office365.com"

        async def send(*lines: str) -> None:
            writer.write("".join(f"{line}\r\n" for line in lines).encode())
            await writer.drain()

        if delay := self.scenario.delays.get("smtp"):
            await asyncio.sleep(delay)
        await send(
            f"220 {host} Microsoft ESMTP MAIL Service ready at "
            f"{dt.datetime.now(dt.UTC):%a, %d %b %Y %H:%M:%S} +0000 08DE2C5B7A1F3D44"
        )
        secure = False
        while True:
            raw = await reader.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            self.commands.append(
                "AUTH XOAUTH2 <payload>" if verb == "AUTH" and " " in line[5:] else line
            )
            if verb in ("EHLO", "HELO"):
                if secure and behaviour == SMTP_TLS_421:
                    await send(REPLY_TLS_421)
                    return
                ext = ["SIZE 157286400", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES"]
                if not secure and behaviour != SMTP_NO_STARTTLS:
                    ext.append("STARTTLS")
                if secure and behaviour != SMTP_NO_AUTH:
                    ext.append("AUTH LOGIN XOAUTH2")
                ext += ["8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8"]
                first = f"{host} Hello [127.0.0.1]"
                lines = [first, *ext]
                await send(*(f"250-{x}" for x in lines[:-1]), f"250 {lines[-1]}")
            elif verb == "STARTTLS" and not secure and behaviour != SMTP_NO_STARTTLS:
                await send("220 2.0.0 SMTP server ready")
                ctx = self.tls.server_context(legacy_only=behaviour == SMTP_TLS_LEGACY_ONLY)
                try:
                    await writer.start_tls(ctx)
                except (ssl.SSLError, ConnectionError, OSError) as exc:
                    self.tls_failures.append(type(exc).__name__)
                    return
                ssl_object = writer.get_extra_info("ssl_object")
                self.tls_versions.append(ssl_object.version() if ssl_object else "?")
                secure = True
            elif verb == "AUTH":
                await self._auth(line, secure, behaviour, send, reader)
            elif verb == "MAIL":
                self.mail_from_seen = True
                await send("530 5.7.57 Client not authenticated to send mail.")
            elif verb in ("NOOP", "RSET"):
                await send("250 2.0.0 OK")
            elif verb == "QUIT":
                await send("221 2.0.0 Service closing transmission channel")
                return
            else:
                await send("500 5.3.3 Unrecognized command")

    async def _auth(
        self,
        line: str,
        secure: bool,
        behaviour: str,
        send: Callable[..., Awaitable[None]],
        reader: asyncio.StreamReader,
    ) -> None:
        parts = line.split()
        mechanism = parts[1].upper() if len(parts) > 1 else ""
        if not secure or behaviour == SMTP_NO_AUTH or mechanism != "XOAUTH2":
            await send(f"504 5.7.4 Unrecognized authentication type {_TRACE}")
            return
        if len(parts) > 2:
            payload = parts[2]
        else:
            await send("334 ")
            payload = (await reader.readline()).decode().strip()
        try:
            decoded = base64.b64decode(payload, validate=True).decode()
        except ValueError:
            await send(REPLY_BAD_TOKEN)
            return
        self.auth_payloads.append(decoded)
        fields = dict(item.split("=", 1) for item in decoded.split("\x01") if "=" in item)
        token_ok = fields.get("auth") == f"Bearer {self.tokens.tokens[SMTP_SCOPE]}"
        user_ok = fields.get("user", "").lower() == self.scenario.mailbox_upn.lower()
        if not (token_ok and user_ok) or behaviour == SMTP_BAD_TOKEN:
            if self.scenario.echo_token_in_errors:
                await send(f"535 5.7.3 Authentication unsuccessful ({fields.get('auth')}) {_TRACE}")
            else:
                await send(REPLY_BAD_TOKEN)
        elif behaviour == SMTP_TENANT_DISABLED:
            await send(REPLY_TENANT_DISABLED)
        elif behaviour == SMTP_MAILBOX_DISABLED:
            await send(REPLY_MAILBOX_DISABLED)
        else:
            await send(REPLY_AUTH_OK)


# -------------------------------------------------------------------- the tenant


class FakeTenant:
    """Graph, Exchange admin and SMTP fakes for one scenario, started together.

    Use as ``async with FakeTenant(scenario) as tenant:``; pass ``tls`` to
    share one generated certificate between tenants (the conftest does).
    """

    def __init__(
        self,
        scenario: TenantScenario | None = None,
        *,
        tls: TlsMaterial | None = None,
        refuse_scopes: Iterable[str] = (),
    ) -> None:
        """Create the fakes (not started yet).

        Args:
            scenario: The tenant; healthy by default.
            tls: Certificate material; generated (and cleaned up) when omitted.
            refuse_scopes: Scopes the token provider refuses (e.g. no SMTP consent).
        """
        self.scenario = scenario or TenantScenario()
        self._own_tls = tls is None
        self.tls = tls or TlsMaterial.generate()
        self.tokens = FakeTokenProvider(
            self.scenario.tenant_id, self.scenario.admin_upn, refuse=refuse_scopes
        )
        self.graph = FakeGraph(self.scenario, self.tokens)
        self.exchange = FakeExchangeAdmin(self.scenario, self.tokens)
        self.smtp = FakeSmtpServer(self.scenario, self.tokens, self.tls)

    async def __aenter__(self) -> FakeTenant:
        await self.graph.start()
        await self.exchange.start()
        await self.smtp.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.smtp.close()
        await self.exchange.close()
        await self.graph.close()
        if self._own_tls:
            self.tls.cleanup()

    @property
    def endpoints(self) -> Endpoints:
        """The fakes' URLs and SMTP port."""
        return Endpoints(
            graph_url=self.graph.url,
            exchange_admin_url=self.exchange.url,
            smtp_host="127.0.0.1",
            smtp_port=self.smtp.port,
        )

    @property
    def request_count(self) -> int:
        """HTTP requests plus SMTP connections received so far."""
        return len(self.graph.requests) + len(self.exchange.requests) + self.smtp.connections

    def context(self, *, as_mailbox: bool = True, **overrides: Any) -> CheckContext:
        """A context for checking the scenario's mailbox.

        Args:
            as_mailbox: Sign in as the mailbox's own user (so the SMTP probe
                tries AUTH); otherwise as the admin.
            **overrides: Any CheckContext field.

        Returns:
            The context.
        """
        s = self.scenario
        user_upn, user_id = (
            (s.mailbox_upn, s.mailbox_id) if as_mailbox else (s.admin_upn, s.admin_id)
        )
        values: dict[str, Any] = {
            "tenant_id": s.tenant_id,
            "user_id": user_id,
            "user_upn": user_upn,
            "mailbox_upn": s.mailbox_upn,
            "verified_domains": s.domains,
            "endpoints": self.endpoints,
            "timeout_s": 5.0,
        }
        values.update(overrides)
        return CheckContext(**values)

    def ssl_context_factory(self) -> ssl.SSLContext:
        """Client TLS context trusting the fake CA (pass to the SMTP probe).

        Returns:
            A new context.
        """
        return self.tls.client_context()

    def checks(self, session: aiohttp.ClientSession, **kwargs: Any) -> list[Check]:
        """``default_checks`` wired to this tenant's token provider and CA.

        Args:
            session: The HTTP session.
            **kwargs: Passed to ``default_checks``.

        Returns:
            The checks.
        """
        kwargs.setdefault("ssl_context_factory", self.ssl_context_factory)
        return default_checks(session, self.tokens, **kwargs)

    async def run_check(
        self,
        session: aiohttp.ClientSession,
        check_id: str,
        *,
        as_mailbox: bool = True,
        **overrides: Any,
    ) -> CheckResult:
        """Run one of the default checks against this tenant.

        Args:
            session: The HTTP session.
            check_id: Which check.
            as_mailbox: See :meth:`context`.
            **overrides: CheckContext fields.

        Returns:
            Its result.
        """
        (check,) = [c for c in self.checks(session) if c.check_id == check_id]
        return await check.run(self.context(as_mailbox=as_mailbox, **overrides))


StartTenant = Callable[..., Awaitable[FakeTenant]]
"""Type of the ``start_tenant`` fixture: ``await start_tenant(scenario, **FakeTenant kwargs)``."""
