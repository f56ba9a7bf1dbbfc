"""Shared types for the live checks: context, the Check protocol, outcomes, redaction.

The result types (``CheckStatus``, ``CheckResult``) belong to the domain
(:mod:`dialogs.live.results`, framework-free) and are imported from there: a
check reports a *finding* key and *facts*, never a sentence (the words live in
:mod:`dialogs.live.phrases`). The rest is what every check needs: the context
it runs in, the token-provider type, the errors the runner raises, tolerant
readers for Microsoft's documented response variants, and a redaction helper
so no access token ever reaches a result, an exception or a log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

from dialogs.live.results import CheckResult, CheckStatus

#: Delegated Microsoft Graph token (the consented Graph permissions).
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: Token for the Exchange admin endpoint (resource https://outlook.office365.com).
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
#: Delegated SMTP token (the signed-in user's; it also opens mailboxes they have Full Access to).
SMTP_SCOPE = "https://outlook.office.com/SMTP.Send"

TokenProvider = Callable[[str], Awaitable[str]]
"""Takes a scope (one of the ``*_SCOPE`` constants), returns an access token."""

SslContextFactory = Callable[[], ssl.SSLContext]
"""Builds the client TLS context (the operator's one CA setting decides what it trusts)."""

DEFAULT_TIMEOUT_S = 10.0
#: How far back the sign-in log is read (the December 2026 readiness and recent failures).
SIGN_IN_WINDOW_DAYS = 7

# Deliberately strict: the address ends up in an OData filter, an HTTP header
# and a PowerShell line, so anything unusual is refused rather than escaped.
_UPN_RE = re.compile(r"^[A-Za-z0-9._%+'\-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
# A JWT is three base64url parts; Entra access tokens always start with "eyJ".
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)\S+")


def default_ssl_context() -> ssl.SSLContext:
    """The system's default, certificate-verifying client context.

    Returns:
        A new ``ssl.SSLContext``.
    """
    return ssl.create_default_context()


class TokenUnavailable(Exception):
    """Raised by a token provider that cannot supply a token for a scope.

    The message must be safe to show (for example "consent declined"): it
    becomes the ``reason`` fact of the check's result.
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

    @property
    def graph_beta_url(self) -> str:
        """The Graph beta base next to ``graph_url`` (per-user MFA, non-interactive sign-ins)."""
        base = self.graph_url
        return base[: -len("/v1.0")] + "/beta" if base.endswith("/v1.0") else base + "/beta"


def is_valid_upn(value: str) -> bool:
    """Tell whether ``value`` looks like a user principal name / SMTP address.

    Args:
        value: The candidate address.

    Returns:
        True when it is a plain ``local@domain.tld`` address.
    """
    return bool(_UPN_RE.match(value))


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
        now: The moment of the run (the sign-in log window ends here).
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
    now: dt.datetime = field(default_factory=_utc_now)

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
        """True when the signed-in user is the sending mailbox."""
        if self.mailbox_id and self.mailbox_id == self.user_id:
            return True
        return self.user_upn.casefold() == self.mailbox_upn.casefold()

    @property
    def window_start(self) -> dt.datetime:
        """Where the sign-in log window starts (``SIGN_IN_WINDOW_DAYS`` before ``now``)."""
        return self.now - dt.timedelta(days=SIGN_IN_WINDOW_DAYS)

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
    finding: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    cause_id: str | None = None
    detail: str = ""


class ServiceError(Exception):
    """A service (Graph, the Exchange admin endpoint) answered an error or not at all.

    The message is redacted: it never contains the access token.
    """

    #: Prefix of the finding keys for this service ("graph", "exchange").
    service = "service"

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        retry_after: float | None = None,
        *,
        certificate: bool = False,
        host: str = "",
    ) -> None:
        """Build the error.

        Args:
            status: HTTP status, or 0 when no answer arrived.
            code: The service's error code (or a local one such as "Timeout").
            message: The service's error message, already redacted.
            retry_after: Seconds from a 429's ``Retry-After``.
            certificate: True when TLS failed because the certificate is not trusted.
            host: The host that was called (named in certificate errors).
        """
        super().__init__(f"{self.service} answered {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.certificate = certificate
        self.host = host

    def outcome(self, permission: str, cause_id: str | None = None) -> Outcome:
        """The result a check reports for this error.

        Args:
            permission: What the call needs (named when the service refuses).
            cause_id: The cause the check speaks to, kept on the result.

        Returns:
            UNKNOWN naming what went wrong (the detail keeps the raw answer).
        """
        prefix = self.service
        detail = shorten(f"{self.status} {self.code}: {self.message}".strip(": "), 300)
        facts: dict[str, Any] = {"code": self.code, "status": self.status}
        if self.certificate:
            finding = f"{prefix}.certificate"
            facts.update(host=self.host, reason=self.message)
        elif self.status == 401:
            finding = f"{prefix}.unauthorized"
        elif self.status == 403:
            finding, facts["permission"] = f"{prefix}.forbidden", permission
        elif self.status == 404:
            finding = f"{prefix}.not_found"
        elif self.status == 429:
            finding, facts["seconds"] = f"{prefix}.throttled", int(self.retry_after or 1)
        elif self.status == 0:
            finding, facts["reason"] = f"{prefix}.unreachable", self.message
        else:
            finding = f"{prefix}.error"
        return Outcome(CheckStatus.UNKNOWN, finding, facts, cause_id, detail)


T = TypeVar("T")


def _retrieved(future: asyncio.Future[Any]) -> None:
    # Every asker may have gone (a timeout): the outcome is then nobody's to report.
    if not future.cancelled():
        future.exception()


def _later(deadline: float | None, than: float | None) -> bool:
    if than is None:
        return False
    return deadline is None or deadline > than + 0.05


class SharedRequests:
    """One request per key within a run, its answer (or error) shared by every check that asks.

    A request that ran out of the budget of the check that started it is made
    again for a check with more time left, so one check's short budget never
    becomes another's "no answer".
    """

    def __init__(self) -> None:
        """Start with nothing asked."""
        self._asked: dict[str, tuple[asyncio.Future[Any], float | None]] = {}

    async def get(
        self, key: str, deadline: float | None,
        make: Callable[[float | None], Awaitable[T]],
    ) -> T:
        """The answer for ``key``: shared when asked before, else ``make(deadline)``'s.

        Args:
            key: What is asked (a URL, a cmdlet with its parameters).
            deadline: ``loop.time()`` by which this asker must be done.
            make: Makes the request within a deadline.

        Returns:
            The answer.
        """
        for _ in range(2):
            entry = self._asked.get(key)
            if entry is None:
                future: asyncio.Future[Any] = asyncio.ensure_future(make(deadline))
                future.add_done_callback(_retrieved)
                entry = self._asked[key] = (future, deadline)
            try:
                # shield: one asker's timeout must not cancel what the others await.
                answer: T = await asyncio.shield(entry[0])
                return answer
            except ServiceError as err:
                if err.code != "Timeout" or not _later(deadline, entry[1]):
                    raise
                if self._asked.get(key) is entry:
                    del self._asked[key]
        raise AssertionError("unreachable")  # pragma: no cover


def certificate_problem(exc: BaseException) -> str | None:
    """Say why TLS failed when it is a certificate problem, else None.

    Follows what wraps what: aiohttp's ``ClientConnectorCertificateError``,
    ``requests``' ``SSLError`` around urllib3's ``MaxRetryError`` around the
    ``ssl`` error, causes and contexts.

    Args:
        exc: The exception a connection raised.

    Returns:
        The verification message (e.g. "unable to get local issuer
        certificate"), or None when the error is something else.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        inner_error = getattr(current, "certificate_error", None)
        if isinstance(current, ssl.SSLCertVerificationError) and inner_error is None:
            return str(getattr(current, "verify_message", None) or getattr(current, "reason", None)
                       or "certificate verify failed")
        for inner in (inner_error, getattr(current, "reason", None),
                      current.__cause__, current.__context__, *current.args):
            if isinstance(inner, BaseException):
                pending.append(inner)
    return None


def host_of(url: str) -> str:
    """The host of a URL (named in certificate errors).

    Args:
        url: The URL.

    Returns:
        The host name.
    """
    return urlsplit(url).hostname or url


class BaseCheck(ABC):
    """Template for checks: times the run and turns token failures into UNKNOWN."""

    check_id: str = ""
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
            outcome = Outcome(
                CheckStatus.UNKNOWN, "token.unavailable", {"reason": str(exc)}, self.cause_id
            )
        duration_ms = int((time.perf_counter() - started) * 1000)
        cause = outcome.cause_id
        if cause is None and outcome.status not in (CheckStatus.FAIL, CheckStatus.WARN):
            cause = self.cause_id
        return CheckResult(
            self.check_id,
            outcome.status,
            outcome.finding,
            outcome.facts,
            cause,
            redact(outcome.detail),
            duration_ms,
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
    that came from the network passes through here before it becomes a fact.

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
    """Collapse whitespace and cut ``text`` to ``limit`` characters.

    Args:
        text: The text to shorten.
        limit: Maximum length of the result.

    Returns:
        A one-line string of at most ``limit`` characters.
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ----- Microsoft's documented response variants --------------------------------------------
def unwrap_value(value: Any) -> Any:
    """A property that Microsoft documents both bare and wrapped as ``{"value": …}``.

    ``mailboxSettings.userPurpose`` appears as ``"user"`` and as
    ``{"value": "user"}`` in Microsoft's own examples.

    Args:
        value: The property as received.

    Returns:
        The inner value of a one-key ``{"value": …}`` object (annotations such
        as ``@odata.type`` ignored), else ``value`` itself.
    """
    if isinstance(value, Mapping):
        keys = [k for k in value if not str(k).startswith("@")]
        if keys == ["value"]:
            return value["value"]
    return value


def entity_of(body: Mapping[str, Any], *, marker: str) -> Mapping[str, Any]:
    """An entity that Microsoft documents both bare and wrapped in ``value``.

    ``GET …/userRegistrationDetails/{id}`` is documented as
    ``{"value": {"id": …, "isMfaRegistered": …}}`` while the service answers
    the bare object; both are accepted.

    Args:
        body: The JSON body.
        marker: A property only the entity has (tells bare from wrapped).

    Returns:
        The entity's properties.
    """
    if marker in body:
        return body
    inner = body.get("value")
    if isinstance(inner, Mapping):
        return inner
    if isinstance(inner, list) and len(inner) == 1 and isinstance(inner[0], Mapping):
        return inner[0]
    return body


def as_bool(value: Any) -> bool | None:
    """A boolean property read tolerantly ("True", true, {"value": true}); None when unknown.

    Args:
        value: The property as received.

    Returns:
        True, False, or None when missing or unreadable (never a guess).
    """
    value = unwrap_value(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower().lstrip("$") in ("true", "false"):
        return value.strip().lower().lstrip("$") == "true"
    return None


def as_text(value: Any) -> str | None:
    """A string property read tolerantly (bare or wrapped); None when missing or not text.

    Args:
        value: The property as received.

    Returns:
        The stripped text, or None.
    """
    value = unwrap_value(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def as_texts(value: Any) -> list[str]:
    """A list-of-strings property: a JSON list, one string, or "a, b" text.

    Args:
        value: The property as received.

    Returns:
        The strings (empty when missing).
    """
    value = unwrap_value(value)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(unwrap_value(v)).strip() for v in value if str(unwrap_value(v)).strip()]
    return []
