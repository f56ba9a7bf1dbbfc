"""What one live check reports, shared by the checks (``checks/``) and the domain.

A check reads a setting and answers with a :class:`CheckResult`: a status, a
*finding* (the key of the sentence that explains it, in
:mod:`dialogs.live.phrases`), the *facts* that sentence needs and that the
verdict rules read (for example ``{"recipient_type": "SharedMailbox"}``), the
knowledge cause it points to, and the raw technical detail the service
answered (a server reply, an error code), never a token.

The checks never write sentences: words live in one place so they can be
translated, and the facts stay data the domain can reason about. This module
is the neutral ground between ``checks/`` and ``dialogs/``: standard library
only, so ``checks/`` can import it without pulling in the domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class CheckStatus(StrEnum):
    """Outcome of one check, as the results card shows it (✓ ✗ ⚠ ? –)."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    WARN = "warn"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


def _frozen(facts: Mapping[str, Any]) -> Mapping[str, str]:
    # Facts are text: they fill sentences and travel in the conversation's JSON.
    return MappingProxyType({str(k): "" if v is None else str(v) for k, v in facts.items()})


@dataclass(frozen=True)
class CheckResult:
    """What one check found (docs/contracts.md, "Check results").

    Attributes:
        check_id: The check, e.g. "license" (titles live in the phrases).
        status: The verdict.
        finding: Key of the explaining sentence, e.g. "license.active".
        facts: Named values the sentence and the verdict rules read.
        cause_id: The knowledge cause a FAIL/WARN points to; for other
            statuses the single cause the check rules in or out, or None.
        detail: Raw technical detail from the service (redacted), for the
            expert view; never a sentence the customer must read.
        duration_ms: How long the check took.
    """

    check_id: str
    status: CheckStatus
    finding: str
    facts: Mapping[str, str] = field(default_factory=dict)
    cause_id: str | None = None
    detail: str = ""
    duration_ms: int = 0

    def __post_init__(self) -> None:
        """Freeze the facts as a read-only mapping of strings."""
        object.__setattr__(self, "facts", _frozen(self.facts))
        object.__setattr__(self, "status", CheckStatus(self.status))

    def fact(self, name: str) -> str | None:
        """One fact, or None when the check did not report it.

        Args:
            name: The fact's name.

        Returns:
            Its value, or None.
        """
        return self.facts.get(name)

    def with_verdict(
        self,
        status: CheckStatus,
        finding: str,
        cause_id: str | None = None,
        **facts: str,
    ) -> CheckResult:
        """A copy with another verdict (the domain re-judges some results).

        Args:
            status: The new status.
            finding: The new sentence key.
            cause_id: The new cause.
            **facts: Facts to add or replace.

        Returns:
            The new result; the detail and timing stay.
        """
        merged = {**self.facts, **facts}
        return replace(self, status=status, finding=finding, cause_id=cause_id, facts=merged)


def result_to_json(result: CheckResult) -> dict[str, Any]:
    """A result as plain JSON (kept in the conversation record; holds no token).

    Args:
        result: The result.

    Returns:
        The dict (:func:`result_from_json` reads it back).
    """
    return {
        "check_id": result.check_id,
        "status": str(result.status),
        "finding": result.finding,
        "facts": dict(result.facts),
        "cause_id": result.cause_id,
        "detail": result.detail,
        "duration_ms": result.duration_ms,
    }


def result_from_json(raw: Mapping[str, Any]) -> CheckResult | None:
    """Read a stored result back, or None when it is malformed.

    Args:
        raw: What :func:`result_to_json` produced.

    Returns:
        The result, or None.
    """
    try:
        facts = raw.get("facts") or {}
        if not isinstance(facts, Mapping):
            return None
        return CheckResult(
            check_id=str(raw["check_id"]),
            status=CheckStatus(str(raw["status"])),
            finding=str(raw.get("finding") or ""),
            facts=facts,
            cause_id=str(raw["cause_id"]) if raw.get("cause_id") else None,
            detail=str(raw.get("detail") or ""),
            duration_ms=int(raw.get("duration_ms") or 0),
        )
    except (KeyError, ValueError, TypeError):
        return None
