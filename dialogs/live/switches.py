"""The organisation and mailbox SMTP AUTH switches, judged together, and read from a paste.

Exchange Online has two switches: the organisation's
``Get-TransportConfig`` ``SmtpClientAuthenticationDisabled`` and the mailbox's
``Get-CASMailbox`` one. A mailbox value of ``$null`` (blank) inherits the
organisation's, and a mailbox ``$false`` overrides an organisation that has
SMTP AUTH turned off (domain.md §1). The checks read the switches through the
Exchange admin endpoint; when it refuses, the admin runs the PowerShell and
pastes the output, which :func:`parse_pasted_output` reads back. Either way
the judgement is :func:`judge_switches`, so both paths say the same.
"""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from dialogs.live.results import CheckResult, CheckStatus
from dialogs.powershell import InvalidIdentity, quote_literal, validate_identity

CHECK_ID = "smtp_auth_switches"
PROPERTY = "SmtpClientAuthenticationDisabled"
POWERSHELL_TENANT = f"Get-TransportConfig | Format-List {PROPERTY}"
#: Fact values: how a switch was read ("unread": not read at all).
ON, OFF, INHERITS, UNREAD = "on", "off", "inherits", "unread"


class _NotRead(enum.Enum):
    NOT_READ = "not read"


#: Marks a switch whose value could not be read (distinct from None = blank/$null).
NOT_READ = _NotRead.NOT_READ
SwitchValue = bool | None | _NotRead
Section = Literal["tenant", "mailbox"]


@dataclass(frozen=True)
class Verdict:
    """A judgement before it becomes a :class:`CheckResult`."""

    status: CheckStatus
    finding: str
    cause_id: str | None = None
    facts: Mapping[str, str] = field(default_factory=dict)


def powershell_mailbox(mailbox: str) -> str:
    """The PowerShell line that shows the mailbox switch, the address validated and quoted.

    Args:
        mailbox: The mailbox address.

    Returns:
        A ``Get-CASMailbox … | Format-List`` line.

    Raises:
        InvalidIdentity: The address is not one the bot puts into PowerShell.
    """
    identity = quote_literal(validate_identity(mailbox))
    return f"Get-CASMailbox -Identity {identity} | Format-List {PROPERTY}"


def as_fact(value: SwitchValue) -> str:
    """How a switch value is written into a result's facts.

    Args:
        value: True (SMTP AUTH off), False (on), None (blank), or NOT_READ.

    Returns:
        "off", "on", "inherits" or "unread".
    """
    if value is NOT_READ:
        return UNREAD
    if value is None:
        return INHERITS
    return OFF if value else ON


def from_fact(text: str | None) -> SwitchValue:
    """The inverse of :func:`as_fact` (anything unknown is NOT_READ).

    Args:
        text: A fact value.

    Returns:
        The switch value.
    """
    return {OFF: True, ON: False, INHERITS: None}.get(text or "", NOT_READ)


def judge_switches(tenant: SwitchValue, mailbox: SwitchValue) -> Verdict:
    """Judge the organisation and mailbox switches together.

    Args:
        tenant: ``Get-TransportConfig`` SmtpClientAuthenticationDisabled, or NOT_READ.
        mailbox: ``Get-CASMailbox`` SmtpClientAuthenticationDisabled (None =
            blank, inherits), or NOT_READ.

    Returns:
        PASS when SMTP AUTH is on for the mailbox, FAIL naming the switch that
        turns it off, UNKNOWN when it can't tell (the facts say which switch
        is still unread).
    """
    facts = {"tenant": as_fact(tenant), "mailbox": as_fact(mailbox)}
    if mailbox is False:
        finding = "switches.mailbox_overrides" if tenant is True else "switches.on"
        return Verdict(CheckStatus.PASS, finding, None, facts)
    if mailbox is True:
        return Verdict(
            CheckStatus.FAIL, "switches.mailbox_off", "smtp_auth_disabled_mailbox", facts
        )
    if mailbox is None:
        if tenant is True:
            return Verdict(
                CheckStatus.FAIL, "switches.tenant_off", "smtp_auth_disabled_tenant", facts
            )
        if tenant is False:
            return Verdict(CheckStatus.PASS, "switches.on", None, facts)
        return Verdict(CheckStatus.UNKNOWN, "switches.unread", "smtp_auth_disabled_tenant", facts)
    # The mailbox switch was not read: it may override either way. With the
    # organisation off only a mailbox override could still allow SMTP; with it
    # on only a mailbox block could stop it; with neither read, we can't say.
    cause: str | None = None
    if tenant is True:
        cause = "smtp_auth_disabled_tenant"
    elif tenant is False:
        cause = "smtp_auth_disabled_mailbox"
    return Verdict(CheckStatus.UNKNOWN, "switches.unread", cause, facts)


def paste_commands(result: CheckResult | None, mailbox: str) -> list[str]:
    """The PowerShell the admin should run and paste: only for switches still unread.

    Args:
        result: The switches result (None when the check did not run).
        mailbox: The mailbox address.

    Returns:
        The lines; empty when both switches are known, when the mailbox does
        not exist (nothing to read) or the address can't go into PowerShell.
    """
    if result is None or result.check_id != CHECK_ID or result.status is not CheckStatus.UNKNOWN:
        return []
    lines: list[str] = []
    if from_fact(result.fact("tenant")) is NOT_READ:
        lines.append(POWERSHELL_TENANT)
    if from_fact(result.fact("mailbox")) is NOT_READ:
        with contextlib.suppress(InvalidIdentity):  # no line for what can't go into PowerShell
            lines.append(powershell_mailbox(mailbox))
    return lines


def parse_switch(value: object) -> bool | None:
    """Read one switch value as PowerShell or JSON shows it.

    Args:
        value: True/False/None, or text such as "True", "$false", "null", "".

    Returns:
        True, False or None (blank).

    Raises:
        ValueError: Not a switch value.
    """
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


# ------------------------------------------------------------------ pasted output


class PastedOutputError(ValueError):
    """The pasted output contradicts itself (for example several mailboxes differ)."""


_COMMAND_RE = re.compile(r"(?i)\bget-(transportconfig|casmailbox)\b")
_LIST_RE = re.compile(rf"(?i)^\s*{PROPERTY}\s*:\s*(\S*)\s*$")
_JSON_RE = re.compile(rf'(?i)"{PROPERTY}"\s*:\s*"?(true|false|null)?"?')
# Format-Table truncates long headers ("SmtpClientAuthenticationDis..."), so match a prefix.
_HEADER_PREFIX = "smtpclientauth"


def looks_like_paste(text: str) -> bool:
    """True when a message looks like pasted Get-TransportConfig / Get-CASMailbox output.

    Args:
        text: What the customer sent.

    Returns:
        Whether to read it as the PowerShell output the bot asked for.
    """
    lowered = (text or "").lower()
    return _HEADER_PREFIX in lowered or bool(_COMMAND_RE.search(lowered))


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
            with contextlib.suppress(ValueError):  # "Name : something else" is not a switch
                found.setdefault(section, []).append(parse_switch(match.group(1)))
            i += 1
            continue
        if match := _JSON_RE.search(line):
            found.setdefault(section, []).append(parse_switch(match.group(1) or ""))
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
            raise PastedOutputError(key)
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
        with contextlib.suppress(ValueError):
            values.append(parse_switch(cell))
        i += 1
    if i == header + 2:
        values.append(None)  # header, dashes, then nothing: the value is blank.
    return values, i


def read_paste(
    text: str, known: Mapping[str, bool | None]
) -> tuple[dict[str, bool | None], bool]:
    """Merge what a paste shows into the switch values known so far.

    Args:
        text: What the admin pasted.
        known: Values read before (an earlier paste), keyed "tenant"/"mailbox".

    Returns:
        The merged values and whether the paste held any value at all.

    Raises:
        PastedOutputError: The output contradicts itself.
    """
    parsed = parse_pasted_output(text)
    if "unattributed" in parsed:
        # One unlabelled value with only one switch still missing: it's that one.
        missing = [k for k in ("tenant", "mailbox") if k not in known and k not in parsed]
        if len(missing) == 1:
            parsed[missing[0]] = parsed.pop("unattributed")
    values = dict(known)
    values.update({k: v for k, v in parsed.items() if k in ("tenant", "mailbox")})
    return values, bool(parsed)


def result_from_pasted(values: Mapping[str, bool | None], *, readable: bool) -> CheckResult:
    """The switches result from pasted values (the refusal fallback).

    Args:
        values: The switch values known, keyed "tenant"/"mailbox".
        readable: False when the last paste held no value (said so in the result).

    Returns:
        A ``smtp_auth_switches`` result labelled as read from the pasted output.
    """
    verdict = judge_switches(values.get("tenant", NOT_READ), values.get("mailbox", NOT_READ))
    facts = {**verdict.facts, "source": "pasted" if readable else "paste_unreadable"}
    return CheckResult(CHECK_ID, verdict.status, verdict.finding, facts, verdict.cause_id)
