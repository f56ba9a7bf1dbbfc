"""One conversation turn: snapshot + what the customer did -> new snapshot + replies.

This is the whole domain side of a turn and knows nothing about Teams. The
bot reads the snapshot from storage, calls :meth:`FlowEngine.handle`, sends
the replies and writes the snapshot back. One :class:`FlowEngine` (and so one
machine) serves every conversation. Attaching a model to a ``transitions``
machine defines a method per trigger on it, which costs more than most turns;
so session models are attached once, kept in a small pool, and each turn
borrows one and loads the conversation's state and facts into it.

A typed message is read once by the understanding layer
(:mod:`dialogs.understanding`) into a :class:`~dialogs.understanding.Reading`;
what happens next is decided by :data:`RULES`, an ordered table of (name,
condition, handler): the first rule whose condition holds and whose handler
takes the turn wins. Nothing below the table looks at the text's words again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from transitions import MachineError

from dialogs import cards, messages
from dialogs.events import Event, typed
from dialogs.flow import FLOW_VERSION, INITIAL_STATE, QUESTIONS, STATES, build_machine
from dialogs.i18n import LANGUAGE_NAMES, language
from dialogs.i18n.knowledge import localized, localized_cause
from dialogs.knowledge import Finding, Knowledge
from dialogs.session import UNSURE, Reply, TroubleshootingSession
from dialogs.understanding import (
    Reading,
    Understanding,
    asks_for_powershell,
    asks_when_it_works,
    contains_password,
    find_address,
    locale_language,
    looks_like_error,
    match_follow_up,
    topic_words,
)
from dialogs.understanding.reader import LANGUAGES, confirmation_of

if TYPE_CHECKING:
    from dialogs.search import KnowledgeSearch

MAX_TEXT = 10_000

# Pasted errors are long and technical; a short answer like "no" must never be
# read as an error even when a diagnosis pattern would match part of it.
_MIN_ERROR_LENGTH = 6
# Below this confidence a text without error codes or error words is chat, not a pasted error
# (every text of the diagnosis corpus is above it or reads as an error).
_CHAT_CONFIDENCE = 0.5
# A message the reader did not understand is tried as an unusual error text when this long.
_UNREAD_ERROR_LENGTH = 25
# A typed question is answered with the knowledge causes a search ranks confidently
# (``SearchResponse.confident``: real questions score 7-19, one that only shares a word
# like "powershell" with a fix step below 1), and of those only the ones that score at
# least this share of the best one.
_QUESTION_RELATIVE = 0.5
_QUESTION_TOPICS = 3
# Sign-ins that use Basic authentication, which Microsoft turns off by default end of Dec 2026.
BASIC_AUTH_METHODS = frozenset({"basic", "app_password"})
# The context the understanding layer reads a message in, by state.
_CONTEXTS = {"proposing_fix": "fix", "clarifying_error": "fix", "summary": "summary",
             "resolved": "summary"}


@dataclass(frozen=True)
class TurnInput:
    """What the customer did this turn: typed text and/or a card button's data.

    ``locale`` is the activity's Teams locale ("lv-LV"): a hint for the
    conversation's language until the customer writes or chooses one.
    """

    text: str = ""
    action: Mapping[str, Any] | None = None
    locale: str | None = None


@dataclass
class TurnResult:
    """The outcome of a turn.

    Attributes:
        snapshot: the JSON-able state to store for the conversation.
        replies: messages to send, in order.
        events: what happened, typed (:mod:`dialogs.events`; ``str()`` gives
            ``diagnosed:<cause>`` …).
    """

    snapshot: dict[str, Any]
    replies: list[Reply]
    events: list[Event] = field(default_factory=list)

    @property
    def state(self) -> str:
        """The flow state the conversation is in after the turn."""
        return str(self.snapshot["state"])


@dataclass(frozen=True)
class DiagnosisSummary:
    """The part of a diagnosis the flow needs (kept small: it is persisted)."""

    candidates: tuple[str, ...]
    evidence: str = ""
    confidence: float = 0.0
    follow_up: Mapping[str, Any] | None = None
    # Causes an error fits equally when no one question separates them (a bare "535"):
    # listed with a request for the whole line, never proposed.
    listed: tuple[str, ...] = ()


Diagnose = Callable[[str], DiagnosisSummary]


@dataclass
class Turn:
    """One typed message being handled: the session, what the message says, the events."""

    session: TroubleshootingSession
    text: str
    reading: Reading
    events: list[str]

    @property
    def intent(self) -> str:
        """What the message asks for (see :class:`~dialogs.understanding.Reading`)."""
        return self.reading.intent

    @property
    def question(self) -> str | None:
        """The question being asked, if the flow is on one."""
        state = self.session.state
        return state.removeprefix("ask_") if state.startswith("ask_") else None


@dataclass(frozen=True)
class Rule:
    """One row of the rule table: when it applies, and what it does.

    ``then`` returns False when, having looked closer, it does not take the turn
    after all (a "pasted error" the diagnosis knows nothing of): the next rule is tried.
    """

    name: str
    when: Callable[[Turn], bool]
    then: Callable[[FlowEngine, Turn], bool | None]


def _copy_json(value: Any) -> Any:
    """``copy.deepcopy`` for JSON values, several times faster (facts are plain JSON).

    Dicts and lists are rebuilt, strings, numbers, booleans and None shared
    (they are immutable); anything else still goes through ``copy.deepcopy``.
    """
    kind = type(value)
    # Most items are strings: shared here without a call per item (a hot path: every turn).
    if kind is dict:
        return {key: item if type(item) in _IMMUTABLE_JSON else _copy_json(item)
                for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _IMMUTABLE_JSON else _copy_json(item) for item in value]
    if kind in _IMMUTABLE_JSON or value is None:
        return value
    return copy.deepcopy(value)


_IMMUTABLE_JSON = frozenset({str, int, float, bool})


def new_snapshot() -> dict[str, Any]:
    """Return the snapshot of a conversation that has not started."""
    return {"v": FLOW_VERSION, "state": INITIAL_STATE, "facts": {}, "lang": language(None)}


def context_of(state: str) -> str | None:
    """What the bot waits for in ``state``, as the understanding layer reads it."""
    if state.startswith("ask_"):
        return state.removeprefix("ask_")
    return _CONTEXTS.get(state)


def _language_state(snapshot: Mapping[str, Any] | None,
                    locale: str | None) -> tuple[str, bool, bool]:
    """(language, chosen by the customer, theirs from what they wrote) for a turn."""
    lang: str | None = None
    chosen = written = False
    if snapshot:
        # The language survives a restart and a flow-version change: it is the customer's.
        lang = snapshot.get("lang") if snapshot.get("lang") in LANGUAGES else None
        chosen = snapshot.get("lang_chosen") is True and lang is not None
        # A stored language is the customer's unless it is marked as only a hint.
        written = lang is not None and not chosen and snapshot.get("lang_hint") is not True
    # The customer's choice, else the language they write in (set as they write), else
    # Teams' locale, else English. Until the customer has written or chosen one, this
    # turn's locale counts over the hint stored (an install says nothing of the language).
    if not (chosen or written):
        lang = locale_language(locale) or lang or "en"
    return language(lang), chosen, written


def conversation_language(snapshot: Mapping[str, Any] | None, locale: str | None = None) -> str:
    """The language to answer a conversation in, by the flow's rule, for a desk that speaks first.

    The customer's choice, else the language they write in, else this
    activity's Teams ``locale``, else English — what the flow would answer in.

    Args:
        snapshot: The conversation's flow snapshot (None before its first turn).
        locale: The activity's Teams locale ("lv-LV").

    Returns:
        "en", "lv" or "ru".
    """
    return _language_state(snapshot, locale)[0]


class FlowEngine:
    """Runs turns of the guided flow against one shared machine."""

    def __init__(self, knowledge: Knowledge, diagnose: Diagnose | None = None,
                 search: KnowledgeSearch | None = None, *, live_checks: bool = False,
                 understanding: Understanding | None = None) -> None:
        """Build the machine once.

        Args:
            knowledge: the loaded knowledge base.
            diagnose: turns pasted text into a diagnosis; None disables diagnosis.
            search: ranks knowledge causes for a typed question; None uses the
                knowledge search of ``knowledge`` (built on the first question;
                dialogs.search is imported only then: it loads numpy).
            live_checks: True when sign-in is configured, so cards offer "Check my tenant"
                (never offer what cannot work).
            understanding: reads typed messages; None uses the one built from the
                current utterance data (loaded, or trained, once per process).
        """
        self.knowledge = knowledge
        self.live_checks = live_checks
        self._search = search
        self.machine = build_machine()
        self._diagnose = diagnose
        self._understanding = understanding
        # Attached session models not in use by a turn right now (see the module docstring).
        self._idle: list[TroubleshootingSession] = []

    @property
    def understanding(self) -> Understanding:
        """The reader of typed messages (built on first use)."""
        if self._understanding is None:
            self._understanding = _shared_understanding()
        return self._understanding

    # ----- entry points ----------------------------------------------------
    def welcome(self, snapshot: Mapping[str, Any] | None, locale: str | None = None) -> TurnResult:
        """Greet a conversation the bot was just added to, keeping any progress."""
        session = self._session(snapshot, locale)
        session.say(card=cards.welcome_card(self.knowledge, lang=session.lang,
                                               live_checks=session.live_checks))
        if session.state != "welcome":
            session.say_where_we_are()
        return self._result(session, [])

    def handle(self, snapshot: Mapping[str, Any] | None, turn: TurnInput) -> TurnResult:
        """Run one turn.

        Args:
            snapshot: the stored snapshot, or None for a new conversation.
            turn: what the customer typed or pressed.

        Returns:
            The new snapshot, the replies and the domain events.
        """
        events: list[str] = []
        # A plain try/finally rather than a context manager: this runs on every turn.
        session = self._borrow(snapshot, turn.locale)
        try:
            self._dispatch(session, turn, events)
            if not session.replies:
                # Never silence: whatever happened, say where we are.
                session.say_where_we_are()
            return self._result(session, events)
        finally:
            self._give_back(session)

    def _borrow(self, snapshot: Mapping[str, Any] | None,
                locale: str | None) -> TroubleshootingSession:
        """Borrow a session model attached to the machine, holding the snapshot's state and facts.

        Turns never overlap on one model: each borrows its own (popping and
        appending a list is atomic, so threads are safe too), and a model
        goes back empty (:meth:`_give_back`), so nothing of one conversation
        reaches the next.
        """
        try:
            session = self._idle.pop()
        except IndexError:
            session = TroubleshootingSession(facts={}, knowledge=self.knowledge)
            self.machine.add_model(session, initial=INITIAL_STATE)
        # The machine keeps the state in the model's ``state`` attribute and nowhere else.
        self._load(session, snapshot, locale)
        return session

    def _give_back(self, session: TroubleshootingSession) -> None:
        """Return a borrowed model to the pool, emptied of the conversation."""
        session.facts = {}
        session.replies = []
        self._idle.append(session)

    # ----- internals -------------------------------------------------------
    def _session(self, snapshot: Mapping[str, Any] | None,
                 locale: str | None = None) -> TroubleshootingSession:
        """A session model (not attached to the machine) holding the snapshot's state and facts."""
        session = TroubleshootingSession(facts={}, knowledge=self.knowledge)
        self._load(session, snapshot, locale)
        return session

    def _load(self, session: TroubleshootingSession, snapshot: Mapping[str, Any] | None,
              locale: str | None) -> None:
        """Load the snapshot (state, facts, language) and the engine's settings into ``session``."""
        state = INITIAL_STATE
        facts: dict[str, Any] = {}
        if snapshot and snapshot.get("v") == FLOW_VERSION and snapshot.get("state") in STATES:
            state = str(snapshot["state"])
            raw_facts = snapshot.get("facts")
            # A deep copy: the turn must never change the caller's snapshot (a retried turn
            # or a second turn on the same snapshot would otherwise see this turn's changes).
            facts = _copy_json(dict(raw_facts)) if isinstance(raw_facts, Mapping) else {}
        session.state = state
        session.facts = facts
        session.lang, session.lang_chosen, session.lang_written = _language_state(snapshot, locale)
        session.live_checks = self.live_checks
        session.replies = []

    @staticmethod
    def _result(session: TroubleshootingSession, events: list[str]) -> TurnResult:
        snapshot: dict[str, Any] = {"v": FLOW_VERSION, "state": session.state,
                                    "facts": session.facts, "lang": session.lang}
        if session.lang_chosen:
            snapshot["lang_chosen"] = True
        elif not session.lang_written:
            snapshot["lang_hint"] = True  # from Teams' locale or the default: not yet theirs
        return TurnResult(snapshot=snapshot, replies=session.replies, events=typed(events))

    def _fire(self, session: TroubleshootingSession, trigger: str) -> bool:
        """Fire ``trigger``; False when no row of the table applies here."""
        try:
            # The model's own trigger method (``session.next_question()``), fetched by name:
            # one call less than ``session.trigger(name)``, and the same MachineError.
            return bool(getattr(session, trigger)())
        except MachineError:
            return False

    def _dispatch(
        self, session: TroubleshootingSession, turn: TurnInput, events: list[str]
    ) -> None:
        action = turn.action if isinstance(turn.action, Mapping) else None
        if action is not None and isinstance(action.get("msa"), str):
            self._on_action(session, action, events)
            return
        text = (turn.text or "").strip()
        if not text and action is not None:
            session.say(session.tr(messages.STALE_BUTTON))
            session.say_where_we_are()
            return
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT]
            session.say(session.tr(messages.TRUNCATED))
        self._on_text(session, text, events)

    # ----- buttons ---------------------------------------------------------
    def _on_action(
        self, session: TroubleshootingSession, action: Mapping[str, Any], events: list[str]
    ) -> None:
        verb = str(action["msa"])
        question = action.get("question")
        if verb == "answer" and isinstance(question, str) and question in QUESTIONS:
            value = action.get("value")
            if question == "mailbox":
                value = action.get("mailbox", value)
            self._answer(session, question, str(value) if value is not None else "", events)
        elif verb == "unsure" and isinstance(question, str) and question in QUESTIONS:
            self._unsure(session, question, events)
        elif verb == "clarify" and session.state == "clarifying_error":
            self._clarify(session, str(action.get("cause", "")), events)
        elif verb == "show_fix" and isinstance(action.get("cause"), str):
            cause_id = action["cause"]
            if cause_id in self.knowledge.cause_ids:
                session.say(card=cards.fix_card(self.knowledge, cause_id, session.facts,
                                                lang=session.lang))
            else:
                session.say(session.tr(messages.STALE_BUTTON))
                session.say_where_we_are()
        elif verb == "confirm" and action.get("answer") in {"yes", "no"}:
            self._confirm(session, action.get("fact"), action.get("value"),
                          action["answer"] == "yes", events)
        elif verb == "set_language" and action.get("lang") in LANGUAGES:
            self._set_language(session, str(action["lang"]), events)
        elif verb == "paste_error":
            session.say(session.tr(messages.PASTE_ERROR_PROMPT))
        elif verb == "ask_question":
            session.say(session.tr(messages.ASK_YOUR_QUESTION))
        elif verb in _COMMANDS:
            _COMMANDS[verb](self, session, events)
        else:
            session.say(session.tr(messages.STALE_BUTTON))
            session.say_where_we_are()

    # ----- typed text ------------------------------------------------------
    def _on_text(self, session: TroubleshootingSession, text: str, events: list[str]) -> None:
        reading = self.understanding.read(text, context_of(session.state),
                                          session.facts.get("answers", {}))
        if reading.intent != "error" and not session.lang_chosen and reading.lang is not None:
            # The language the customer writes in (a pasted error is Microsoft's, not theirs:
            # its language is never worked out here).
            session.lang = reading.lang
            session.lang_written = True
        turn = Turn(session, text, reading, events)
        if "confirm" in session.facts and confirmation_of(text) is None:
            # Not a yes or no to "Did you mean …?": that reading is dropped, this message read.
            session.facts.pop("confirm")
        for rule in RULES:
            if rule.when(turn) and rule.then(self, turn) is not False:
                return

    # ----- what the rules do -----------------------------------------------------------------
    def _nothing_typed(self, turn: Turn) -> None:
        turn.session.say_where_we_are()

    def _refuse_password(self, turn: Turn) -> None:
        turn.session.say(turn.session.tr(messages.PASSWORD_WARNING))
        turn.events.append("password_refused")
        turn.session.say_where_we_are()

    def _confirm_typed(self, turn: Turn) -> None:
        pending = turn.session.facts.get("confirm", {})
        self._confirm(turn.session, pending.get("fact"), pending.get("value"),
                      confirmation_of(turn.text) == "yes", turn.events)

    def _choose_language(self, turn: Turn) -> None:
        self._set_language(turn.session, str(turn.reading.lang_choice), turn.events)

    def _follow_up(self, turn: Turn) -> bool:
        """The answer to the one question that tells an ambiguous error's causes apart."""
        follow_up = turn.session.facts.get("diagnosis", {}).get("follow_up") or {}
        cause_id = match_follow_up(turn.text, follow_up)
        if cause_id is None and turn.reading.fact(turn.question or "") is None and any(
                fact.value == UNSURE for fact in turn.reading.facts):
            cause_id = UNSURE
        if cause_id is None:
            return False
        self._clarify(turn.session, cause_id, turn.events)
        return True

    def _skip(self, turn: Turn) -> None:
        question = str(turn.question)
        if question == "mailbox":
            # The address cannot be skipped: everything else is about this mailbox.
            self._unsure(turn.session, question, turn.events)
            return
        # An explicit "skip": noted as unknown, and the summary says how to find it out.
        turn.session.say(turn.session.tr(messages.SKIPPED))
        self._answer(turn.session, question, UNSURE, turn.events, explain_unsure=False)

    def _wait(self, turn: Turn) -> None:
        # The question is right above: a short word, not the card again.
        turn.session.say(turn.session.tr(messages.WAIT_ACK))

    def _change(self, turn: Turn) -> None:
        """"Change the licence answer": forget it and ask it again."""
        session = turn.session
        fact = str(turn.reading.change)
        session.forget(fact)
        session.facts.pop("confirm", None)
        turn.events.append(f"change:{fact}")
        session.say(session.tr(messages.CHANGE_ANSWER))
        if not self._fire(session, "next_question"):
            session.say_where_we_are()

    def _take_facts(self, turn: Turn) -> None:
        """Store what the message states for sure, echo it, ask about the rest, carry on."""
        session, reading, events = turn.session, turn.reading, turn.events
        question = turn.question
        stored = {fact.name: fact.value for fact in reading.stored}
        answer = stored.pop(question, None) if question is not None else None
        if question is None:
            answer = None
        if question == "mailbox" and answer == UNSURE:
            self._remember(session, stored, events, echo=True)
            self._unsure(session, question, events)
            return
        # Only a diagnosis on the screen weighs new findings (below; the state does not
        # change before then), so only then are the findings before this message needed.
        diagnosis_shown = session.state in {"clarifying_error", "proposing_fix"}
        before = {finding.cause.id for finding in self._findings(session)} if diagnosis_shown \
            else set()
        self._remember(session, stored, events, echo=answer is None)
        pending = reading.to_confirm
        if pending is not None and pending.name != "mailbox":
            session.facts["confirm"] = {"fact": pending.name, "value": pending.value}
            events.append(f"confirm:{pending.name}")
            if stored:
                session.say(noted_text(self.knowledge, stored, lang=session.lang))
            session.say(card=cards.confirm_card(self.knowledge, pending.name, pending.value,
                                                lang=session.lang))
            return
        if answer is not None:
            if question == "test_result" and answer not in self.knowledge.questions[
                    "test_result"].values:
                # "It still doesn't work": failed, but not how; the options tell it apart.
                if stored:
                    session.say(noted_text(self.knowledge, stored, lang=session.lang))
                session.ask_current_question(hint=session.tr(messages.TEST_RESULT_HOW))
                return
            self._answer(session, str(question), answer, events,
                         echo={str(question): answer, **stored})
            return
        if diagnosis_shown:
            # A diagnosis is on the screen, and the summary that would weigh these
            # facts is behind it: "it's a shared mailbox" may be the real cause.
            self._say_new_findings(session, before)
        if session.state in {"welcome", "summary"}:
            self._fire(session, "next_question")
        else:
            session.say_where_we_are()

    def _remember(self, session: TroubleshootingSession, facts: Mapping[str, str],
                  events: list[str], *, echo: bool) -> None:
        """Record facts volunteered beside the answer, so their questions are skipped."""
        kept = {}
        for fact, value in facts.items():
            if fact == "mailbox" and find_address(value) is None:
                continue
            if fact != "mailbox" and value not in self.knowledge.questions[fact].values:
                continue
            session.record(fact, value)
            events.append(f"volunteered:{fact}")
            kept[fact] = value
        if echo and kept:
            session.say(noted_text(self.knowledge, kept, lang=session.lang))

    def _diagnose_reading(self, turn: Turn) -> bool:
        return self._diagnose_text(turn.session, turn.text, turn.events)

    def _diagnose_unread(self, turn: Turn) -> bool:
        """A message nothing else took, long enough to be an unusual error text: try it."""
        if len(turn.text) < _MIN_ERROR_LENGTH or not (
                looks_like_error(turn.text) or len(turn.text) >= _UNREAD_ERROR_LENGTH):
            return False
        return self._diagnose_text(turn.session, turn.text, turn.events)

    def _question(self, turn: Turn) -> None:
        """Answer a typed question: from the knowledge's answers, else its causes."""
        session, reading, text = turn.session, turn.reading, turn.text
        proposed = session.current_candidate() if session.state == "proposing_fix" else None
        if proposed in self.knowledge.cause_ids and asks_for_powershell(text):
            # "What is the PowerShell for that?" asks about the fix on the screen.
            session.say(card=cards.fix_powershell_card(self.knowledge.cause(proposed),
                                                       session.facts, lang=session.lang))
            turn.events.append(f"question:{proposed}")
            return
        if proposed in self.knowledge.cause_ids and not reading.topic and (
                reading.kind == "how_long" or asks_when_it_works(text)):
            # "How long until it works?", "does it work now?": about the fix on the screen.
            local = localized_cause(self.knowledge.cause(proposed), session.lang)
            session.say(session.tr.format(messages.HOW_LONG, title=local.title, wait=local.wait))
            turn.events.append(f"question:{proposed}")
            return
        answer = self.knowledge.answers.get(reading.topic)
        if answer is not None:
            session.say(card=cards.answer_card(self.knowledge, answer, reading.kind,
                                               session.facts, lang=session.lang))
            # Events name causes, as the knowledge search's answers do (metrics count by cause).
            turn.events.append(f"question:{answer.cause or answer.id}")
            if session.state.startswith("ask_"):
                session.ask_current_question()  # the question they were on, to carry on with
            return
        if not self._answer_question(session, text, turn.events):
            turn.events.append("not_understood")
            self._not_understood(session, lead=messages.QUESTION_NOT_ANSWERED)

    def _problem(self, turn: Turn) -> None:
        # "Our TMS can't send emails" is how most conversations begin: ask for the
        # error, and start (or carry on with) the questions.
        turn.events.append("problem_described")
        if turn.session.state == "welcome":
            turn.session.say(turn.session.tr(messages.PROBLEM_DESCRIBED))
            self._fire(turn.session, "next_question")
        else:
            self._not_understood(turn.session, lead=messages.PROBLEM_DESCRIBED)

    def _start(self, turn: Turn) -> None:
        if turn.intent == "start" and turn.session.state == "welcome" and not turn.reading.exact:
            # "I need to set up e-mail in the TMS": say what we are doing, then ask.
            turn.session.say(turn.session.tr(messages.START_ACK))
        self._cmd_start(turn.session, turn.events)

    def _reask(self, turn: Turn) -> None:
        """Not understood: a short re-ask with the likely meanings, never the whole card again."""
        session = turn.session
        turn.events.append("not_understood")
        if turn.reading.intent == "other" and _sounds_like_question(turn.text):
            self._not_understood(session, lead=messages.QUESTION_NOT_ANSWERED)
            return
        if session.state != "welcome":
            self._not_understood(session)
            return
        options: list[tuple[str, dict[str, str]]] = []
        for intent in [i for i, _ in turn.reading.alternatives] + ["start", "error", "person"]:
            if intent in _REASK and len(options) < 3:
                title, data = _REASK[intent]
                option = (session.tr(title), data)
                if option not in options:
                    options.append(option)
        session.say(card=cards.reask_card(session.tr(messages.REASK), options))

    # ----- shared moves ----------------------------------------------------
    def _diagnose_text(
        self, session: TroubleshootingSession, text: str, events: list[str]
    ) -> bool:
        if self._diagnose is None or len(text) < _MIN_ERROR_LENGTH:
            return False
        diagnosis = self._diagnose(text)
        candidates = [c for c in diagnosis.candidates if c != "unknown"]
        if not candidates:
            if looks_like_error(text):
                # "535 5.7.139" alone: a known code with several causes, which only the
                # words after it tell apart. Say so and list them, rather than "unknown"
                # (only for a code the knowledge lists: other words are no evidence).
                found = [(cause_id, self.knowledge.cause(cause_id).summary)
                         for cause_id in diagnosis.listed]
                if not found and self._searcher().known_codes(text):
                    found = self._knowledge_topics(text)
                if found:
                    session.say(card=cards.question_answer_card(
                        self.knowledge, found, intro=messages.ERROR_WITHOUT_ITS_WORDS,
                        lang=session.lang))
                else:
                    session.say(session.tr(messages.UNKNOWN_ERROR))
                events.append("diagnosed:unknown")
                session.say_where_we_are()
                return True
            return False
        if diagnosis.confidence < _CHAT_CONFIDENCE and not looks_like_error(text):
            # "we use oauth" or "app password" brush against a cause's keywords, but they
            # are the customer talking, not an error report: read them as facts instead.
            return False
        session.facts["diagnosis"] = {
            "candidates": candidates[:5],
            "index": 0,
            "evidence": diagnosis.evidence[:300],
            "confidence": round(diagnosis.confidence, 3),
            "follow_up": dict(diagnosis.follow_up) if diagnosis.follow_up else None,
            "resume": session.state,
        }
        session.facts["failed_fixes"] = 0
        events.append(f"diagnosed:{candidates[0]}")
        self._fire(session, "error_pasted")
        return True

    def _confirm(self, session: TroubleshootingSession, fact: Any, value: Any, yes: bool,
                 events: list[str]) -> None:
        """The answer to "Did you mean …?": store the reading, or drop it and ask again."""
        pending = session.facts.pop("confirm", None)
        valid = (isinstance(fact, str) and fact in QUESTIONS and fact != "mailbox"
                 and isinstance(value, str) and value in self.knowledge.questions[fact].values)
        if not valid:
            session.say(session.tr(messages.STALE_BUTTON))
            session.say_where_we_are()
            return
        if not yes:
            events.append(f"unconfirmed:{fact}")
            session.say(session.tr(messages.CONFIRM_DROPPED))
            session.say_where_we_are()
            return
        events.append(f"confirmed:{fact}")
        if session.state == f"ask_{fact}":
            self._answer(session, fact, str(value), events, echo={fact: str(value)})
            return
        if pending is None and session.answer(fact) == value:
            session.say_where_we_are()  # an old card's Yes, already noted
            return
        session.record(fact, str(value))
        events.append(f"volunteered:{fact}")
        session.say(noted_text(self.knowledge, {fact: str(value)}, lang=session.lang))
        if session.state in {"welcome", "summary"}:
            self._fire(session, "next_question")
        else:
            session.say_where_we_are()

    def _set_language(self, session: TroubleshootingSession, lang: str, events: list[str]) -> None:
        """The customer's own choice of language: kept over what they write in and Teams' locale."""
        session.lang = lang
        session.lang_chosen = True
        events.append(f"language:{lang}")
        session.say(session.tr.format(messages.LANGUAGE_CHOSEN, name=LANGUAGE_NAMES[lang]))
        if session.state != "welcome":
            session.say_where_we_are()

    def _answer(
        self, session: TroubleshootingSession, question: str, value: str, events: list[str],
        *, explain_unsure: bool = True, echo: Mapping[str, str] | None = None,
    ) -> None:
        """Store an answer to ``question`` and move on; ``echo``: typed, so say what was noted."""
        spec = self.knowledge.questions[question]
        if question == "mailbox":
            address = find_address(value)
            if address is None:
                session.say(session.tr(messages.MAILBOX_INVALID))
                if session.state == "ask_mailbox":
                    session.ask_current_question()
                else:
                    session.say_where_we_are()
                return
            value = address
        elif value not in {option.value for option in spec.options}:
            self._not_understood(session)
            return
        elif (value == UNSURE and explain_unsure and session.state == f"ask_{question}"
              and question not in session.facts.get("how_shown", [])):
            # "I don't know" always leads to how to find out, before moving on.
            self._fire(session, "user_unsure")
            return
        session.record(question, value)
        events.append(f"answered:{question}")
        if session.state in {"clarifying_error", "proposing_fix", "resolved"}:
            session.say(noted_text(self.knowledge, echo or {question: value}, lang=session.lang))
            session.say_where_we_are()
            return
        if session.state.startswith("ask_") and session.state != f"ask_{question}":
            # A button from an earlier card: take the answer, say so, then carry on.
            session.say(noted_text(self.knowledge, echo or {question: value}, lang=session.lang))
        elif echo:
            # Typed: say what was read, so a misreading shows and can be corrected.
            session.say(noted_text(self.knowledge, echo, lang=session.lang))
        if question == "auth_method" and value in BASIC_AUTH_METHODS:
            session.say(session.tr(messages.BASIC_AUTH_CHOSEN))
        self._fire(session, "next_question")

    def _unsure(self, session: TroubleshootingSession, question: str, events: list[str]) -> None:
        if session.state != f"ask_{question}":
            # An old card's "I don't know": answer it for that question, stay put.
            session.say(card=cards.how_to_find_out_card(self.knowledge, question, session.facts,
                                                       lang=session.lang))
            return
        if question in session.facts.get("how_shown", []) and question != "mailbox":
            # Second "I don't know" after seeing how to look it up: move on, noted as unknown.
            self._answer(session, question, UNSURE, events)
            return
        self._fire(session, "user_unsure")

    def _clarify(self, session: TroubleshootingSession, cause_id: str, events: list[str]) -> None:
        diagnosis = session.facts.get("diagnosis", {})
        if cause_id == UNSURE and diagnosis.get("candidates"):
            # Not knowing the answer must not block: propose the causes in likelihood order.
            cause_id = str(diagnosis["candidates"][0])
            session.say(session.tr(messages.FOLLOW_UP_UNSURE))
        candidates = [c for c in diagnosis.get("candidates", []) if c != cause_id]
        if cause_id not in self.knowledge.cause_ids:
            self._not_understood(session)
            return
        diagnosis.update({"candidates": [cause_id, *candidates], "index": 0, "follow_up": None})
        events.append(f"clarified:{cause_id}")
        self._fire(session, "error_clarified")

    def _answer_question(
        self, session: TroubleshootingSession, text: str, events: list[str]
    ) -> bool:
        """Answer a typed question with the knowledge causes that match it; False if none do."""
        proposed = session.current_candidate() if session.state == "proposing_fix" else None
        if proposed in self.knowledge.cause_ids and asks_for_powershell(text):
            # "What is the PowerShell for that?" asks about the fix on the screen.
            cause = self.knowledge.cause(proposed)
            session.say(card=cards.fix_powershell_card(cause, session.facts, lang=session.lang))
            events.append(f"question:{proposed}")
            return True
        if proposed in self.knowledge.cause_ids and asks_when_it_works(text):
            # "How long until it works?", "does it work now?": about the fix on the screen.
            cause = self.knowledge.cause(proposed)
            local = localized_cause(cause, session.lang)
            session.say(session.tr.format(messages.HOW_LONG, title=local.title, wait=local.wait))
            events.append(f"question:{proposed}")
            return True
        found = self._knowledge_topics(text)
        if not found:
            return False
        session.say(card=cards.question_answer_card(self.knowledge, found, lang=session.lang))
        events.append(f"question:{found[0][0]}")
        if session.state.startswith("ask_"):
            session.ask_current_question()  # the question they were on, to carry on with
        return True

    def _findings(self, session: TroubleshootingSession) -> list[Finding]:
        """What the assessment rules make of the answers so far (as the summary shows them)."""
        return self.knowledge.findings(session.facts.get("answers", {}))

    def _say_new_findings(self, session: TroubleshootingSession, before: set[str]) -> None:
        """Name the causes that the facts just learned bring up, each with its fix."""
        shown = session.current_candidate() if session.state == "proposing_fix" else None
        found = [(f.cause.id, f.note) for f in self._findings(session)
                 if f.cause.id not in before and f.cause.id != shown]
        if found:
            session.say(card=cards.question_answer_card(
                self.knowledge, found, intro=messages.FACTS_CHANGE_THE_PICTURE, lang=session.lang))

    def _searcher(self) -> KnowledgeSearch:
        if self._search is None:
            from dialogs.search import search_for  # its index is built on the first use

            self._search = search_for(self.knowledge)
        return self._search

    def _knowledge_topics(self, text: str) -> list[tuple[str, str]]:
        """The causes a search ranks confidently for ``text``: (id, preview), best first."""
        query = topic_words(text)
        if not query:
            return []
        response = self._searcher().search(query)
        # A match that needed a typo corrected must be clearer: "how much does it cost"
        # reads as "... does host" and would find the wrong-server cause.
        best = response.results[0].score if response.results else 0.0
        return [(result.cause_id, result.preview) for result in response.confident()
                if result.score >= best * _QUESTION_RELATIVE][:_QUESTION_TOPICS]

    def _not_understood(
        self, session: TroubleshootingSession, lead: str = messages.NOT_UNDERSTOOD
    ) -> None:
        if session.state.startswith("ask_"):
            hint = localized(self.knowledge, session.lang).questions[
                session.state.removeprefix("ask_")].help
            session.ask_current_question(hint=f"{session.tr(lead)} {hint}")
        elif session.state in _LONG_CARD_HINTS:
            # The long fix or summary card is right above: a hint, not the whole card again.
            session.say(f"{session.tr(lead)} {session.tr(_LONG_CARD_HINTS[session.state])}")
        else:
            session.say(session.tr(lead))
            session.say_where_we_are()

    # ----- commands (typed or pressed) ---------------------------------------
    def _cmd_start(self, session: TroubleshootingSession, events: list[str]) -> None:
        if session.state == "resolved":
            self._cmd_start_over(session, events)
            return
        if not self._fire(session, "next_question"):
            session.say_where_we_are()

    def _cmd_start_over(self, session: TroubleshootingSession, events: list[str]) -> None:
        events.append("start_over")
        session.say(session.tr(messages.STARTING_OVER))
        self._fire(session, "start_over")

    def _cmd_back(self, session: TroubleshootingSession, events: list[str]) -> None:
        before = session.state
        if self._fire(session, "back"):
            # Going back means the customer wants to answer that question again.
            session.forget(session.state.removeprefix("ask_"))
            events.append(f"back:{before}")
            return
        if before == "proposing_fix" and self._fire(session, "next_question"):
            # "Back" from a diagnosis returns to the guided questions where they stopped.
            events.append(f"back:{before}")
            session.replies.insert(len(session.replies) - 1,
                                   Reply(session.tr(messages.BACK_TO_QUESTIONS)))
            return
        if before == "clarifying_error":
            session.say(session.tr(messages.ANSWER_FOLLOW_UP_FIRST))
        else:
            session.say(session.tr(messages.NO_EARLIER_QUESTION))
        session.say_where_we_are()

    def _cmd_help(self, session: TroubleshootingSession, events: list[str]) -> None:
        session.say(card=cards.help_card(self.knowledge, lang=session.lang,
                                         live_checks=session.live_checks))
        if session.state != "welcome":
            session.say_where_we_are()

    def _cmd_thanks(self, session: TroubleshootingSession, events: list[str]) -> None:
        # Politeness, not an answer: the same way on as after anything else not understood.
        self._not_understood(session, lead=messages.YOU_ARE_WELCOME)

    def _cmd_person(self, session: TroubleshootingSession, events: list[str]) -> None:
        events.append("person_requested")
        session.facts["resume_state"] = session.state
        self._fire(session, "ask_for_person")

    def _cmd_overview(self, session: TroubleshootingSession, events: list[str]) -> None:
        session.say(card=cards.overview_card(self.knowledge, lang=session.lang,
                                             facts=session.facts))

    def _cmd_continue(self, session: TroubleshootingSession, events: list[str]) -> None:
        if session.state in {"handoff_requested", "welcome", "summary", "proposing_fix"}:
            self._fire(session, "next_question")
        else:
            session.say_where_we_are()

    def _cmd_fix_worked(self, session: TroubleshootingSession, events: list[str]) -> None:
        came_from_fix = session.state == "proposing_fix"
        if self._fire(session, "fix_worked"):
            cause = session.current_candidate() if came_from_fix else None
            events.append(f"resolved:{cause or 'guided'}")
            return
        session.say_where_we_are()

    def _cmd_fix_failed(self, session: TroubleshootingSession, events: list[str]) -> None:
        if session.state != "proposing_fix":
            if session.state == "summary":
                session.say(session.tr(messages.UNKNOWN_ERROR))
            elif session.state.startswith("ask_"):
                session.say(session.tr(messages.PASTE_THE_ERROR))
                session.say_where_we_are()
            else:
                session.say_where_we_are()
            return
        session.facts["failed_fixes"] = int(session.facts.get("failed_fixes", 0)) + 1
        events.append(f"fix_failed:{session.current_candidate()}")
        if self._fire(session, "fix_failed"):
            session.replies.insert(len(session.replies) - 1,
                                   Reply(session.tr(messages.FIX_FAILED_NEXT)))
            return
        session.say(session.tr(messages.FIX_FAILED_RESUME))
        self._fire(session, "next_question")


_LONG_CARD_HINTS = {
    "proposing_fix": messages.FIX_PENDING_HINT,
    "summary": messages.SUMMARY_HINT,
}

_COMMANDS: dict[str, Callable[[FlowEngine, TroubleshootingSession, list[str]], None]] = {
    "start": FlowEngine._cmd_start,
    "start_over": FlowEngine._cmd_start_over,
    "back": FlowEngine._cmd_back,
    "help": FlowEngine._cmd_help,
    "overview": FlowEngine._cmd_overview,
    "person": FlowEngine._cmd_person,
    "continue": FlowEngine._cmd_continue,
    "fix_worked": FlowEngine._cmd_fix_worked,
    "fix_failed": FlowEngine._cmd_fix_failed,
    "thanks": FlowEngine._cmd_thanks,
}


def _command(name: str) -> Callable[[FlowEngine, Turn], None]:
    """A rule handler that runs the command of the same name (as its button would)."""
    def run(engine: FlowEngine, turn: Turn) -> None:
        _COMMANDS[name](engine, turn.session, turn.events)
    run.__name__ = f"command_{name}"
    return run


def _is(*intents: str) -> Callable[[Turn], bool]:
    wanted = frozenset(intents)
    return lambda turn: turn.intent in wanted


# The rule table: the first rule whose condition holds (and whose handler takes the turn)
# decides what a typed message does. Read it top to bottom.
RULES: tuple[Rule, ...] = (
    Rule("nothing typed", lambda t: not t.text, FlowEngine._nothing_typed),
    Rule("a password: refuse it, store nothing", lambda t: contains_password(t.text),
         FlowEngine._refuse_password),
    Rule("yes or no to \"Did you mean …?\"",
         lambda t: "confirm" in t.session.facts and confirmation_of(t.text) is not None,
         FlowEngine._confirm_typed),
    Rule("a language chosen", _is("language"), FlowEngine._choose_language),
    Rule("a person asked for", _is("person"), _command("person")),
    Rule("start over", _is("start_over"), _command("start_over")),
    Rule("back", _is("back"), _command("back")),
    Rule("help", _is("help"), _command("help")),
    Rule("the overview", _is("overview"), _command("overview")),
    Rule("the follow-up question answered",
         lambda t: t.session.state == "clarifying_error", FlowEngine._follow_up),
    Rule("the fix worked", _is("fix_worked"), _command("fix_worked")),
    Rule("the fix failed", _is("fix_failed"), _command("fix_failed")),
    Rule("continue", _is("continue"), _command("continue")),
    Rule("skip the question", lambda t: t.intent == "skip" and t.question is not None,
         FlowEngine._skip),
    Rule("wait", _is("wait"), FlowEngine._wait),
    Rule("change an earlier answer",
         lambda t: t.intent == "change" and t.reading.change in QUESTIONS, FlowEngine._change),
    Rule("an answer, or facts", lambda t: t.intent in {"answer", "facts"} and bool(t.reading.facts),
         FlowEngine._take_facts),
    Rule("a pasted error", _is("error"), FlowEngine._diagnose_reading),
    Rule("a question", _is("question"), FlowEngine._question),
    Rule("the trouble told without its error", _is("problem"), FlowEngine._problem),
    Rule("a start or a greeting", _is("start", "greeting"), FlowEngine._start),
    Rule("thanks", _is("thanks"), _command("thanks")),
    Rule("an unusual error text", lambda t: True, FlowEngine._diagnose_unread),
    Rule("not understood: ask again, with the likely meanings", lambda t: True,
         FlowEngine._reask),
)

# The re-ask's buttons: what each likely meaning is called, and what pressing it does.
_REASK: dict[str, tuple[str, dict[str, str]]] = {
    "start": (messages.START_GUIDED_CHECK, {"msa": "start"}),
    "problem": (messages.START_GUIDED_CHECK, {"msa": "start"}),
    "error": (messages.REASK_ERROR, {"msa": "paste_error"}),
    "question": (messages.REASK_QUESTION, {"msa": "ask_question"}),
    "help": (messages.HELP, {"msa": "help"}),
    "person": (messages.TALK_TO_A_PERSON, {"msa": "person"}),
}


def _sounds_like_question(text: str) -> bool:
    from dialogs.understanding.questions import is_question
    from dialogs.understanding.text import fold

    return is_question(fold(text))


_UNDERSTANDING: list[Understanding] = []


def _shared_understanding() -> Understanding:
    """One reader per process (its model is loaded or trained on first use)."""
    if not _UNDERSTANDING:
        _UNDERSTANDING.append(Understanding())
    return _UNDERSTANDING[0]


noted_text = cards.noted_text
