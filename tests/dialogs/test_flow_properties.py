"""Property tests on the flow: random presses and texts, and an independent oracle for the order.

The engine is driven exactly as the bot drives it (snapshot in, snapshot
out, the snapshot round-tripped through JSON between turns, as the store
does). Hypothesis chooses what the customer does: press a button of the
last card, press a stale button from any card the bot can send, send a
tampered action, or type something. Whatever happens, the bot answers,
stays in a known state and keeps a small, plain-JSON snapshot.

The oracle (``expected_state``) is written from the issue's description of
the questions, not from the flow table, in the style of nextline's
``STATE_MAP`` test.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import build_engine
from dialogs.engine import FlowEngine, TurnInput, TurnResult
from dialogs.flow import FINAL_STATES, QUESTIONS, STATES
from dialogs.gallery import sample_cards
from dialogs.knowledge import default_knowledge

MAX_SNAPSHOT_BYTES = 4 * 1024
MAX_CARD_BYTES = 28 * 1024
ENGINE: FlowEngine | None = None


def engine() -> FlowEngine:
    """One engine for every example (building it per example would only be slower)."""
    global ENGINE
    if ENGINE is None:
        ENGINE = build_engine()
    return ENGINE


def submit_data(node: Any) -> list[dict[str, Any]]:
    """Every Action.Submit's data in a card, including buttons inside the body."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.Submit" and isinstance(node.get("data"), dict):
            found.append(node["data"])
        for value in node.values():
            found.extend(submit_data(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(submit_data(item))
    return found


def last_buttons(result: TurnResult) -> list[dict[str, Any]]:
    """The buttons of the last card of a turn (what the customer is looking at)."""
    cards = [reply.card for reply in result.replies if reply.card is not None]
    return submit_data(cards[-1]) if cards else []


def turn(snapshot: dict[str, Any] | None, turn_input: TurnInput) -> TurnResult:
    """Run one turn and check the invariants that hold after every turn."""
    before = copy.deepcopy(snapshot)
    result = engine().handle(snapshot, turn_input)
    assert snapshot == before, "a turn must not change the snapshot it was given"
    assert result.replies, f"silence after {turn_input!r}"
    for reply in result.replies:
        assert reply.text or reply.card is not None
        assert "Traceback" not in reply.text
        if reply.card is not None:
            size = len(json.dumps(reply.card, ensure_ascii=False).encode("utf-8"))
            assert size <= MAX_CARD_BYTES, size
    assert result.state in STATES
    encoded = json.dumps(result.snapshot, ensure_ascii=False, allow_nan=False)
    assert len(encoded.encode("utf-8")) <= MAX_SNAPSHOT_BYTES, len(encoded)
    assert json.loads(encoded) == result.snapshot  # plain JSON: nothing lost on the way to disk
    return result


KNOWLEDGE = default_knowledge()
OPTION_VALUES = sorted({o.value for q in KNOWLEDGE.questions.values() for o in q.options})
VERBS = ["answer", "unsure", "back", "start_over", "help", "person", "fix_worked", "fix_failed",
         "run_checks", "show_fix", "clarify", "continue", "start"]
ADDRESSES = ["tms@contoso.com", "o'brien@contoso.com", "not-an-address", "a@b", "x" * 300,
             "'; Remove-Mailbox -Identity *; '@contoso.com"]
TEXTS = [
    "hi", "start", "yes", "yep", "no", "nope", "not sure", "I don't know", "back", "go back",
    "start over", "help", "talk to a person", "continue", "it works", "still failing",
    "tms@contoso.com", "we send from invoices@contoso.com", "it's a shared mailbox", "room",
    "Microsoft 365 group", "we have MFA and security defaults are on", "we use an app password",
    "oauth", "ticked", "unticked", "the option is not there", "allowed", "not tested",
    "535 5.7.3 Authentication unsuccessful",
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
    "550 5.7.60 SMTP; Client does not have permissions to send as this sender",
    "421 4.7.66 TLS 1.0 and 1.1 are not supported.", "error: something went wrong",
    "my password is Hunter2!!", "", "   ", "🙂", "x" * 12_000, "back " * 50,
]
STALE_BUTTONS = sorted({json.dumps(data, sort_keys=True)
                        for card in sample_cards().values() for data in submit_data(card)})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)
tampered_actions = st.fixed_dictionaries(
    {"msa": st.sampled_from(VERBS) | json_values},
    optional={
        "question": st.sampled_from(QUESTIONS) | json_values,
        "value": st.sampled_from(OPTION_VALUES) | json_values,
        "cause": st.sampled_from([*KNOWLEDGE.cause_ids, "unsure"]) | json_values,
        "mailbox": st.sampled_from(ADDRESSES) | json_values,
        "verb": json_values,
    },
)
steps = st.one_of(
    st.tuples(st.just("press"), st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("stale"), st.sampled_from(STALE_BUTTONS)),
    st.tuples(st.just("action"), tampered_actions | st.dictionaries(st.text(max_size=8),
                                                                     json_values, max_size=3)),
    st.tuples(st.just("text"), st.sampled_from(TEXTS) | st.text(max_size=300)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=30))
def test_random_presses_and_texts_never_crash_and_always_answer(actions: list[Any]) -> None:
    snapshot: dict[str, Any] | None = None
    buttons: list[dict[str, Any]] = []
    for kind, payload in actions:
        if kind == "press":
            if not buttons:
                continue
            turn_input = TurnInput(action=buttons[payload % len(buttons)])
        elif kind == "stale":
            turn_input = TurnInput(action=json.loads(payload))
        elif kind == "action":
            turn_input = TurnInput(action=payload)
        else:
            turn_input = TurnInput(text=payload)
        result = turn(snapshot, turn_input)
        # What the store would hand back next turn.
        snapshot = json.loads(json.dumps(result.snapshot))
        buttons = last_buttons(result) or buttons


# ----- the oracle --------------------------------------------------------------
# Written from the issue, not from dialogs/flow.py: the questions come in this order;
# room, equipment and group mailboxes end the questions at once; the licence is only
# asked for a user mailbox (or when the type is unknown); a known fact is never asked.
ORDER = ["mailbox", "mailbox_type", "license", "mfa", "security_defaults", "org_smtp_auth",
         "mailbox_smtp_auth", "conditional_access", "auth_method", "test_result"]
CANNOT_SIGN_IN = {"room", "equipment", "group"}


def expected_state(answers: dict[str, str]) -> str:
    """Where the guided flow must be, given the answers so far."""
    if answers.get("mailbox_type") in CANNOT_SIGN_IN:
        return "summary"
    for question in ORDER:
        if question == "license" and answers.get("mailbox_type") not in {"user", "unsure"}:
            continue
        if question not in answers:
            return f"ask_{question}"
    return "summary"


def answer_values(question: str) -> list[str]:
    """The values an answer to ``question`` can take."""
    if question == "mailbox":
        return ["tms@contoso.com"]
    return [o.value for o in KNOWLEDGE.questions[question].options]


answer_sets = st.fixed_dictionaries(
    {}, optional={q: st.sampled_from(answer_values(q)) for q in QUESTIONS})


@settings(max_examples=200, deadline=None)
@given(answer_sets, st.sampled_from(["welcome", "handoff_requested", "summary"]),
       st.sampled_from([{"msa": "start"}, {"msa": "continue"}]))
def test_the_machine_agrees_with_the_oracle_on_where_to_continue(
    answers: dict[str, str], state: str, press: dict[str, str]
) -> None:
    snapshot = {"v": 1, "state": state, "facts": {"answers": dict(answers)}}
    result = turn(snapshot, TurnInput(action=press))
    if state == "summary" and press["msa"] == "start":
        # "start" on the summary only repeats it (the customer is done with the questions).
        assert result.state in {"summary", expected_state(answers)}
        return
    assert result.state == expected_state(answers)


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({q: st.sampled_from(answer_values(q)) for q in QUESTIONS}),
       st.booleans())
def test_answering_question_by_question_follows_the_oracle(
    chosen: dict[str, str], typed_unsure_twice: bool
) -> None:
    result = turn(None, TurnInput(text="start"))
    answers: dict[str, str] = {}
    for _ in range(len(QUESTIONS) + 1):
        assert result.state == expected_state(answers), answers
        if result.state == "summary":
            break
        question = result.state.removeprefix("ask_")
        value = chosen[question]
        if value == "unsure":
            # "I don't know" shows how to find out first; a second one (or "Skip for now") moves on.
            first = ({"msa": "unsure", "question": question} if not typed_unsure_twice else None)
            result = turn(result.snapshot, TurnInput(text="I don't know", action=first))
            assert result.state == f"ask_{question}"
            if question == "mailbox":
                return  # the address cannot be skipped
            skip = {"msa": "answer", "question": question, "value": "unsure"}
            result = turn(result.snapshot, TurnInput(text="I don't know") if typed_unsure_twice
                          else TurnInput(action=skip))
        else:
            data = {"msa": "answer", "question": question, "value": value}
            if question == "mailbox":
                data["mailbox"] = value
            result = turn(result.snapshot, TurnInput(action=data))
        answers[question] = value
    assert result.state == "summary"


TENANT_ERROR = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
                "for the Tenant")


def _shape(result: TurnResult) -> tuple[str, tuple[str, ...], bool]:
    """A coarse key for the exploration: the state, which questions are answered, diagnosed?"""
    facts = result.snapshot["facts"]
    return (result.state, tuple(sorted(facts.get("answers", {}))), bool(facts.get("diagnosis")))


def test_every_state_is_reached_and_left_by_real_turns() -> None:
    """Explore the engine breadth-first with the buttons it shows and a few typed texts."""
    typed = ["start", "535 5.7.3 Authentication unsuccessful", TENANT_ERROR, "talk to a person",
             "I don't know", "room", "it works", "back", "tms@contoso.com"]
    start = turn(None, TurnInput(text="hi"))
    queue = deque([start])
    seen_states = {start.state}
    left: set[str] = set()
    turns = 0
    seen_snapshots = {_shape(start)}
    while queue:
        result = queue.popleft()
        inputs = [TurnInput(action=data) for data in last_buttons(result)]
        inputs += [TurnInput(text=text) for text in typed]
        for turn_input in inputs:
            nxt = turn(result.snapshot, turn_input)
            turns += 1
            if nxt.state != result.state:
                left.add(result.state)
            seen_states.add(nxt.state)
            key = _shape(nxt)
            if key not in seen_snapshots:
                seen_snapshots.add(key)
                queue.append(nxt)
    print(f"explored {len(seen_snapshots)} conversation shapes in {turns} turns")
    assert seen_states == set(STATES) - {"welcome"}  # "welcome" is only ever the start
    assert set(STATES) - FINAL_STATES - {"welcome"} <= left


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(TEXTS[:30])), min_size=1,
                max_size=24))
def test_conversations_sharing_an_engine_never_see_each_other(
    script: list[tuple[int, str]],
) -> None:
    """Session models are pooled: interleaved conversations on one engine (with a turn
    that blows up in between) end exactly where each ends on an engine of its own."""
    shared = build_engine()
    real_dispatch = shared._dispatch

    def blow_up(*_: Any) -> None:
        raise RuntimeError("a turn that fails halfway")

    snapshots: dict[int, dict[str, Any] | None] = {0: None, 1: None, 2: None}
    alone: dict[int, dict[str, Any] | None] = dict(snapshots)
    own_engine = engine()
    for number, text in script:
        shared._dispatch = blow_up  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            shared.handle(snapshots[number], TurnInput(text="x"))
        shared._dispatch = real_dispatch  # type: ignore[method-assign]
        together = shared.handle(snapshots[number], TurnInput(text=text))
        separate = own_engine.handle(alone[number], TurnInput(text=text))
        assert together.snapshot == separate.snapshot
        assert together.replies == separate.replies
        snapshots[number], alone[number] = together.snapshot, separate.snapshot
    assert len(shared.machine.models) == 1  # one model, borrowed and returned every turn
