"""What happened in a turn, as typed values: the flow reports them; features and metrics read them.

An :class:`Event` is a kind from :class:`Kind` and an optional detail (the
cause, the question). It is written to the log and the audit log as the
string it always was — ``diagnosed:<cause>``, ``fix_failed:<cause>``,
``person_requested`` — so stored rows and dashboards keep reading the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class Kind(StrEnum):
    """Every kind of event the flow reports."""

    ANSWERED = "answered"              # detail: the question
    VOLUNTEERED = "volunteered"        # detail: the fact told without being asked
    DIAGNOSED = "diagnosed"            # detail: the likeliest cause, or "unknown"
    CLARIFIED = "clarified"            # detail: the cause picked among several
    QUESTION = "question"              # detail: the cause that answered a typed question
    RESOLVED = "resolved"              # detail: the cause, or "guided"
    FIX_FAILED = "fix_failed"          # detail: the cause whose fix did not help
    PERSON_REQUESTED = "person_requested"
    START_OVER = "start_over"
    BACK = "back"                      # detail: the state left
    PASSWORD_REFUSED = "password_refused"  # noqa: S105 - an event name, not a password
    PROBLEM_DESCRIBED = "problem_described"
    NOT_UNDERSTOOD = "not_understood"  # the flow could make nothing of the text
    # The understanding layer (issue 17): a reading below the confidence bar asked about
    # ("Did you mean …?") and its answer; an earlier answer to ask again; a language chosen.
    CONFIRM = "confirm"                # detail: the fact asked about
    CONFIRMED = "confirmed"            # detail: the fact then stored
    UNCONFIRMED = "unconfirmed"        # detail: the fact dropped
    CHANGE = "change"                  # detail: the question asked again
    LANGUAGE = "language"              # detail: en, lv or ru


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a turn."""

    kind: Kind
    detail: str = ""

    def __str__(self) -> str:
        """The audit log's spelling: ``kind`` or ``kind:detail``."""
        return f"{self.kind.value}:{self.detail}" if self.detail else self.kind.value

    @classmethod
    def parse(cls, text: str) -> Event:
        """Read the audit log's spelling back.

        Raises:
            ValueError: for a kind this module does not know (a typo in the flow).
        """
        return _parsed(text) if cls is Event else cls(*_parts(text))


# The flow spells a turn's events as strings and every turn reads them back; they come
# from a small set (kinds x questions, causes, states, languages), and building one
# (an enum lookup and a frozen dataclass) costs microseconds, so each is made once.
@lru_cache(maxsize=1024)
def _parsed(text: str) -> Event:
    return Event(*_parts(text))


def _parts(text: str) -> tuple[Kind, str]:
    kind, _, detail = text.partition(":")
    return Kind(kind), detail


def typed(events: Iterable[str | Event]) -> list[Event]:
    """The events as :class:`Event` values (the flow writes them as strings internally)."""
    return [e if isinstance(e, Event) else Event.parse(e) for e in events]


def has(events: Iterable[Event], kind: Kind) -> bool:
    """True when any of ``events`` is of ``kind``."""
    return any(event.kind is kind for event in events)
