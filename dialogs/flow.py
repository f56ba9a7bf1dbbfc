"""The guided troubleshooting flow as one literal table of states and transitions.

This module is the single home of the flow. The runtime machine
(``build_machine``), the diagram (``dialogs.diagram``) and the property tests
all read ``STATES`` and ``TRANSITIONS`` from here; nothing else adds
transitions.

States are named for what the bot is waiting on. Guards are named predicates
on :class:`dialogs.session.TroubleshootingSession` (``is_…``/``has_…``/
``needs_…``); they never parse text. The engine records what the customer said
as facts, then fires a trigger; ``next_question`` is tried row by row in the
order below, so its rows *are* the order of the questions, and a question
whose fact is already known (for example volunteered earlier) is skipped.
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

TRANSITIONS: list[dict[str, Any]] = [
    # --- the guided questions, in order: the first row whose guard holds wins ---
    {"trigger": "next_question", "source": _CONTINUES, "dest": "summary",
     "conditions": "is_unsupported_mailbox"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_mailbox",
     "conditions": "needs_mailbox"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_mailbox_type",
     "conditions": "needs_mailbox_type"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_license",
     "conditions": "needs_license"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_mfa",
     "conditions": "needs_mfa"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_security_defaults",
     "conditions": "needs_security_defaults"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_org_smtp_auth",
     "conditions": "needs_org_smtp_auth"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_mailbox_smtp_auth",
     "conditions": "needs_mailbox_smtp_auth"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_conditional_access",
     "conditions": "needs_conditional_access"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_auth_method",
     "conditions": "needs_auth_method"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "ask_test_result",
     "conditions": "needs_test_result"},
    {"trigger": "next_question", "source": _CONTINUES, "dest": "summary"},
    # --- "I don't know": stay on the question and show how to find out ---
    {"trigger": "user_unsure", "source": QUESTION_STATES, "dest": None,
     "after": "show_how_to_find_out"},
    # --- "back": the previous question in the fixed order ---
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
    {"trigger": "back", "source": "summary", "dest": "ask_test_result",
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
