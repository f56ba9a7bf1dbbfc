"""The flow table itself: reachability, exits, and that the diagram is current."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from transitions import Machine

from dialogs.diagram import flow_markdown
from dialogs.flow import FINAL_STATES, QUESTION_STATES, QUESTIONS, STATES, TRANSITIONS, machine_config

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
            and (row["source"] == state or (isinstance(row["source"], list) and state in row["source"]))
        }
        assert own_exits, f"{state} has no exit of its own"


def test_every_question_has_a_state_and_a_guarded_next_question_row() -> None:
    assert QUESTION_STATES == [f"ask_{q}" for q in QUESTIONS]
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
