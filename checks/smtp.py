"""A live SMTP probe of the submission endpoint (smtp.office365.com:587).

It does what a correctly configured client does up to sign-in, and stops:
EHLO, STARTTLS (TLS 1.2 or newer), EHLO again, read the AUTH mechanisms, and,
when the signed-in user is the sending mailbox and a delegated ``SMTP.Send``
token is available, ``AUTH XOAUTH2``. Then QUIT. It never sends MAIL FROM, so
no mail can leave. Exchange Online's reply strings (domain.md §2) name the
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
    CheckStatus,
    Outcome,
    TokenProvider,
    TokenUnavailable,
    redact,
    shorten,
)

logger = logging.getLogger(__name__)

SslContextFactory = Callable[[], ssl.SSLContext]
EHLO_NAME = "mail-setup-assistant"
_MAX_REPLY_LINES = 100


def default_ssl_context() -> ssl.SSLContext:
    """The system's default, certificate-verifying client context.

    Returns:
        A new ``ssl.SSLContext``.
    """
    return ssl.create_default_context()


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
    (re.compile(r"4\.7\.66|TLS 1\.0 and 1\.1 are not supported", re.I), "tls_version"),
    (re.compile(r"disabled for the Tenant", re.I), "smtp_auth_disabled_tenant"),
    (re.compile(r"disabled for the Mailbox", re.I), "smtp_auth_disabled_mailbox"),
    (re.compile(r"security defaults", re.I), "security_defaults"),
    (re.compile(r"credentials were incorrect", re.I), "wrong_credentials"),
    (re.compile(r"did not meet the criteria", re.I), "conditional_access"),
    (
        re.compile(r"basic authentication is (disabled|not supported)|\b5\.7\.30\b", re.I),
        "basic_auth_disabled",
    ),
    (re.compile(r"STARTTLS is required|Must issue a STARTTLS", re.I), "starttls_required"),
    (re.compile(r"\b5\.7\.4\b|Unrecognized authentication type", re.I), "auth_mechanism"),
    (re.compile(r"^535 5\.7\.3\b", re.I), "oauth_token"),
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


class SmtpProbeCheck(BaseCheck):
    """Connects to the SMTP submission endpoint and tries to sign in, sending no mail."""

    check_id = "smtp_probe"
    title = "Live SMTP test"
    cause_id = None

    def __init__(
        self,
        token_provider: TokenProvider,
        ssl_context_factory: SslContextFactory = default_ssl_context,
    ) -> None:
        """Create the check.

        Args:
            token_provider: Supplies the delegated token for ``SMTP_SCOPE``.
            ssl_context_factory: Builds the client TLS context (tests pass one
                trusting their generated certificate); TLS 1.2 is enforced on it.
        """
        self._tokens = token_provider
        self._ssl_context_factory = ssl_context_factory

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
            The verdict; the evidence quotes the server's reply.
        """
        host, port = context.endpoints.smtp_host, context.endpoints.smtp_port
        where = f"{host}:{port}"
        try:
            # A little beyond the runner's budget so its "timed out" message wins.
            async with asyncio.timeout_at(deadline + 0.5):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            return Outcome(CheckStatus.UNKNOWN, f"No connection to {where} in time.")
        except OSError as exc:
            return Outcome(
                CheckStatus.UNKNOWN, f"Could not connect to {where} ({type(exc).__name__})."
            )
        sent_secrets: list[str] = []
        try:
            async with asyncio.timeout_at(deadline + 0.5):
                return await self._converse(context, reader, writer, where, sent_secrets)
        except TimeoutError:
            return Outcome(CheckStatus.UNKNOWN, f"{where} stopped answering.")
        except (SmtpProtocolError, OSError) as exc:
            detail = redact(str(exc), *sent_secrets) or type(exc).__name__
            return Outcome(
                CheckStatus.UNKNOWN,
                f"The SMTP conversation with {where} broke off: {shorten(detail, 160)}.",
            )
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 0.5)

    async def _converse(
        self,
        context: CheckContext,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        where: str,
        sent_secrets: list[str],
    ) -> Outcome:
        """The conversation itself; records the token it sends in ``sent_secrets``."""

        async def command(line: str) -> SmtpReply:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()
            return await read_reply(reader)

        greeting = await read_reply(reader)
        if greeting.code != 220:
            return self._refused("greeting", greeting)
        ehlo = await command(f"EHLO {EHLO_NAME}")
        if ehlo.code != 250:
            return self._refused("EHLO", ehlo)
        if "STARTTLS" not in ehlo_capabilities(ehlo):
            return Outcome(
                CheckStatus.FAIL,
                f"{where} does not offer STARTTLS, so a client can't secure the session "
                "before signing in.",
                "starttls_required",
            )
        starttls = await command("STARTTLS")
        if starttls.code != 220:
            return self._refused("STARTTLS", starttls)
        try:
            await writer.start_tls(self._ssl_context(), server_hostname=context.endpoints.smtp_host)
        except ssl.SSLCertVerificationError as exc:
            return Outcome(
                CheckStatus.UNKNOWN,
                f"{where}'s certificate is not trusted ({exc.verify_message}); is something "
                "intercepting TLS?",
            )
        except (ssl.SSLError, ConnectionError) as exc:
            return Outcome(
                CheckStatus.FAIL,
                f"TLS 1.2 or newer could not be negotiated with {where} "
                f"({getattr(exc, 'reason', None) or type(exc).__name__}).",
                "tls_version",
            )
        ssl_object = writer.get_extra_info("ssl_object")
        tls = ssl_object.version() if ssl_object else "TLS"
        ehlo = await command(f"EHLO {EHLO_NAME}")
        if ehlo.code != 250:
            return self._refused("EHLO after STARTTLS", ehlo)
        mechanisms = ehlo_capabilities(ehlo).get("AUTH")
        if not mechanisms:
            await self._quit(command)
            return Outcome(
                CheckStatus.FAIL,
                f"{where} offers no AUTH after STARTTLS: it does not take client "
                "submission (an MX host instead of smtp.office365.com?).",
                "wrong_endpoint",
            )
        offered = f"{tls}; AUTH {' '.join(mechanisms)} offered"
        if not context.signed_in_is_mailbox:
            await self._quit(command)
            return Outcome(
                CheckStatus.PASS,
                f"{where}: {offered}. Sign-in not tried: only the mailbox's own user can test it.",
            )
        if "XOAUTH2" not in mechanisms:
            await self._quit(command)
            return Outcome(CheckStatus.UNKNOWN, f"{where}: {offered}; XOAUTH2 is not offered.")
        try:
            token = await self._tokens(SMTP_SCOPE)
            sent_secrets.append(token)
        except TokenUnavailable as exc:
            await self._quit(command)
            return Outcome(
                CheckStatus.PASS,
                f"{where}: {offered}. Sign-in not tried: no SMTP.Send token ({exc}).",
            )
        reply = await command(
            "AUTH XOAUTH2 " + xoauth2_initial_response(context.mailbox_upn, token)
        )
        if reply.code == 334:
            # SASL error challenge (base64 JSON); an empty line ends the exchange.
            reply = await command("")
        await self._quit(command)
        evidence = shorten(redact(reply.text, token), 240)
        if reply.code == 235:
            return Outcome(
                CheckStatus.PASS,
                f"{where}: {offered}; AUTH XOAUTH2 as {context.mailbox_upn} accepted: "
                f"{evidence} (no mail sent).",
            )
        cause = cause_of_reply(reply)
        status = CheckStatus.FAIL if cause else CheckStatus.UNKNOWN
        return Outcome(status, f"AUTH XOAUTH2 as {context.mailbox_upn} refused: {evidence}", cause)

    def _refused(self, step: str, reply: SmtpReply) -> Outcome:
        cause = cause_of_reply(reply)
        status = CheckStatus.FAIL if cause else CheckStatus.UNKNOWN
        return Outcome(status, f"{step} refused: {shorten(redact(reply.text), 240)}", cause)

    @staticmethod
    async def _quit(command: Callable[[str], Awaitable[SmtpReply]]) -> None:
        # Best effort: the verdict is already known, a failed QUIT changes nothing.
        with contextlib.suppress(Exception):
            await command("QUIT")
