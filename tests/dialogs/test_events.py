"""Typed events: the flow reports :class:`dialogs.events.Event` values, read as the old strings."""

from __future__ import annotations

import pytest

from dialogs.engine import TurnInput
from dialogs.events import Event, Kind, has, typed


def test_events_read_as_the_audit_logs_strings_and_back() -> None:
    for text in ("diagnosed:mfa_required", "person_requested", "answered:mailbox",
                 "fix_failed:smtp_auth_disabled_tenant", "not_understood"):
        event = Event.parse(text)
        assert str(event) == text and Event.parse(str(event)) == event
    assert Event(Kind.RESOLVED, "guided").kind is Kind.RESOLVED
    with pytest.raises(ValueError, match="'diagonsed' is not a valid Kind"):
        Event.parse("diagonsed:typo")


def test_a_conversation_reports_typed_events(engine) -> None:  # type: ignore[no-untyped-def]
    snapshot = None
    seen: list[Event] = []
    for turn in (TurnInput(text="start"), TurnInput(text="it is tms@contoso.com"),
                 TurnInput(text="535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
                                "is disabled for the Tenant"),
                 TurnInput(text="zzkx qwv"), TurnInput(action={"msa": "person"})):
        result = engine.handle(snapshot, turn)
        snapshot = result.snapshot
        assert all(isinstance(e, Event) for e in result.events)
        seen += result.events
    assert Event(Kind.ANSWERED, "mailbox") in seen
    assert any(e.kind is Kind.DIAGNOSED and e.detail for e in seen)
    assert has(seen, Kind.NOT_UNDERSTOOD) and has(seen, Kind.PERSON_REQUESTED)
    assert typed(["start_over"]) == [Event(Kind.START_OVER)]
