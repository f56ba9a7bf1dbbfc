"""Local stand-ins for Microsoft Graph, the Exchange admin endpoint and SMTP.

Real servers on 127.0.0.1, driven by one :class:`TenantScenario`, so the
checks are exercised over real sockets, HTTPS and STARTTLS (every server's
certificate comes from one private CA, as a customer's TLS-inspecting proxy
would present), never through patched functions. Bodies follow Microsoft's
documentation in *every documented variant* the scenario picks
(``userPurpose`` as a string, as ``{"value": …}`` or as a top-level
``value``; ``userRegistrationDetails`` bare or wrapped in ``value``), with
undocumented extra fields a client must ignore, Graph's
``{"error": {"code", "message", "innerError"}}`` errors, 429 with
``Retry-After``, the real service's 403 ``ErrorAccessDenied`` for another
user's ``mailboxSettings``, and Exchange Online's exact SMTP reply strings.
The bot's tests reuse these, so everything is scenario-driven:

    from tests.checks.fakes import FakeTenant, TenantScenario

    async with FakeTenant(TenantScenario.for_cause("conditional_access")) as tenant:
        async with tenant.session() as session:
            results = await collect(tenant.context(), tenant.checks(session),
                                    token_tenant_id=tenant.scenario.tenant_id)

Endpoint names used by ``delays``, ``throttle`` and ``forbidden``: me,
organization, user, users, licenseDetails, mailboxSettings, memberOf,
securityDefaults, conditionalAccess, signIns, signInsBeta,
registrationDetails, mfaState, exchange, smtp.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import ipaddress
import json
import re
import secrets
import ssl
import tempfile
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

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
SMTP_SENDER_BLOCKED = "sender_blocked"

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
REPLY_SENDER_BLOCKED = "550 5.1.8 Access denied, bad outbound sender"
REPLY_TLS_421 = (
    "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to "
    "support TLS 1.2. Visit https://aka.ms/smtp_auth_tls"
)

#: Graph userPurpose -> Exchange RecipientTypeDetails (the same mailbox seen twice).
RECIPIENT_TYPES = {
    "user": "UserMailbox",
    "linked": "LinkedMailbox",
    "shared": "SharedMailbox",
    "room": "RoomMailbox",
    "equipment": "EquipmentMailbox",
    "others": "SchedulingMailbox",
}
#: Documented shapes of ``mailboxSettings.userPurpose``.
PURPOSE_SHAPES = ("string", "wrapped", "value")
#: Documented shapes of ``userRegistrationDetails``.
REGISTRATION_SHAPES = ("bare", "wrapped")
#: Fields Microsoft may add any day; every object carries some, clients must ignore them.
EXTRA = {"@odata.etag": 'W/"JzEtMjAyNiI="', "futureFeatureFlag": {"unexpected": [1, "two"]}}


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hours_ago(hours: float) -> str:
    """A ``createdDateTime`` that many hours before now (sign-in windows are relative).

    Args:
        hours: How long ago.

    Returns:
        The timestamp, ISO 8601 with Z.
    """
    return _iso(dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours))


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


def _sign_in(
    upn: str, *, app: str, app_id: str, client: str, event: str, error_code: int,
    failure_reason: str, when: str, policies: Iterable[tuple[str, str]],
) -> dict[str, Any]:
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
        "appId": app_id,
        "appDisplayName": app,
        "ipAddress": "203.0.113.7",
        "clientAppUsed": client,
        "correlationId": str(uuid.uuid4()),
        "conditionalAccessStatus": (
            "failure" if any(r == "failure" for _, r in policies) else "notApplied"
        ),
        "isInteractive": event == "interactiveUser",
        "signInEventTypes": [event],
        "resourceDisplayName": "Office 365 Exchange Online",
        "resourceId": EXCHANGE_APP_ID,
        "riskState": "none",
        "status": {
            "errorCode": error_code,
            "failureReason": failure_reason or ("Other." if error_code else None),
            "additionalDetails": None,
        },
        "appliedConditionalAccessPolicies": applied,
    }


def smtp_sign_in(
    upn: str,
    error_code: int,
    failure_reason: str = "",
    *,
    when: str | None = None,
    policies: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A password ``signIn`` of client app "Authenticated SMTP" (interactive, as Entra logs it).

    Args:
        upn: ``userPrincipalName``.
        error_code: ``status.errorCode`` (0 = success).
        failure_reason: ``status.failureReason``.
        when: ``createdDateTime``; a day ago by default.
        policies: (displayName, result) of ``appliedConditionalAccessPolicies``.

    Returns:
        The sign-in object.
    """
    return _sign_in(
        upn, app="Office 365 Exchange Online", app_id=EXCHANGE_APP_ID,
        client="Authenticated SMTP", event="interactiveUser", error_code=error_code,
        failure_reason=failure_reason, when=when or hours_ago(24), policies=policies,
    )


def password_sign_ins(upn: str, count: int, *, error_code: int = 0) -> list[dict[str, Any]]:
    """``count`` password SMTP sign-ins spread over the last six days.

    Args:
        upn: The mailbox.
        count: How many.
        error_code: Their ``status.errorCode``.

    Returns:
        The sign-ins, newest first.
    """
    return [
        smtp_sign_in(upn, error_code, when=hours_ago(1 + i * 144 / max(count, 1)))
        for i in range(count)
    ]


def oauth_sign_in(upn: str, app: str, *, hours: float = 2.0) -> dict[str, Any]:
    """An app refreshing its Exchange Online token for the mailbox (non-interactive, OAuth).

    Args:
        upn: The mailbox's user.
        app: ``appDisplayName`` (the customer's app).
        hours: How long ago.

    Returns:
        The sign-in object.
    """
    return _sign_in(
        upn, app=app, app_id=str(uuid.uuid5(uuid.NAMESPACE_OID, app)),
        client="Mobile Apps and Desktop clients", event="nonInteractiveUser", error_code=0,
        failure_reason="", when=hours_ago(hours), policies=(),
    )


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
    in_directory: bool = True  # False: no user has the mailbox's address (a typo)
    account_enabled: bool = True
    licenses: list[dict[str, Any]] = field(
        default_factory=lambda: [
            license_sku(
                "O365_BUSINESS_ESSENTIALS",
                {"EXCHANGE_S_STANDARD": "Success", "MCOSTANDARD": "Success"},
            )
        ]
    )
    user_purpose: str | None = "user"  # None: no mailbox (MailboxNotEnabledForRESTAPI)
    recipient_type: str | None = None  # RecipientTypeDetails; derived from user_purpose
    user_purpose_shape: str = "string"  # "string", "wrapped" ({"value": …}) or "value"
    registration_shape: str = "bare"  # "bare" or "wrapped" in {"value": {…}}
    full_access: tuple[str, ...] = ()  # who has Full Access to the mailbox
    send_as: tuple[str, ...] = ()  # who has Send As on the mailbox
    security_defaults: bool = False
    ca_policies: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)  # transitiveMemberOf items
    sign_ins: list[dict[str, Any]] = field(default_factory=list)  # Authenticated SMTP (password)
    oauth_apps: dict[str, int] = field(default_factory=dict)  # app -> OAuth sign-ins (7 days)
    mfa_registered: bool = False
    per_user_mfa: str = "disabled"  # disabled, enabled, enforced
    premium: bool = True  # Entra ID P1: sign-in logs and registration reports
    transport_smtp_auth_disabled: bool | None = False
    cas_smtp_auth_disabled: bool | None = None
    auth_policies: list[dict[str, Any]] = field(default_factory=list)  # Get-AuthenticationPolicy
    default_auth_policy: str | None = None  # Get-OrganizationConfig DefaultAuthenticationPolicy
    user_auth_policy: str | None = None  # Get-User AuthenticationPolicy of the mailbox
    exchange_error: int | None = None  # answer every InvokeCommand with this status
    exchange_refuse: tuple[str, ...] = ()  # cmdlets answered 403 (the others work)
    smtp: str | None = None
    delays: dict[str, float] = field(default_factory=dict)
    throttle: dict[str, int] = field(default_factory=dict)  # endpoint -> 429s before success
    retry_after: str = "1"
    forbidden: dict[str, str] = field(default_factory=dict)  # endpoint -> 403 error code
    page_size: int = 100  # collection pages; smaller values exercise @odata.nextLink
    echo_token_in_errors: bool = False  # a careless server: errors quote the bearer token

    @property
    def mailbox_recipient_type(self) -> str | None:
        """The mailbox's ``RecipientTypeDetails`` (None: Exchange has no mailbox)."""
        if not self.in_directory or self.user_purpose is None:
            return None
        return self.recipient_type or RECIPIENT_TYPES.get(self.user_purpose, "UserMailbox")

    def smtp_behaviour(self) -> str:
        """The SMTP behaviour, derived from the switches unless set explicitly.

        Returns:
            One of the ``SMTP_*`` constants.
        """
        if self.smtp:
            return self.smtp
        if self.user_purpose is None or not self.in_directory:
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

    def signed_in_as_mailbox(self) -> TenantScenario:
        """The same tenant with the sending mailbox's own user signing in.

        Returns:
            The scenario.
        """
        return self.with_(admin_upn=self.mailbox_upn, admin_id=self.mailbox_id)

    @classmethod
    def healthy(cls) -> TenantScenario:
        """A tenant where everything lets the mailbox send, already on OAuth.

        Returns:
            The scenario.
        """
        return cls(oauth_apps={"CLOUDEX TMS": 12})

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
    "unsupported_mailbox_type": lambda s: s.with_(user_purpose="room", account_enabled=False,
                                                  licenses=[]),
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
        per_user_mfa="enforced",
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
    "basic_auth_disabled": lambda s: s.with_(
        sign_ins=password_sign_ins(s.mailbox_upn, 41)
    ),
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
    "mfa_required": ("mfa", "smtp_sign_ins"),
    "wrong_credentials": ("smtp_sign_ins",),
    "smtp_auth_disabled_tenant": ("smtp_auth_switches", "smtp_probe"),
    "smtp_auth_disabled_mailbox": ("smtp_auth_switches", "smtp_probe"),
    "basic_auth_disabled": ("smtp_readiness",),
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
    """Shared plumbing: serve HTTPS on an ephemeral port, record, delay, throttle, authorise."""

    scope: str = GRAPH_SCOPE

    def __init__(
        self, scenario: TenantScenario, tokens: FakeTokenProvider, tls: TlsMaterial
    ) -> None:
        self.scenario = scenario
        self.tokens = tokens
        self.tls = tls
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
        """Listen on 127.0.0.1, on a free port, over TLS with the private CA's certificate."""
        # Cancel handlers whose client went away (a timed-out check) and don't wait
        # for delayed ones at shutdown: a scenario's delay must not slow teardown.
        self._runner = web.AppRunner(
            self.app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls.server_context())
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop the server."""
        if self._runner:
            await self._runner.cleanup()

    @property
    def origin(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self.port}"


_CLAUSES = (
    ("upn", re.compile(r"^userPrincipalName eq '((?:[^']|'')*)'$")),
    ("client", re.compile(r"^clientAppUsed eq '((?:[^']|'')*)'$")),
    ("since", re.compile(r"^createdDateTime ge (\S+)$")),
    ("event", re.compile(r"^\(?signInEventTypes/any\(t: t eq '(\w+)'\)\)?$")),
    ("mail", re.compile(r"^mail eq '((?:[^']|'')*)'$")),
)


def parse_filter(text: str) -> dict[str, str] | None:
    """Read the ``$filter`` clauses the fakes understand (joined by ``and``).

    Args:
        text: The ``$filter`` value.

    Returns:
        clause name -> value, or None when a clause is not understood (Graph
        would answer 400 for a filter it can't apply, and so do the fakes).
    """
    found: dict[str, str] = {}
    for clause in (c.strip() for c in text.split(" and ") if c.strip()):
        for name, pattern in _CLAUSES:
            if match := pattern.match(clause):
                found[name] = match.group(1).replace("''", "'")
                break
        else:
            return None
    return found


class FakeGraph(_FakeHttpServer):
    """Answers the Graph v1.0 and beta endpoints the checks read, from the scenario."""

    scope = GRAPH_SCOPE

    def __init__(
        self, scenario: TenantScenario, tokens: FakeTokenProvider, tls: TlsMaterial
    ) -> None:
        """Create the server (call :meth:`start`).

        Args:
            scenario: The tenant.
            tokens: Issues the only token accepted.
            tls: The certificate it serves.
        """
        super().__init__(scenario, tokens, tls)
        v, b = "/v1.0", "/beta"
        self.route("GET", f"{v}/me", "me", self._me)
        self.route("GET", f"{v}/me/mailboxSettings", "mailboxSettings", self._my_mailbox)
        self.route("GET", f"{v}/me/mailboxSettings/userPurpose", "mailboxSettings",
                   self._my_purpose)
        self.route("GET", f"{v}/organization", "organization", self._organization)
        self.route("GET", f"{v}/users", "users", self._users)
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
        self.route("GET", f"{b}/auditLogs/signIns", "signInsBeta", self._sign_ins)
        self.route(
            "GET",
            f"{v}/reports/authenticationMethods/userRegistrationDetails/{{user}}",
            "registrationDetails",
            self._registration,
        )
        self.route("GET", f"{b}/users/{{user}}/authentication/requirements", "mfaState",
                   self._mfa_state)

    @property
    def url(self) -> str:
        """The Graph base URL to put in ``Endpoints.graph_url``."""
        return f"{self.origin}/v1.0"

    def _ctx(self, what: str) -> str:
        return f"https://graph.microsoft.com/v1.0/$metadata#{what}"

    def _directory(self) -> list[tuple[str, str]]:
        s = self.scenario
        users = [(s.admin_upn, s.admin_id)]
        if s.in_directory and s.mailbox_upn.lower() != s.admin_upn.lower():
            users.append((s.mailbox_upn, s.mailbox_id))
        return users

    def _find_user(self, ref: str) -> tuple[str, str] | None:
        for upn, oid in self._directory():
            if ref.lower() in (upn.lower(), oid.lower()):
                return upn, oid
        return None

    def _is_mailbox(self, upn: str) -> bool:
        return upn.lower() == self.scenario.mailbox_upn.lower()

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
            "value": [{**item, **EXTRA} for item in items[start : start + size]],
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
                **EXTRA,
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
                "value": [{"id": s.tenant_id, "verifiedDomains": domains, **EXTRA}],
            }
        )

    def _user_entity(self, upn: str, oid: str) -> dict[str, Any]:
        enabled = self.scenario.account_enabled if self._is_mailbox(upn) else True
        return {
            "id": oid,
            "userPrincipalName": upn,
            "mail": upn,
            "accountEnabled": enabled,
            "displayName": upn.split("@")[0],
        }

    async def _user(self, request: web.Request) -> web.Response:
        ref = request.match_info["user"]
        found = self._find_user(ref)
        if not found:
            return self._not_found(ref)
        full = self._user_entity(*found)
        select = request.query.get("$select")
        fields = select.split(",") if select else ["id", "userPrincipalName", "displayName"]
        body: dict[str, Any] = {"@odata.context": self._ctx(f"users({select or ''})/$entity")}
        body.update({k: full.get(k) for k in fields})
        return web.json_response({**body, **EXTRA})

    async def _users(self, request: web.Request) -> web.Response:
        clauses = parse_filter(request.query.get("$filter", ""))
        if clauses is None or set(clauses) != {"mail"}:
            return graph_error(400, "BadRequest", "This fake only filters users by mail.")
        items = [self._user_entity(upn, oid) for upn, oid in self._directory()
                 if upn.lower() == clauses["mail"].lower()]
        return self._page(request, items, "users")

    async def _licenses(self, request: web.Request) -> web.Response:
        ref = request.match_info["user"]
        found = self._find_user(ref)
        if not found:
            return self._not_found(ref)
        items = self.scenario.licenses if self._is_mailbox(found[0]) else []
        return self._page(request, items, f"users('{ref}')/licenseDetails")

    def _purpose_body(self, ref: str, *, property_path: bool) -> web.Response:
        s = self.scenario
        if s.user_purpose is None:
            return graph_error(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        # The documented variants: a string, {"value": …} (v1.0 example 1), or the
        # property path's top-level "value" (example 4).
        if property_path or s.user_purpose_shape == "value":
            body: dict[str, Any] = {"value": s.user_purpose}
        elif s.user_purpose_shape == "wrapped":
            body = {"userPurpose": {"value": s.user_purpose}}
        else:
            body = {"userPurpose": s.user_purpose}
        return web.json_response({
            "@odata.context": self._ctx(f"users('{ref}')/mailboxSettings"),
            **body, **EXTRA,
        })

    async def _my_mailbox(self, request: web.Request) -> web.Response:
        s = self.scenario
        if not self._is_mailbox(s.admin_upn):
            # The signed-in admin's own mailbox is a user mailbox.
            return web.json_response({"userPurpose": "user", **EXTRA})
        return self._purpose_body(s.admin_id, property_path=False)

    async def _my_purpose(self, request: web.Request) -> web.Response:
        return self._purpose_body(self.scenario.admin_id, property_path=True)

    async def _mbx(self, request: web.Request) -> web.Response:
        ref = request.match_info["user"]
        found = self._find_user(ref)
        if not found:
            return self._not_found(ref)
        if found[0].lower() != self.scenario.admin_upn.lower():
            # What the real service answers for another user's mailbox with delegated
            # permissions, Global Administrators included (domain.md §4).
            return graph_error(403, "ErrorAccessDenied",
                               "Access is denied. Check credentials and try again.")
        return self._purpose_body(ref, property_path=False)

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
                **EXTRA,
            }
        )

    async def _ca(self, request: web.Request) -> web.Response:
        return self._page(request, self.scenario.ca_policies, "identity/conditionalAccess/policies")

    async def _sign_ins(self, request: web.Request) -> web.Response:
        s = self.scenario
        if not s.premium:
            return self._not_premium()
        clauses = parse_filter(request.query.get("$filter", ""))
        beta = request.path.startswith("/beta/")
        if clauses is None or "upn" not in clauses or "since" not in clauses:
            return graph_error(400, "BadRequest", "Unsupported $filter for this fake.")
        if "event" in clauses and not beta:
            return graph_error(400, "BadRequest", "signInEventTypes is a beta property.")
        since = clauses["since"]
        everything = [*s.sign_ins]
        if s.in_directory and s.user_purpose is not None:
            everything += [oauth_sign_in(s.mailbox_upn, app, hours=1 + i)
                           for app, count in s.oauth_apps.items() for i in range(count)]
        # v1.0 and beta without an event filter list interactive sign-ins only.
        event = clauses.get("event", "interactiveUser")
        items = [
            x for x in everything
            if x["userPrincipalName"].lower() == clauses["upn"].lower()
            and x["createdDateTime"] >= since
            and event in x["signInEventTypes"]
            and ("client" not in clauses or x["clientAppUsed"] == clauses["client"])
        ]
        if not beta:
            items = [{k: v for k, v in x.items() if k != "signInEventTypes"} for x in items]
        items.sort(key=lambda x: x["createdDateTime"], reverse=True)
        top = int(request.query.get("$top", "1000"))
        return web.json_response(
            {"@odata.context": self._ctx("auditLogs/signIns"),
             "value": [{**x, **EXTRA} for x in items[:top]]}
        )

    async def _registration(self, request: web.Request) -> web.Response:
        if not self.scenario.premium:
            return self._not_premium()
        ref = request.match_info["user"]
        found = self._find_user(ref)
        # This report is keyed by object id only; a UPN is "not found".
        if not found or ref.lower() != found[1].lower():
            return self._not_found(ref)
        registered = self.scenario.mfa_registered and self._is_mailbox(found[0])
        entity = {
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
            "lastUpdatedDateTime": hours_ago(30),
            **EXTRA,
        }
        context = self._ctx("reports/authenticationMethods/userRegistrationDetails/$entity")
        if self.scenario.registration_shape == "wrapped":
            # How Microsoft's v1.0 reference documents the answer.
            return web.json_response({"@odata.context": context, "value": entity})
        return web.json_response({"@odata.context": context, **entity})

    async def _mfa_state(self, request: web.Request) -> web.Response:
        ref = request.match_info["user"]
        found = self._find_user(ref)
        if not found:
            return self._not_found(ref)
        state = self.scenario.per_user_mfa if self._is_mailbox(found[0]) else "disabled"
        return web.json_response({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#users('"
                              f"{found[1]}')/authentication/requirements",
            "perUserMfaState": state,
            **EXTRA,
        })


class FakeExchangeAdmin(_FakeHttpServer):
    """Answers ``POST /adminapi/beta/{tenantId}/InvokeCommand`` like the EXO V3 route."""

    scope = EXCHANGE_SCOPE

    def __init__(
        self, scenario: TenantScenario, tokens: FakeTokenProvider, tls: TlsMaterial
    ) -> None:
        """Create the server (call :meth:`start`).

        Args:
            scenario: The tenant.
            tokens: Issues the only token accepted.
            tls: The certificate it serves.
        """
        super().__init__(scenario, tokens, tls)
        self.route("POST", "/adminapi/beta/{tenant}/InvokeCommand", "exchange", self._invoke)

    @property
    def url(self) -> str:
        """The base URL to put in ``Endpoints.exchange_admin_url``."""
        return f"{self.origin}/adminapi/beta"

    def unauthorized(self, message: str) -> web.Response:
        """The 401 of the admin endpoint (a bearer challenge and an error body)."""
        return graph_error(401, "Unauthorized", message)

    def cmdlets(self) -> list[str]:
        """The cmdlets called so far, in order."""
        return [str((r.json or {}).get("CmdletInput", {}).get("CmdletName")) for r in self.requests]

    def _not_found(self, identity: str) -> web.Response:
        return graph_error(
            404,
            "ManagementObjectNotFoundException",
            "|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|"
            f"The operation couldn't be performed because object '{identity}' couldn't "
            "be found on 'AM0PR06A01DC001.EURPR06A001.PROD.OUTLOOK.COM'.",
        )

    def _rows(self, rows: list[dict[str, Any]]) -> web.Response:
        s = self.scenario
        return web.json_response({
            "@odata.context": f"https://outlook.office365.com/adminapi/beta/{s.tenant_id}/"
            "$metadata#Collection(Exchange.GenericHashTable)",
            "adminapi.warnings@odata.type": "#Collection(String)",
            "@adminapi.warnings": [],
            "value": [{**row, **EXTRA} for row in rows],
        })

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
        name = str(cmdlet_input.get("CmdletName"))
        params = cmdlet_input.get("Parameters") or {}
        if name in s.exchange_refuse:
            return graph_error(403, "Forbidden",
                               f"The term '{name}' is not available to this user's roles.")
        identity = str(params.get("Identity", ""))
        handler = {
            "Get-TransportConfig": self._transport, "Get-CASMailbox": self._cas,
            "Get-Mailbox": self._mailbox, "Get-MailboxPermission": self._permissions,
            "Get-User": self._get_user, "Get-OrganizationConfig": self._organization,
            "Get-AuthenticationPolicy": self._policies,
        }.get(name)
        if handler is None:
            return graph_error(400, "BadRequest", f"Cmdlet {name!r} is not available in this fake.")
        return handler(identity)

    def _known(self, identity: str) -> str | None:
        s = self.scenario
        lowered = identity.lower()
        if lowered == s.admin_upn.lower():
            return s.admin_upn
        if lowered == s.mailbox_upn.lower() and s.in_directory:
            return s.mailbox_upn
        return None

    def _has_mailbox(self, identity: str) -> str | None:
        upn = self._known(identity)
        if upn is None:
            return None
        if upn.lower() == self.scenario.mailbox_upn.lower():
            return upn if self.scenario.mailbox_recipient_type else None
        return upn

    def _transport(self, identity: str) -> web.Response:
        return self._rows([{
            "Identity": "Transport Settings",
            "SmtpClientAuthenticationDisabled": self.scenario.transport_smtp_auth_disabled,
            "AllowLegacyTLSClients": False,
            "MaxSendSize": "35 MB (36,700,160 bytes)",
        }])

    def _cas(self, identity: str) -> web.Response:
        upn = self._has_mailbox(identity)
        if upn is None:
            return self._not_found(identity)
        mine = upn.lower() == self.scenario.mailbox_upn.lower()
        return self._rows([{
            "Identity": upn.split("@")[0],
            "PrimarySmtpAddress": upn,
            "SmtpClientAuthenticationDisabled": self.scenario.cas_smtp_auth_disabled
            if mine else None,
            "ImapEnabled": True,
        }])

    def _mailbox(self, identity: str) -> web.Response:
        upn = self._has_mailbox(identity)
        if upn is None:
            return self._not_found(identity)
        mine = upn.lower() == self.scenario.mailbox_upn.lower()
        return self._rows([{
            "Identity": upn.split("@")[0],
            "UserPrincipalName": upn,
            "PrimarySmtpAddress": upn,
            "RecipientTypeDetails": self.scenario.mailbox_recipient_type if mine
            else "UserMailbox",
            "ExchangeGuid": str(uuid.uuid5(uuid.NAMESPACE_OID, upn)),
        }])

    def _permissions(self, identity: str) -> web.Response:
        upn = self._has_mailbox(identity)
        if upn is None:
            return self._not_found(identity)
        name = upn.split("@")[0]
        rows = [{"Identity": name, "User": "NT AUTHORITY\\SELF",
                 "AccessRights": ["FullAccess", "ReadPermission"],
                 "AccessRights@odata.type": "#Collection(String)",
                 "IsInherited": False, "Deny": False}]
        if upn.lower() == self.scenario.mailbox_upn.lower():
            rows += [{"Identity": name, "User": holder, "AccessRights": ["FullAccess"],
                      "AccessRights@odata.type": "#Collection(String)",
                      "IsInherited": False, "Deny": False}
                     for holder in self.scenario.full_access]
        return self._rows(rows)

    def _get_user(self, identity: str) -> web.Response:
        upn = self._known(identity)
        if upn is None:
            return self._not_found(identity)
        mine = upn.lower() == self.scenario.mailbox_upn.lower()
        return self._rows([{
            "Identity": upn.split("@")[0], "UserPrincipalName": upn,
            "AuthenticationPolicy": self.scenario.user_auth_policy if mine else None,
        }])

    def _organization(self, identity: str) -> web.Response:
        return self._rows([{
            "Identity": self.scenario.domains[-1],
            "DefaultAuthenticationPolicy": self.scenario.default_auth_policy,
            "OAuth2ClientProfileEnabled": True,
        }])

    def _policies(self, identity: str) -> web.Response:
        return self._rows([
            {"Identity": p["Name"], "Id": p["Name"], **p} for p in self.scenario.auth_policies
        ])


def auth_policy(name: str, *, allow_basic_smtp: bool) -> dict[str, Any]:
    """A ``Get-AuthenticationPolicy`` row (a new policy blocks Basic for every protocol).

    Args:
        name: The policy's name.
        allow_basic_smtp: ``AllowBasicAuthSmtp``.

    Returns:
        The row.
    """
    row: dict[str, Any] = {"Name": name}
    for protocol in ("ActiveSync", "Autodiscover", "Imap", "Mapi", "OfflineAddressBook",
                     "OutlookService", "Pop", "Reporting", "Rpc", "WebServices", "Powershell"):
        row[f"AllowBasicAuth{protocol}"] = False
    row["AllowBasicAuthSmtp"] = allow_basic_smtp
    return row


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

    def _may_sign_in_as(self, user: str) -> bool:
        # The token is the signed-in admin's: it opens their own mailbox and the
        # mailboxes they have Full Access to (a shared mailbox, typically).
        s, user = self.scenario, user.lower()
        if user == s.admin_upn.lower():
            return True
        return user == s.mailbox_upn.lower() and s.admin_upn.lower() in {
            h.lower() for h in s.full_access}

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
        user_ok = self._may_sign_in_as(fields.get("user", ""))
        if not (token_ok and user_ok) or behaviour == SMTP_BAD_TOKEN:
            if self.scenario.echo_token_in_errors:
                await send(f"535 5.7.3 Authentication unsuccessful ({fields.get('auth')}) {_TRACE}")
            else:
                await send(REPLY_BAD_TOKEN)
        elif behaviour == SMTP_TENANT_DISABLED:
            await send(REPLY_TENANT_DISABLED)
        elif behaviour == SMTP_MAILBOX_DISABLED:
            await send(REPLY_MAILBOX_DISABLED)
        elif behaviour == SMTP_SENDER_BLOCKED:
            await send(REPLY_SENDER_BLOCKED)
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
        self.scenario = scenario or TenantScenario.healthy()
        self._own_tls = tls is None
        self.tls = tls or TlsMaterial.generate()
        self.tokens = FakeTokenProvider(
            self.scenario.tenant_id, self.scenario.admin_upn, refuse=refuse_scopes
        )
        self.graph = FakeGraph(self.scenario, self.tokens, self.tls)
        self.exchange = FakeExchangeAdmin(self.scenario, self.tokens, self.tls)
        self.smtp = FakeSmtpServer(self.scenario, self.tokens, self.tls)

    async def __aenter__(self) -> Self:
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

    def session(self) -> aiohttp.ClientSession:
        """An HTTP session that trusts the fakes' private CA (as TLS_CA_FILE makes the bot's).

        Returns:
            A new session (close it).
        """
        connector = aiohttp.TCPConnector(ssl=self.tls.client_context())
        return aiohttp.ClientSession(connector=connector)

    def context(self, **overrides: Any) -> CheckContext:
        """A context for checking the scenario's mailbox, signed in as the scenario's admin.

        (``TenantScenario.signed_in_as_mailbox()`` makes the mailbox's own user the admin.)

        Args:
            **overrides: Any CheckContext field.

        Returns:
            The context.
        """
        s = self.scenario
        values: dict[str, Any] = {
            "tenant_id": s.tenant_id,
            "user_id": s.admin_id,
            "user_upn": s.admin_upn,
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
        self, session: aiohttp.ClientSession, check_id: str, **overrides: Any
    ) -> CheckResult:
        """Run one of the default checks against this tenant.

        Args:
            session: The HTTP session.
            check_id: Which check.
            **overrides: CheckContext fields.

        Returns:
            Its result.
        """
        (check,) = [c for c in self.checks(session) if c.check_id == check_id]
        return await check.run(self.context(**overrides))


StartTenant = Callable[..., Awaitable[FakeTenant]]
"""Type of the ``start_tenant`` fixture: ``await start_tenant(scenario, **FakeTenant kwargs)``."""
