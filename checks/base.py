"""Shared types for the live checks: results, context, the Check protocol.

``CheckStatus`` and ``CheckResult`` follow docs/contracts.md ("Check results")
exactly; the dialogs and the results card depend on that shape. The rest is
what every check needs: the context it runs in, the token-provider type, the
errors the runner raises, and a redaction helper so no access token ever
reaches evidence, exceptions or logs.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

#: Delegated Microsoft Graph token (the consented Graph permissions).
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: Token for the Exchange admin endpoint (resource https://outlook.office365.com).
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
#: Delegated SMTP token; only the mailbox's own user can get one that SMTP accepts.
SMTP_SCOPE = "https://outlook.office.com/SMTP.Send"

TokenProvider = Callable[[str], Awaitable[str]]
"""Takes a scope (one of the ``*_SCOPE`` constants), returns an access token."""

DEFAULT_TIMEOUT_S = 10.0

# Deliberately strict: the address ends up in an OData filter, an HTTP header
# and a PowerShell line, so anything unusual is refused rather than escaped.
_UPN_RE = re.compile(r"^[A-Za-z0-9._%+'\-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
# A JWT is three base64url parts; Entra access tokens always start with "eyJ".
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)\S+")


class CheckStatus(StrEnum):
    """Outcome of one check, as shown on the results card."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    """What one check found (docs/contracts.md, "Check results").

    ``cause_id`` is the knowledge cause the result points to when it failed or
    warns; for other statuses it is the single cause the check rules in or
    out, or ``None`` when the check speaks to several causes.
    """

    check_id: str
    title: str
    status: CheckStatus
    evidence: str
    cause_id: str | None
    duration_ms: int


class TokenUnavailable(Exception):
    """Raised by a token provider that cannot supply a token for a scope.

    The message must be safe to show (for example "consent declined"): it
    becomes part of the check's evidence.
    """


class TenantIsolationError(Exception):
    """The requested checks would leave the signed-in user's own tenant."""


@dataclass(frozen=True)
class Endpoints:
    """Where the checks connect; Microsoft's defaults, overridable for tests."""

    graph_url: str = "https://graph.microsoft.com/v1.0"
    exchange_admin_url: str = "https://outlook.office365.com/adminapi/beta"
    smtp_host: str = "smtp.office365.com"
    smtp_port: int = 587

    def __post_init__(self) -> None:
        """Normalise the base URLs."""
        # A trailing slash would produce "//users" and some proxies reject that.
        object.__setattr__(self, "graph_url", self.graph_url.rstrip("/"))
        object.__setattr__(self, "exchange_admin_url", self.exchange_admin_url.rstrip("/"))


def is_valid_upn(value: str) -> bool:
    """Tell whether ``value`` looks like a user principal name / SMTP address.

    Args:
        value: The candidate address.

    Returns:
        True when it is a plain ``local@domain.tld`` address.
    """
    return bool(_UPN_RE.match(value))


@dataclass(frozen=True)
class CheckContext:
    """Everything a check needs to know about whom and what it checks.

    Attributes:
        tenant_id: The signed-in user's tenant (the ``tid`` of their token).
        user_id: Object id of the signed-in user (the admin).
        user_upn: UPN of the signed-in user; anchors Exchange admin calls.
        mailbox_upn: The mailbox the customer sends from.
        verified_domains: The tenant's verified domains (see ``graph.verified_domains``).
        mailbox_id: Object id of the mailbox's user, when known; saves a lookup.
        auth_method: How the customer's app signs in, "basic" or "oauth", if known.
        endpoints: Base URLs and the SMTP host/port.
        timeout_s: Default time budget per check, in seconds.
        check_timeouts: Per-check overrides of ``timeout_s``, keyed by check id.
    """

    tenant_id: str
    user_id: str
    user_upn: str
    mailbox_upn: str
    verified_domains: tuple[str, ...]
    mailbox_id: str | None = None
    auth_method: str | None = None
    endpoints: Endpoints = field(default_factory=Endpoints)
    timeout_s: float = DEFAULT_TIMEOUT_S
    check_timeouts: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Validate the addresses and the auth method; freeze the domain list.

        Raises:
            ValueError: An address or the auth method is not acceptable.
        """
        for name in ("user_upn", "mailbox_upn"):
            if not is_valid_upn(getattr(self, name)):
                raise ValueError(f"{name} is not a valid address: {getattr(self, name)!r}")
        if self.auth_method not in (None, "basic", "oauth"):
            raise ValueError(
                f"auth_method must be 'basic', 'oauth' or None, not {self.auth_method!r}"
            )
        # Accept any iterable (lists from JSON) but keep the context hashable/frozen.
        object.__setattr__(self, "verified_domains", tuple(self.verified_domains))

    @property
    def mailbox_domain(self) -> str:
        """The domain part of the mailbox address, lower-cased."""
        return self.mailbox_upn.rsplit("@", 1)[1].lower()

    @property
    def mailbox_ref(self) -> str:
        """How Graph URLs address the mailbox's user: object id if known, else UPN."""
        return self.mailbox_id or self.mailbox_upn

    @property
    def signed_in_is_mailbox(self) -> bool:
        """True when the signed-in user is the sending mailbox (SMTP test allowed)."""
        if self.mailbox_id and self.mailbox_id == self.user_id:
            return True
        return self.user_upn.casefold() == self.mailbox_upn.casefold()

    def timeout_for(self, check_id: str) -> float:
        """Time budget of one check in seconds.

        Args:
            check_id: The check's id.

        Returns:
            The per-check override, or ``timeout_s``.
        """
        return float(self.check_timeouts.get(check_id, self.timeout_s))


@runtime_checkable
class Check(Protocol):
    """A live check: reads one thing, never changes anything."""

    check_id: str
    title: str

    async def run(self, context: CheckContext) -> CheckResult:
        """Run the check.

        Args:
            context: Whom and what to check.

        Returns:
            The result; a check reports problems as results, not exceptions.
        """
        ...


@dataclass(frozen=True)
class Outcome:
    """A check's verdict before timing is attached."""

    status: CheckStatus
    evidence: str
    cause_id: str | None = None


class BaseCheck(ABC):
    """Template for checks: times the run and turns token failures into UNKNOWN."""

    check_id: str = ""
    title: str = ""
    #: The cause reported with PASS/UNKNOWN/SKIPPED when the check has just one.
    cause_id: str | None = None

    async def run(self, context: CheckContext) -> CheckResult:
        """Run the check and wrap its outcome in a :class:`CheckResult`.

        Args:
            context: Whom and what to check.

        Returns:
            The result, with ``duration_ms`` measured here.
        """
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + context.timeout_for(self.check_id)
        try:
            outcome = await self.evaluate(context, deadline)
        except TokenUnavailable as exc:
            outcome = Outcome(CheckStatus.UNKNOWN, f"No access token: {exc}", self.cause_id)
        duration_ms = int((time.perf_counter() - started) * 1000)
        cause = outcome.cause_id
        if cause is None and outcome.status is not CheckStatus.FAIL:
            cause = self.cause_id
        return CheckResult(
            self.check_id, self.title, outcome.status, outcome.evidence, cause, duration_ms
        )

    @abstractmethod
    async def evaluate(self, context: CheckContext, deadline: float) -> Outcome:
        """Do the check's work.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done; used to
                decide whether waiting for a ``Retry-After`` still fits.

        Returns:
            The verdict.
        """


def redact(text: str, *secrets: str) -> str:
    """Remove access tokens from text that may be shown or logged.

    Servers sometimes echo the request back in error messages, so any text
    that came from the network passes through here before it becomes evidence.

    Args:
        text: The text to clean.
        *secrets: Exact strings to remove (the tokens this code sent).

    Returns:
        ``text`` with the secrets, anything JWT-shaped and ``Bearer …`` values
        replaced by ``[redacted]``.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _JWT_RE.sub("[redacted]", text)
    return _BEARER_RE.sub(r"\1[redacted]", text)


def shorten(text: str, limit: int = 300) -> str:
    """Collapse whitespace and cut ``text`` to ``limit`` characters for evidence.

    Args:
        text: The text to shorten.
        limit: Maximum length of the result.

    Returns:
        A one-line string of at most ``limit`` characters.
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
