"""The flow table itself: reachability, exits, and that the diagram is current."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from transitions import Machine

from dialogs.diagram import flow_markdown
from dialogs.flow import (
    FINAL_STATES,
    QUESTION_STATES,
    QUESTIONS,
    STATES,
    TRANSITIONS,
    machine_config,
)
from dialogs.session import TroubleshootingSession

ROOT = Path(__file__).resolve().parents[2]


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for row in TRANSITIONS:
        sources = STATES if row["source"] == "*" else (
            [row["source"]] if isinstance(row["source"], str) else row["source"])
        for source in sources:
            dest = row["dest"] if row["dest"] is not None else source
            edges[source].add(dest)
    return edges


def test_every_state_is_reachable_from_welcome() -> None:
    edges = _edges()
    seen, todo = {"welcome"}, ["welcome"]
    while todo:
        for dest in edges[todo.pop()]:
            if dest not in seen:
                seen.add(dest)
                todo.append(dest)
    assert seen == set(STATES)


def test_every_non_final_state_has_a_specific_way_out() -> None:
    # "start over" (source "*") is always there; each state also needs an exit of its own.
    for state in STATES:
        if state in FINAL_STATES:
            continue
        own_exits = {
            row["dest"] for row in TRANSITIONS
            if row["source"] != "*" and row["dest"] not in (None, state)
            and (row["source"] == state
                 or (isinstance(row["source"], list) and state in row["source"]))
        }
        assert own_exits, f"{state} has no exit of its own"


def test_every_question_has_a_state_and_a_guarded_next_question_row() -> None:
    assert [f"ask_{q}" for q in QUESTIONS] == QUESTION_STATES
    guarded = [row["dest"] for row in TRANSITIONS
               if row["trigger"] == "next_question" and "conditions" in row]
    for state in QUESTION_STATES:
        assert state in guarded
    # The unguarded fallback comes last, otherwise it would shadow the questions.
    next_rows = [row for row in TRANSITIONS if row["trigger"] == "next_question"]
    assert "conditions" not in next_rows[-1] and next_rows[-1]["dest"] == "summary"


def test_table_builds_a_strict_machine_without_back_doors() -> None:
    machine = Machine(model=None, **machine_config())
    assert set(machine.states) == set(STATES)
    assert not any(name.startswith("to_") for name in machine.events)
    assert machine.ignore_invalid_triggers is False


def test_committed_flow_diagram_is_current() -> None:
    committed = (ROOT / "docs" / "flow.md").read_text(encoding="utf-8")
    assert committed == flow_markdown(), "docs/flow.md is stale: run `make flow`"


_C = ["welcome", *QUESTION_STATES, "summary", "proposing_fix", "handoff_requested"]
# The question-order rows as they were written out by hand before they were generated
# from QUESTIONS (commit 57f55ce); the generated ones must be exactly these.
HAND_WRITTEN_QUESTION_ROWS = [
    {"trigger": "next_question", "source": _C, "dest": "ask_mailbox",
     "conditions": "needs_mailbox"},
    {"trigger": "next_question", "source": _C, "dest": "ask_mailbox_type",
     "conditions": "needs_mailbox_type"},
    {"trigger": "next_question", "source": _C, "dest": "ask_license",
     "conditions": "needs_license"},
    {"trigger": "next_question", "source": _C, "dest": "ask_mfa",
     "conditions": "needs_mfa"},
    {"trigger": "next_question", "source": _C, "dest": "ask_security_defaults",
     "conditions": "needs_security_defaults"},
    {"trigger": "next_question", "source": _C, "dest": "ask_org_smtp_auth",
     "conditions": "needs_org_smtp_auth"},
    {"trigger": "next_question", "source": _C, "dest": "ask_mailbox_smtp_auth",
     "conditions": "needs_mailbox_smtp_auth"},
    {"trigger": "next_question", "source": _C, "dest": "ask_conditional_access",
     "conditions": "needs_conditional_access"},
    {"trigger": "next_question", "source": _C, "dest": "ask_auth_method",
     "conditions": "needs_auth_method"},
    {"trigger": "next_question", "source": _C, "dest": "ask_test_result",
     "conditions": "needs_test_result"},
    {"trigger": "back", "source": "ask_mailbox_type", "dest": "ask_mailbox"},
    {"trigger": "back", "source": "ask_license", "dest": "ask_mailbox_type"},
    {"trigger": "back", "source": "ask_mfa", "dest": "ask_license",
     "conditions": "is_license_relevant"},
    {"trigger": "back", "source": "ask_mfa", "dest": "ask_mailbox_type"},
    {"trigger": "back", "source": "ask_security_defaults", "dest": "ask_mfa"},
    {"trigger": "back", "source": "ask_org_smtp_auth", "dest": "ask_security_defaults"},
    {"trigger": "back", "source": "ask_mailbox_smtp_auth", "dest": "ask_org_smtp_auth"},
    {"trigger": "back", "source": "ask_conditional_access", "dest": "ask_mailbox_smtp_auth"},
    {"trigger": "back", "source": "ask_auth_method", "dest": "ask_conditional_access"},
    {"trigger": "back", "source": "ask_test_result", "dest": "ask_auth_method"},
]


def test_the_generated_question_rows_are_the_hand_written_ones_in_place() -> None:
    generated = [row for row in TRANSITIONS
                 if (row["trigger"] == "next_question" and "conditions" in row
                     and row["conditions"].startswith("needs_"))
                 or (row["trigger"] == "back" and row["source"] in QUESTION_STATES)]
    assert generated == HAND_WRITTEN_QUESTION_ROWS
    # In the same places: right after the unsupported-mailbox row, and "back" after "unsure".
    triggers = [row["trigger"] for row in TRANSITIONS]
    first_ask = TRANSITIONS.index(HAND_WRITTEN_QUESTION_ROWS[0])
    assert TRANSITIONS[first_ask - 1]["conditions"] == "is_unsupported_mailbox"
    first_back = TRANSITIONS.index(HAND_WRITTEN_QUESTION_ROWS[len(QUESTIONS)])
    assert triggers[first_back - 1] == "user_unsure"
    assert TRANSITIONS[first_back + len(HAND_WRITTEN_QUESTION_ROWS) - len(QUESTIONS)] == {
        "trigger": "back", "source": "summary", "dest": "ask_test_result",
        "unless": "is_unsupported_mailbox"}


def test_every_question_has_its_needs_guard_on_the_session() -> None:
    for question in QUESTIONS:
        guard = getattr(TroubleshootingSession, f"needs_{question}")
        assert isinstance(guard, property), question
