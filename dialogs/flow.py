"""The guided troubleshooting flow as one literal table of states and transitions.

This module is the single home of the flow. The runtime machine
(``build_machine``), the diagram (``dialogs.diagram``) and the property tests
all read ``STATES`` and ``TRANSITIONS`` from here; nothing else adds
transitions.

States are named for what the bot is waiting on. Guards are named predicates
on :class:`dialogs.session.TroubleshootingSession` (``is_…``/``has_…``/
``needs_…``); they never parse text. The engine records what the customer said
as facts, then fires a trigger; ``next_question`` is tried row by row in the
order of :data:`QUESTIONS`, and a question whose fact is already known (for
example volunteered earlier) is skipped.

The rows that only follow the question order (``next_question`` to each
question, ``back`` to the one before) are generated from :data:`QUESTIONS` and
:data:`ASKED_WHEN`; every other row is written out below. A new guided question
is one entry in :data:`QUESTIONS` (plus one in :data:`ASKED_WHEN` if it is
only asked sometimes) and its text in ``knowledge.json``.
"""

from __future__ import annotations

from typing import Any

from transitions import Machine

FLOW_VERSION = 1
INITIAL_STATE = "welcome"

# The questions in the order they are asked; each asks for the fact of the same name.
QUESTIONS: tuple[str, ...] = (
    "mailbox",
    "mailbox_type",
    "license",
    "mfa",
    "security_defaults",
    "org_smtp_auth",
    "mailbox_smtp_auth",
    "conditional_access",
    "auth_method",
    "test_result",
)

# Questions asked only while a guard holds (named predicates of the session); "back"
# from the question after one of them goes to it when the guard holds, else further back.
ASKED_WHEN: dict[str, str] = {
    "license": "is_license_relevant",
}

QUESTION_STATES: list[str] = [f"ask_{question}" for question in QUESTIONS]

STATES: list[str] = [
    "welcome",
    *QUESTION_STATES,
    "summary",
    "clarifying_error",
    "proposing_fix",
    "handoff_requested",
    "resolved",
]

# States from which the guided questions continue with the next unanswered one.
_CONTINUES = ["welcome", *QUESTION_STATES, "summary", "proposing_fix", "handoff_requested"]


def _ask_in_order() -> list[dict[str, Any]]:
    """``next_question`` → the first question whose ``needs_<question>`` guard holds."""
    return [{"trigger": "next_question", "source": _CONTINUES, "dest": f"ask_{question}",
             "conditions": f"needs_{question}"} for question in QUESTIONS]


def _back_in_order() -> list[dict[str, Any]]:
    """``back`` from each question to the one before it (past those whose guard fails)."""
    rows: list[dict[str, Any]] = []
    for index, question in enumerate(QUESTIONS[1:], start=1):
        for previous in reversed(QUESTIONS[:index]):
            row: dict[str, Any] = {"trigger": "back", "source": f"ask_{question}",
                                   "dest": f"ask_{previous}"}
            guard = ASKED_WHEN.get(previous)
            if guard is not None:
                row["conditions"] = guard
            rows.append(row)
            if guard is None:
                break
    return rows


# The rows that follow the question order, generated so that a question is added in
# one place (QUESTIONS); docs/flow.md shows them written out.
_ASK_IN_ORDER = _ask_in_order()
_BACK_IN_ORDER = _back_in_order()

TRANSITIONS: list[dict[str, Any]] = [
    # --- the guided questions, in order: the first row whose guard holds wins ---
    {"trigger": "next_question", "source": _CONTINUES, "dest": "summary",
     "conditions": "is_unsupported_mailbox"},
    *_ASK_IN_ORDER,
    {"trigger": "next_question", "source": _CONTINUES, "dest": "summary"},
    # --- "I don't know": stay on the question and show how to find out ---
    {"trigger": "user_unsure", "source": QUESTION_STATES, "dest": None,
     "after": "show_how_to_find_out"},
    # --- "back": the previous question in the fixed order ---
    *_BACK_IN_ORDER,
    {"trigger": "back", "source": "summary", "dest": QUESTION_STATES[-1],
     "unless": "is_unsupported_mailbox"},
    {"trigger": "back", "source": "summary", "dest": "ask_mailbox_type"},
    {"trigger": "back", "source": ["clarifying_error", "proposing_fix"], "dest": "summary",
     "conditions": "is_resuming_summary"},
    # --- a pasted error, at any point: diagnose it ---
    {"trigger": "error_pasted", "source": "*", "dest": "clarifying_error",
     "conditions": "is_diagnosis_ambiguous"},
    {"trigger": "error_pasted", "source": "*", "dest": "proposing_fix",
     "conditions": "has_diagnosis"},
    {"trigger": "error_clarified", "source": "clarifying_error", "dest": "proposing_fix",
     "conditions": "has_diagnosis"},
    {"trigger": "fix_failed", "source": "proposing_fix", "dest": "proposing_fix",
     "conditions": "has_more_candidates", "before": "advance_candidate"},
    # --- the end of the road ---
    {"trigger": "fix_worked", "source": ["proposing_fix", "summary", "ask_test_result"],
     "dest": "resolved"},
    {"trigger": "ask_for_person", "source": "*", "dest": "handoff_requested"},
    {"trigger": "start_over", "source": "*", "dest": "ask_mailbox", "before": "forget_facts"},
]

FINAL_STATES: frozenset[str] = frozenset({"resolved"})


def machine_config() -> dict[str, Any]:
    """Return the keyword arguments shared by the runtime and the diagram machines."""
    return {
        # Every state announces itself on entry; internal rows (dest None) do not re-enter.
        "states": [{"name": state, "on_enter": "on_enter_state"} for state in STATES],
        "transitions": TRANSITIONS,
        "initial": INITIAL_STATE,
        # No ``to_<state>`` back doors: every move is a row in the table.
        "auto_transitions": False,
        # A trigger that does not apply here must be answered, not swallowed.
        "ignore_invalid_triggers": False,
    }


def build_machine() -> Machine:
    """Build the one shared machine; conversations attach a model for one turn only."""
    return Machine(model=None, **machine_config())
