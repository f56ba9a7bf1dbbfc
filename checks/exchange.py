"""The organisation and mailbox SMTP AUTH switches, read from Exchange Online.

Graph does not expose ``SmtpClientAuthenticationDisabled`` and the supported
Exchange Online Admin API does not cover TransportConfig or CASMailbox
(domain.md §4). The only REST route is the one the EXO V3 PowerShell module
uses, ``POST {exchange_admin_url}/{tenantId}/InvokeCommand``: unsupported and
free to change without notice, so every result read through it says so, and
any refusal degrades to "run this PowerShell and paste the output", which
:func:`parse_pasted_output` and :func:`result_from_pasted` then read.

The two switches are judged together: a mailbox value of ``$null`` inherits
the organisation's, while a mailbox ``$false`` overrides an organisation that
has SMTP AUTH turned off.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp

from checks.base import (
    EXCHANGE_SCOPE,
    BaseCheck,
    CheckContext,
    CheckResult,
    CheckStatus,
    Outcome,
    TokenProvider,
    redact,
    shorten,
)

logger = logging.getLogger(__name__)

UNSUPPORTED_LABEL = "read through an unsupported Microsoft endpoint: Exchange admin InvokeCommand"
PASTED_LABEL = "read from the PowerShell output you pasted"
PROPERTY = "SmtpClientAuthenticationDisabled"
POWERSHELL_TENANT = f"Get-TransportConfig | Format-List {PROPERTY}"


class _NotRead(enum.Enum):
    NOT_READ = "not read"


#: Marks a switch whose value could not be read (distinct from None = blank/$null).
NOT_READ = _NotRead.NOT_READ
SwitchValue = bool | None | _NotRead
Section = Literal["tenant", "mailbox"]


def ps_quote(value: str) -> str:
    """Quote a value as a single-quoted PowerShell string.

    Args:
        value: An already validated address.

    Returns:
        The value in single quotes, embedded quotes doubled.
    """
    return "'" + value.replace("'", "''") + "'"


def powershell_mailbox(upn: str) -> str:
    """The PowerShell line that shows the mailbox switch.

    Args:
        upn: The mailbox address.

    Returns:
        A ``Get-CASMailbox … | Format-List`` line.
    """
    return f"Get-CASMailbox -Identity {ps_quote(upn)} | Format-List {PROPERTY}"


def powershell_lines(context: CheckContext) -> list[str]:
    """The PowerShell lines the admin runs when the endpoint refuses.

    Args:
        context: Supplies the mailbox address.

    Returns:
        The organisation line and the mailbox line.
    """
    return [POWERSHELL_TENANT, powershell_mailbox(context.mailbox_upn)]


class ExchangeAdminError(Exception):
    """The Exchange admin endpoint refused or failed; the message is redacted."""

    def __init__(self, status: int, detail: str) -> None:
        """Build the error.

        Args:
            status: HTTP status, or 0 when no answer arrived.
            detail: What the endpoint said, without tokens.
        """
        super().__init__(f"Exchange admin endpoint answered {status}: {detail}")
        self.status = status
        self.detail = detail


class ExchangeAdminClient:
    """Calls ``InvokeCommand`` with an injected session and token provider."""

    def __init__(self, session: aiohttp.ClientSession, token_provider: TokenProvider) -> None:
        """Create the client.

        Args:
            session: The shared HTTP session (owned by the caller).
            token_provider: Returns a token for ``EXCHANGE_SCOPE``.
        """
        self._session = session
        self._tokens = token_provider

    async def invoke(
        self,
        context: CheckContext,
        cmdlet: str,
        parameters: Mapping[str, Any],
        *,
        deadline: float | None = None,
    ) -> list[dict[str, Any]]:
        """Run one read-only cmdlet and return its output objects.

        Args:
            context: Supplies the endpoint, tenant id and the admin's UPN.
            cmdlet: A ``Get-*`` cmdlet name.
            parameters: The cmdlet's parameters.
            deadline: ``loop.time()`` by which the caller must be done.

        Returns:
            The ``value`` list of the response.

        Raises:
            ExchangeAdminError: The endpoint refused, failed or answered nothing.
        """
        if not cmdlet.startswith("Get-"):
            # This engine only ever reads; refuse anything else outright.
            raise ValueError(f"only Get- cmdlets are allowed, not {cmdlet!r}")
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
            raise ExchangeAdminError(0, "no answer in time") from exc
        except aiohttp.ClientError as exc:
            raise ExchangeAdminError(0, f"could not connect ({type(exc).__name__})") from exc
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError:
            data = {}
        if status >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            if isinstance(error, dict):
                detail = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
            else:
                detail = text
            raise ExchangeAdminError(status, shorten(redact(detail, token), 200) or "no details")
        values = data.get("value") if isinstance(data, dict) else None
        if not isinstance(values, list) or not values:
            raise ExchangeAdminError(status, f"{cmdlet} returned no objects")
        return [v for v in values if isinstance(v, dict)]


def _as_switch(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower().lstrip("$")
    if text in ("", "null"):
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError(f"not a switch value: {value!r}")


def _describe(value: SwitchValue) -> str:
    if value is NOT_READ:
        return "not read"
    if value is None:
        return "blank (inherits the organisation setting)"
    return "True (off)" if value else "False (on)"


def evaluate_switches(
    tenant_disabled: SwitchValue, mailbox_disabled: SwitchValue, mailbox_upn: str
) -> Outcome:
    """Judge the organisation and mailbox switches together.

    Args:
        tenant_disabled: ``Get-TransportConfig`` SmtpClientAuthenticationDisabled,
            or ``NOT_READ``.
        mailbox_disabled: ``Get-CASMailbox`` SmtpClientAuthenticationDisabled
            (None = blank, inherits), or ``NOT_READ``.
        mailbox_upn: The mailbox, for the evidence and PowerShell lines.

    Returns:
        PASS when SMTP AUTH is on for the mailbox, FAIL naming the switch that
        turns it off, UNKNOWN (with the PowerShell to run) when it can't tell.
    """
    facts = (
        f"organisation {PROPERTY} = {_describe(tenant_disabled)}; "
        f"mailbox {mailbox_upn} = {_describe(mailbox_disabled)}."
    )
    if mailbox_disabled is False:
        extra = " The mailbox setting overrides the organisation's." if tenant_disabled else ""
        return Outcome(CheckStatus.PASS, f"SMTP AUTH is on for the mailbox: {facts}{extra}")
    if mailbox_disabled is True:
        return Outcome(
            CheckStatus.FAIL,
            f"SMTP AUTH is off for the mailbox: {facts}",
            "smtp_auth_disabled_mailbox",
        )
    if mailbox_disabled is None:
        if tenant_disabled is True:
            return Outcome(
                CheckStatus.FAIL,
                f"SMTP AUTH is off for the organisation and the mailbox inherits it: {facts}",
                "smtp_auth_disabled_tenant",
            )
        if tenant_disabled is False:
            return Outcome(CheckStatus.PASS, f"SMTP AUTH is on: {facts}")
        return Outcome(
            CheckStatus.UNKNOWN,
            f"{facts} Run this PowerShell and paste the output: {POWERSHELL_TENANT}",
            "smtp_auth_disabled_tenant",
        )
    # The mailbox switch was not read: it may override either way.
    lines = [powershell_mailbox(mailbox_upn)]
    if tenant_disabled is NOT_READ:
        lines.insert(0, POWERSHELL_TENANT)
    # With the organisation off, only a mailbox override could still allow SMTP;
    # with it on, only a mailbox block could stop it; unread, we can't say.
    cause: str | None = None
    if tenant_disabled is True:
        cause = "smtp_auth_disabled_tenant"
    elif tenant_disabled is False:
        cause = "smtp_auth_disabled_mailbox"
    return Outcome(
        CheckStatus.UNKNOWN,
        f"{facts} Run this PowerShell and paste the output: " + " ; ".join(lines),
        cause,
    )


class SmtpAuthSwitchesCheck(BaseCheck):
    """Reads both SMTP AUTH switches through the unsupported InvokeCommand route."""

    check_id = "smtp_auth_switches"
    title = "SMTP AUTH switches (unsupported Microsoft endpoint)"
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
            The joint verdict, labelled as coming from an unsupported endpoint.
        """
        (tenant, tenant_err), (mailbox, mailbox_err) = await asyncio.gather(
            self._read(context, "Get-TransportConfig", {}, deadline),
            self._read(context, "Get-CASMailbox", {"Identity": context.mailbox_upn}, deadline),
        )
        outcome = evaluate_switches(tenant, mailbox, context.mailbox_upn)
        errors = [e for e in (tenant_err, mailbox_err) if e]
        if errors:
            refused = (
                "The Exchange admin endpoint (unsupported by Microsoft) refused: "
                + "; ".join(errors)
                + ". "
            )
            return Outcome(
                outcome.status, shorten(refused + outcome.evidence, 600), outcome.cause_id
            )
        return Outcome(
            outcome.status, f"{outcome.evidence} ({UNSUPPORTED_LABEL})", outcome.cause_id
        )

    async def _read(
        self, context: CheckContext, cmdlet: str, params: Mapping[str, Any], deadline: float
    ) -> tuple[SwitchValue, str | None]:
        try:
            values = await self.client.invoke(context, cmdlet, params, deadline=deadline)
            return _as_switch(values[0].get(PROPERTY)), None
        except ExchangeAdminError as err:
            return NOT_READ, f"{cmdlet}: {err.status} {err.detail.rstrip('.')}"
        except ValueError as err:
            return NOT_READ, f"{cmdlet}: unexpected value ({err})"


class PastedOutputError(ValueError):
    """The pasted output contradicts itself (for example several mailboxes differ)."""


_COMMAND_RE = re.compile(r"(?i)\bget-(transportconfig|casmailbox)\b")
_LIST_RE = re.compile(rf"(?i)^\s*{PROPERTY}\s*:\s*(\S*)\s*$")
_JSON_RE = re.compile(rf'(?i)"{PROPERTY}"\s*:\s*"?(true|false|null)?"?')
# Format-Table truncates long headers ("SmtpClientAuthenticationDis..."), so match a prefix.
_HEADER_PREFIX = "smtpclientauth"


def _section_of(line: str) -> Section | None:
    match = _COMMAND_RE.search(line)
    if not match:
        return None
    return "tenant" if match.group(1).lower() == "transportconfig" else "mailbox"


def parse_pasted_output(text: str, *, default: Section | None = None) -> dict[str, bool | None]:
    """Read ``SmtpClientAuthenticationDisabled`` from pasted PowerShell output.

    Understands ``Format-List`` (``Name : True``), ``Format-Table`` (a column,
    possibly with its header truncated), ``ConvertTo-Json`` and blank values
    (``$null``). Lines mentioning ``Get-TransportConfig`` / ``Get-CASMailbox``
    (the prompt line the admin copied along) attribute what follows them.

    Args:
        text: What the admin pasted.
        default: Where values without a preceding command line belong (the
            bot knows which command it asked for); without it they are
            returned under "unattributed".

    Returns:
        A dict with any of the keys "tenant", "mailbox", "unattributed", each
        True (SMTP AUTH off), False (on) or None (blank: inherits). Empty when
        nothing readable was found.

    Raises:
        PastedOutputError: One command shows different values (several mailboxes).
    """
    found: dict[str, list[bool | None]] = {}
    section: str = default or "unattributed"
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        new_section = _section_of(line)
        if new_section:
            section = new_section
            i += 1
            continue
        if match := _LIST_RE.match(line):
            try:
                found.setdefault(section, []).append(_as_switch(match.group(1)))
            except ValueError:
                pass
            i += 1
            continue
        if match := _JSON_RE.search(line):
            found.setdefault(section, []).append(_as_switch(match.group(1) or ""))
            i += 1
            continue
        header_at = line.lower().find(_HEADER_PREFIX)
        if header_at >= 0 and i + 1 < len(lines) and _is_rule(lines[i + 1]):
            values, i = _read_table(lines, i, header_at)
            found.setdefault(section, []).extend(values)
            continue
        i += 1
    result: dict[str, bool | None] = {}
    for key, values in found.items():
        if len(set(values)) > 1:
            raise PastedOutputError(
                f"The output shows different values for {key!r}; paste one mailbox at a time."
            )
        result[key] = values[0]
    return result


def _is_rule(line: str) -> bool:
    """Tell whether a line is Format-Table's dashed rule under the headers."""
    stripped = line.strip()
    return "-" in stripped and set(stripped) <= {"-", " "}


def _read_table(lines: list[str], header: int, header_at: int) -> tuple[list[bool | None], int]:
    """Read one Format-Table column; returns the values and the next line index."""
    dashes = lines[header + 1]
    # The dash run under the header gives the column's extent; booleans are
    # right-aligned inside it and text may spill into the gap before it.
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", dashes)]
    column = next(((s, e) for s, e in spans if s <= header_at < e or s >= header_at), None)
    if column is None:
        return [], header + 2
    start, end = column
    next_start = next((s for s, _ in spans if s >= end), None)
    values: list[bool | None] = []
    i = header + 2
    while i < len(lines) and lines[i].strip() and not _section_of(lines[i]):
        cell = lines[i][start:next_start].strip() if next_start else lines[i][start:].strip()
        # A value that begins before the column (wide previous cell) is still ours.
        if not cell:
            tail = lines[i][:next_start] if next_start else lines[i]
            words = tail.split()
            cell = words[-1] if words and words[-1].lower().lstrip("$") in ("true", "false") else ""
        try:
            values.append(_as_switch(cell))
        except ValueError:
            pass
        i += 1
    if i == header + 2:
        values.append(None)  # header, dashes, then nothing: the value is blank.
    return values, i


def result_from_pasted(
    text: str,
    context: CheckContext,
    *,
    default: Section | None = None,
    known: Mapping[str, bool | None] | None = None,
) -> CheckResult:
    """Judge the switches from pasted PowerShell output (the refusal fallback).

    Args:
        text: What the admin pasted.
        context: Supplies the mailbox address.
        default: Which command the bot asked for, for output without a prompt line.
        known: Values already known (for example from an earlier paste), keyed
            "tenant"/"mailbox"; the pasted ones win.

    Returns:
        A ``smtp_auth_switches`` result labelled as read from the pasted output.

    Raises:
        PastedOutputError: The output contradicts itself.
    """
    started = time.perf_counter()
    values: dict[str, bool | None] = dict(known or {})
    parsed = parse_pasted_output(text, default=default)
    if "unattributed" in parsed:
        # One unlabelled value with only one switch still missing: it's that one.
        missing = [k for k in ("tenant", "mailbox") if k not in values and k not in parsed]
        if len(missing) == 1:
            parsed[missing[0]] = parsed.pop("unattributed")
    values.update({k: v for k, v in parsed.items() if k in ("tenant", "mailbox")})
    outcome = evaluate_switches(
        values.get("tenant", NOT_READ), values.get("mailbox", NOT_READ), context.mailbox_upn
    )
    if not parsed:
        evidence = "No SmtpClientAuthenticationDisabled value found in the pasted text. " + (
            outcome.evidence
        )
    else:
        evidence = f"{outcome.evidence} ({PASTED_LABEL})"
    return CheckResult(
        SmtpAuthSwitchesCheck.check_id,
        "SMTP AUTH switches",
        outcome.status,
        evidence,
        outcome.cause_id,
        int((time.perf_counter() - started) * 1000),
    )
