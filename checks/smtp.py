"""A live SMTP probe of the submission endpoint (smtp.office365.com:587).

It does what a correctly configured client does up to sign-in, and stops:
EHLO, STARTTLS (TLS 1.2 or newer), EHLO again, read the AUTH mechanisms, and
``AUTH XOAUTH2`` with ``user=<sending mailbox>`` and the signed-in user's
delegated ``SMTP.Send`` token. Microsoft accepts that when the signed-in user
is the mailbox or has Full Access to it (a shared mailbox is sent from exactly
this way), so the probe first reads the Full Access list through the Exchange
admin endpoint, and otherwise says plainly why it did not try. Then QUIT. It
never sends MAIL FROM, so no mail can leave. Exchange Online's reply strings (domain.md §2) name the
cause: the 5.7.139 texts appear even for OAuth when SMTP AUTH is switched off.

Written on asyncio streams (``StreamWriter.start_tls`` wraps
``loop.start_tls``) rather than smtplib in a thread: no thread per probe, and
cancellation by the runner's timeout closes the socket at once. The access
token is only ever written to the socket; evidence is built from the server's
replies, redacted anyway.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from checks.base import (
    SMTP_SCOPE,
    BaseCheck,
    CheckContext,
    Outcome,
    SslContextFactory,
    TokenProvider,
    TokenUnavailable,
    default_ssl_context,
    redact,
    shorten,
)
from checks.exchange import ExchangeAdminClient, ExchangeAdminError, full_access_holders
from dialogs.live.results import CheckStatus

logger = logging.getLogger(__name__)

EHLO_NAME = "mail-setup-assistant"
_MAX_REPLY_LINES = 100


class SmtpProtocolError(Exception):
    """The server said something that is not an SMTP reply."""


@dataclass(frozen=True)
class SmtpReply:
    """One (possibly multi-line) SMTP reply."""

    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The reply as the server wrote it, lines joined by spaces."""
        return " ".join(f"{self.code} {line}".strip() for line in self.lines)


async def read_reply(reader: asyncio.StreamReader) -> SmtpReply:
    """Read one SMTP reply (continuation lines use ``code-``).

    Args:
        reader: The connection's reader.

    Returns:
        The reply.

    Raises:
        SmtpProtocolError: The connection closed or the line is not a reply.
    """
    lines: list[str] = []
    code = 0
    for _ in range(_MAX_REPLY_LINES):
        raw = await reader.readline()
        if not raw:
            raise SmtpProtocolError("the server closed the connection")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if len(line) < 3 or not line[:3].isdigit():
            raise SmtpProtocolError(f"not an SMTP reply: {shorten(line, 80)!r}")
        code = int(line[:3])
        lines.append(line[4:])
        if len(line) == 3 or line[3] != "-":
            return SmtpReply(code, tuple(lines))
    raise SmtpProtocolError("reply too long")


def ehlo_capabilities(reply: SmtpReply) -> dict[str, list[str]]:
    """Parse the extensions of a 250 EHLO reply.

    Args:
        reply: The EHLO reply.

    Returns:
        Extension keyword (upper case) -> its parameters (upper case).
    """
    caps: dict[str, list[str]] = {}
    for line in reply.lines[1:]:
        words = line.split()
        if words:
            caps[words[0].upper()] = [w.upper() for w in words[1:]]
    return caps


def xoauth2_initial_response(upn: str, token: str) -> str:
    """Build the SASL XOAUTH2 initial response.

    Args:
        upn: The mailbox signing in.
        token: The delegated SMTP.Send access token.

    Returns:
        base64 of ``user=<upn>^Aauth=Bearer <token>^A^A``.
    """
    raw = f"user={upn}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(raw.encode()).decode("ascii")


_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"4\.7\.66|TLS 1\.0 and 1\.1 are not supported", re.IGNORECASE), "tls_version"),
    (re.compile(r"disabled for the Tenant", re.IGNORECASE), "smtp_auth_disabled_tenant"),
    (re.compile(r"disabled for the Mailbox", re.IGNORECASE), "smtp_auth_disabled_mailbox"),
    (re.compile(r"security defaults", re.IGNORECASE), "security_defaults"),
    (re.compile(r"credentials were incorrect", re.IGNORECASE), "wrong_credentials"),
    (re.compile(r"did not meet the criteria", re.IGNORECASE), "conditional_access"),
    (
        re.compile(r"basic authentication is (disabled|not supported)|\b5\.7\.30\b", re.IGNORECASE),
        "basic_auth_disabled",
    ),
    (re.compile(r"STARTTLS is required|Must issue a STARTTLS", re.IGNORECASE), "starttls_required"),
    (re.compile(r"\b5\.7\.4\b|Unrecognized authentication type", re.IGNORECASE), "auth_mechanism"),
    (re.compile(r"^535 5\.7\.3\b", re.IGNORECASE), "oauth_token"),
    # Blocked senders and tenants (Restricted entities, outbound spam, banned IPs or tenants):
    # only Microsoft support can lift these.
    (re.compile(r"\b5\.1\.8\b|\b5\.7\.(?:501|502|503|511|705|708|750)\b"), "sender_blocked"),
)


def cause_of_reply(reply: SmtpReply) -> str | None:
    """Name the knowledge cause an Exchange Online reply speaks to.

    Args:
        reply: A non-success reply.

    Returns:
        The cause id, "unknown" for an unexplained 5xx, None for transient 4xx.
    """
    for pattern, cause in _RULES:
        if pattern.search(reply.text):
            return cause
    return "unknown" if reply.code >= 500 else None


@dataclass(frozen=True)
class _Access:
    """Whether the probe may sign in as the mailbox, and why not."""

    allowed: bool
    finding: str = ""
    facts: dict[str, str] | None = None


class SmtpProbeCheck(BaseCheck):
    """Connects to the SMTP submission endpoint and signs in, sending no mail."""

    check_id = "smtp_probe"
    cause_id = None

    def __init__(
        self,
        token_provider: TokenProvider,
        ssl_context_factory: SslContextFactory = default_ssl_context,
        exchange: ExchangeAdminClient | None = None,
    ) -> None:
        """Create the check.

        Args:
            token_provider: Supplies the delegated token for ``SMTP_SCOPE``.
            ssl_context_factory: Builds the client TLS context (the operator's CA
                setting decides what it trusts); TLS 1.2 is enforced on it.
            exchange: Reads who has Full Access to the mailbox; None means the
                probe only signs in when the signed-in user is the mailbox.
        """
        self._tokens = token_provider
        self._ssl_context_factory = ssl_context_factory
        self._exchange = exchange

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = self._ssl_context_factory()
        # Exchange Online refuses TLS 1.0/1.1 (421 4.7.66); a probe that
        # negotiated them would prove nothing about a real client.
        floor = ssl.TLSVersion.TLSv1_2
        if ctx.minimum_version == ssl.TLSVersion.MINIMUM_SUPPORTED or (
            ctx.minimum_version != ssl.TLSVersion.MAXIMUM_SUPPORTED and ctx.minimum_version < floor
        ):
            ctx.minimum_version = floor
        return ctx

    async def evaluate(self, context: CheckContext, deadline: float) -> Outcome:
        """Run the SMTP conversation and judge it.

        Args:
            context: Supplies the host/port, the mailbox and who signed in.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            The verdict; the detail quotes the server's reply.
        """
        host, port = context.endpoints.smtp_host, context.endpoints.smtp_port
        where = f"{host}:{port}"
        # Who may sign in as the mailbox is read while the connection is set up.
        access = asyncio.ensure_future(self._access(context, deadline))
        try:
            try:
                # A little beyond the runner's budget so its "timed out" message wins.
                async with asyncio.timeout_at(deadline + 0.5):
                    reader, writer = await asyncio.open_connection(host, port)
            except TimeoutError:
                return Outcome(CheckStatus.UNKNOWN, "smtp.timeout", {"where": where})
            except OSError as exc:
                return Outcome(
                    CheckStatus.UNKNOWN, "smtp.unreachable",
                    {"where": where, "reason": type(exc).__name__},
                )
            sent_secrets: list[str] = []
            try:
                async with asyncio.timeout_at(deadline + 0.5):
                    return await self._converse(
                        context, reader, writer, where, sent_secrets, access
                    )
            except TimeoutError:
                return Outcome(CheckStatus.UNKNOWN, "smtp.timeout", {"where": where})
            except (SmtpProtocolError, OSError) as exc:
                detail = redact(str(exc), *sent_secrets) or type(exc).__name__
                return Outcome(
                    CheckStatus.UNKNOWN, "smtp.broke_off",
                    {"where": where, "reason": shorten(detail, 160)},
                )
            finally:
                writer.close()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(writer.wait_closed(), 0.5)
        finally:
            if not access.done():
                access.cancel()

    async def _access(self, context: CheckContext, deadline: float) -> _Access:
        """May the signed-in user sign in as the mailbox (itself, or with Full Access)?"""
        if context.signed_in_is_mailbox:
            return _Access(True)
        who = {"signed_in": context.user_upn, "mailbox": context.mailbox_upn}
        if self._exchange is None:
            return _Access(False, "smtp.skipped_access_unknown",
                           {**who, "reason": "Exchange is not read"})
        try:
            holders = await full_access_holders(self._exchange, context, deadline)
        except ExchangeAdminError as err:
            if err.not_found:
                return _Access(False, "smtp.skipped_no_mailbox", who)
            return _Access(False, "smtp.skipped_access_unknown",
                           {**who, "reason": f"{err.status} {err.code}".strip()})
        except TokenUnavailable as err:
            return _Access(False, "smtp.skipped_access_unknown", {**who, "reason": str(err)})
        if context.user_upn.lower() in holders or context.user_id.lower() in holders:
            return _Access(True)
        return _Access(False, "smtp.skipped_no_access", who)

    async def _converse(
        self,
        context: CheckContext,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        where: str,
        sent_secrets: list[str],
        access_task: asyncio.Future[_Access],
    ) -> Outcome:
        """The conversation itself; records the token it sends in ``sent_secrets``."""

        async def command(line: str) -> SmtpReply:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()
            return await read_reply(reader)

        greeting = await read_reply(reader)
        if greeting.code != 220:
            return self._refused(where, "greeting", greeting)
        ehlo = await command(f"EHLO {EHLO_NAME}")
        if ehlo.code != 250:
            return self._refused(where, "EHLO", ehlo)
        if "STARTTLS" not in ehlo_capabilities(ehlo):
            return Outcome(
                CheckStatus.FAIL, "smtp.no_starttls", {"where": where}, "starttls_required"
            )
        starttls = await command("STARTTLS")
        if starttls.code != 220:
            return self._refused(where, "STARTTLS", starttls)
        try:
            await writer.start_tls(self._ssl_context(), server_hostname=context.endpoints.smtp_host)
        except ssl.SSLCertVerificationError as exc:
            return Outcome(
                CheckStatus.UNKNOWN, "smtp.certificate",
                {"where": where, "reason": str(exc.verify_message or exc.reason)},
            )
        except (ssl.SSLError, ConnectionError) as exc:
            return Outcome(
                CheckStatus.FAIL, "smtp.tls_failed",
                {"where": where, "reason": getattr(exc, "reason", None) or type(exc).__name__},
                "tls_version",
            )
        ssl_object = writer.get_extra_info("ssl_object")
        tls = str(ssl_object.version()) if ssl_object else "TLS"
        ehlo = await command(f"EHLO {EHLO_NAME}")
        if ehlo.code != 250:
            return self._refused(where, "EHLO after STARTTLS", ehlo)
        mechanisms = ehlo_capabilities(ehlo).get("AUTH")
        facts = {"where": where, "tls": tls, "user": context.mailbox_upn,
                 "mechanisms": " ".join(mechanisms or [])}
        if not mechanisms:
            await self._quit(command)
            return Outcome(CheckStatus.FAIL, "smtp.no_auth", facts, "wrong_endpoint")
        access = await access_task
        if not access.allowed:
            await self._quit(command)
            return Outcome(CheckStatus.SKIPPED, access.finding, {**facts, **(access.facts or {})})
        if "XOAUTH2" not in mechanisms:
            await self._quit(command)
            return Outcome(CheckStatus.UNKNOWN, "smtp.no_xoauth2", facts)
        try:
            token = await self._tokens(SMTP_SCOPE)
            sent_secrets.append(token)
        except TokenUnavailable as exc:
            await self._quit(command)
            return Outcome(CheckStatus.SKIPPED, "smtp.skipped_no_token",
                           {**facts, "reason": str(exc)})
        reply = await command(
            "AUTH XOAUTH2 " + xoauth2_initial_response(context.mailbox_upn, token)
        )
        if reply.code == 334:
            # SASL error challenge (base64 JSON); an empty line ends the exchange.
            reply = await command("")
        await self._quit(command)
        answer = shorten(redact(reply.text, token), 240)
        if reply.code == 235:
            return Outcome(CheckStatus.PASS, "smtp.accepted", facts, None, answer)
        cause = cause_of_reply(reply)
        status = CheckStatus.FAIL if cause else CheckStatus.UNKNOWN
        return Outcome(status, "smtp.refused", {**facts, "reply": answer}, cause, answer)

    def _refused(self, where: str, step: str, reply: SmtpReply) -> Outcome:
        cause = cause_of_reply(reply)
        status = CheckStatus.FAIL if cause else CheckStatus.UNKNOWN
        answer = shorten(redact(reply.text), 240)
        return Outcome(
            status, "smtp.step_refused", {"where": where, "step": step, "reply": answer},
            cause, answer,
        )

    @staticmethod
    async def _quit(command: Callable[[str], Awaitable[SmtpReply]]) -> None:
        # Best effort: the verdict is already known, a failed QUIT changes nothing.
        with contextlib.suppress(Exception):
            await command("QUIT")
