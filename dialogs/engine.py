"""One conversation turn: snapshot + what the customer did -> new snapshot + replies.

This is the whole domain side of a turn and knows nothing about Teams. The
bot reads the snapshot from storage, calls :meth:`FlowEngine.handle`, sends
the replies and writes the snapshot back. One :class:`FlowEngine` (and so one
machine) serves every conversation. Attaching a model to a ``transitions``
machine defines a method per trigger on it, which costs more than most turns;
so session models are attached once, kept in a small pool, and each turn
borrows one and loads the conversation's state and facts into it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from transitions import MachineError

from dialogs import cards, messages, understanding
from dialogs.events import Event, typed
from dialogs.flow import FLOW_VERSION, INITIAL_STATE, QUESTIONS, STATES, build_machine
from dialogs.i18n import language
from dialogs.i18n.knowledge import localized, localized_cause
from dialogs.knowledge import Finding, Knowledge
from dialogs.session import UNSURE, Reply, TroubleshootingSession

if TYPE_CHECKING:
    from dialogs.search import KnowledgeSearch

MAX_TEXT = 10_000

# Pasted errors are long and technical; a short answer like "no" must never be
# read as an error even when a diagnosis pattern would match part of it.
_MIN_ERROR_LENGTH = 6
# Replies up to this long are read as answers before they are read as errors.
_SHORT_ANSWER = 40
# Below this confidence a text without error codes or error words is chat, not a pasted error
# (every text of the diagnosis corpus is above it or reads as an error).
_CHAT_CONFIDENCE = 0.5
# Commands that report an outcome; on a question whose options say the same, they answer it.
_OUTCOME_COMMANDS = frozenset({"fix_worked", "fix_failed"})
# A typed question is answered with the knowledge causes a search ranks confidently
# (``SearchResponse.confident``: real questions score 7-19, one that only shares a word
# like "powershell" with a fix step below 1), and of those only the ones that score at
# least this share of the best one.
_QUESTION_RELATIVE = 0.5
_QUESTION_TOPICS = 3
# Sign-ins that use Basic authentication, which Microsoft turns off by default end of Dec 2026.
BASIC_AUTH_METHODS = frozenset({"basic", "app_password"})


@dataclass(frozen=True)
class TurnInput:
    """What the customer did this turn: typed text and/or a card button's data."""

    text: str = ""
    action: Mapping[str, Any] | None = None


@dataclass
class TurnResult:
    """The outcome of a turn.

    Attributes:
        snapshot: the JSON-able state to store for the conversation.
        replies: messages to send, in order.
        events: what happened, typed (:mod:`dialogs.events`; ``str()`` gives ``diagnosed:<cause>`` …).
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


def _copy_json(value: Any) -> Any:
    """``copy.deepcopy`` for JSON values, several times faster (facts are plain JSON).

    Dicts and lists are rebuilt, strings, numbers, booleans and None shared
    (they are immutable); anything else still goes through ``copy.deepcopy``.
    """
    kind = type(value)
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    if kind in _IMMUTABLE_JSON or value is None:
        return value
    return copy.deepcopy(value)


_IMMUTABLE_JSON = frozenset({str, int, float, bool})


def new_snapshot() -> dict[str, Any]:
    """Return the snapshot of a conversation that has not started."""
    return {"v": FLOW_VERSION, "state": INITIAL_STATE, "facts": {}, "lang": language(None)}


class FlowEngine:
    """Runs turns of the guided flow against one shared machine."""

    def __init__(self, knowledge: Knowledge, diagnose: Diagnose | None = None,
                 search: KnowledgeSearch | None = None, *, live_checks: bool = False) -> None:
        """Build the machine once.

        Args:
            knowledge: the loaded knowledge base.
            diagnose: turns pasted text into a diagnosis; None disables diagnosis.
            search: ranks knowledge causes for a typed question; None uses the
                knowledge search of ``knowledge`` (built on the first question;
                dialogs.search is imported only then: it loads numpy).
            live_checks: True when sign-in is configured, so cards offer "Check my tenant"
                (never offer what cannot work).
        """
        self.knowledge = knowledge
        self.live_checks = live_checks
        self._search = search
        self.machine = build_machine()
        self._diagnose = diagnose
        # Attached session models not in use by a turn right now (see the module docstring).
        self._idle: list[TroubleshootingSession] = []

    # ----- entry points ----------------------------------------------------
    def welcome(self, snapshot: Mapping[str, Any] | None) -> TurnResult:
        """Greet a conversation the bot was just added to, keeping any progress."""
        session = self._session(snapshot)
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
        with self._attached(self._session(snapshot)) as session:
            self._dispatch(session, turn, events)
            if not session.replies:
                # Never silence: whatever happened, say where we are.
                session.say_where_we_are()
            return self._result(session, events)

    @contextmanager
    def _attached(self, loaded: TroubleshootingSession) -> Iterator[TroubleshootingSession]:
        """Borrow a session model attached to the machine, holding ``loaded``'s state and facts.

        Turns never overlap on one model: each borrows its own (popping and
        appending a list is atomic, so threads are safe too), and a model
        goes back empty, so nothing of one conversation reaches the next.
        """
        try:
            session = self._idle.pop()
        except IndexError:
            session = TroubleshootingSession(facts={}, knowledge=self.knowledge)
            self.machine.add_model(session, initial=INITIAL_STATE)
        # The machine keeps the state in the model's ``state`` attribute and nowhere else.
        session.state = loaded.state
        session.facts = loaded.facts
        session.lang = loaded.lang
        session.live_checks = loaded.live_checks
        session.replies = []
        try:
            yield session
        finally:
            session.facts = {}
            session.replies = []
            self._idle.append(session)

    # ----- internals -------------------------------------------------------
    def _session(self, snapshot: Mapping[str, Any] | None) -> TroubleshootingSession:
        state = INITIAL_STATE
        facts: dict[str, Any] = {}
        if snapshot and snapshot.get("v") == FLOW_VERSION and snapshot.get("state") in STATES:
            state = str(snapshot["state"])
            raw_facts = snapshot.get("facts")
            # A deep copy: the turn must never change the caller's snapshot (a retried turn
            # or a second turn on the same snapshot would otherwise see this turn's changes).
            facts = _copy_json(dict(raw_facts)) if isinstance(raw_facts, Mapping) else {}
        # The language survives a restart and a flow-version change: it is the customer's.
        lang = language(snapshot.get("lang")) if snapshot else language(None)
        return TroubleshootingSession(facts=facts, knowledge=self.knowledge, state=state,
                                      lang=lang, live_checks=self.live_checks)

    @staticmethod
    def _result(session: TroubleshootingSession, events: list[str]) -> TurnResult:
        snapshot = {"v": FLOW_VERSION, "state": session.state, "facts": session.facts,
                    "lang": session.lang}
        return TurnResult(snapshot=snapshot, replies=session.replies, events=typed(events))

    def _fire(self, session: TroubleshootingSession, trigger: str) -> bool:
        """Fire ``trigger``; False when no row of the table applies here."""
        try:
            return bool(session.trigger(trigger))  # type: ignore[attr-defined]
        except MachineError:
            return False

    def _dispatch(self, session: TroubleshootingSession, turn: TurnInput, events: list[str]) -> None:
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
        elif verb in _COMMANDS:
            _COMMANDS[verb](self, session, events)
        else:
            session.say(session.tr(messages.STALE_BUTTON))
            session.say_where_we_are()

    # ----- typed text ------------------------------------------------------
    def _on_text(self, session: TroubleshootingSession, text: str, events: list[str]) -> None:
        if not text:
            session.say_where_we_are()
            return
        if understanding.contains_password(text):
            session.say(session.tr(messages.PASSWORD_WARNING))
            events.append("password_refused")
            session.say_where_we_are()
            return
        question = session.state.removeprefix("ask_") if session.state.startswith("ask_") else None
        command = understanding.match_command(text)
        if command is None and session.state == "proposing_fix":
            command = understanding.match_outcome(text)  # "thanks, it works now"
        if command in _OUTCOME_COMMANDS and question is not None and question != "mailbox" \
                and self.knowledge.questions[question].match_option(text) is not None:
            # "it works" on the test-send question answers it, exactly like its button.
            command = None
        if command is not None:
            _COMMANDS[command](self, session, events)
            return
        if session.state == "clarifying_error":
            if understanding.is_unsure(text):
                self._clarify(session, UNSURE, events)
                return
            cause_id = understanding.match_follow_up(text, session.facts["diagnosis"]["follow_up"])
            if cause_id:
                self._clarify(session, cause_id, events)
                return
        # A short reply is an answer; a long one is more likely a pasted error, whose
        # codes ("535", "5.7.139") would otherwise be taken for an answer's synonyms.
        short = len(text) <= _SHORT_ANSWER
        # "Can I use an app password?" asks about an option; it does not choose it.
        # (A typed address still answers the mailbox question, however it is put.)
        answers = question is not None and (
            question == "mailbox" or not understanding.starts_like_question(text))
        if short and answers and self._answer_from_text(session, question, text, events):
            return
        if self._diagnose_text(session, text, events):
            return
        if not short and answers and self._answer_from_text(session, question, text, events):
            return
        if understanding.is_question(text):
            # Not read for facts: "when is basic auth turned off?" says nothing about
            # how CLOUDEX TMS signs in.
            if not self._answer_question(session, text, events):
                events.append("not_understood")
                self._not_understood(session, lead=messages.QUESTION_NOT_ANSWERED)
            return
        volunteered = understanding.extract_facts(text, self.knowledge)
        if question is not None and question in volunteered:
            self._answer(session, question, volunteered[question], events)
            return
        if volunteered:
            before = {finding.cause.id for finding in self._findings(session)}
            self._remember(session, volunteered, None, events)
            session.say(noted_text(self.knowledge, volunteered, lang=session.lang))
            if session.state in {"clarifying_error", "proposing_fix"}:
                # A diagnosis is on the screen, and the summary that would weigh these
                # facts is behind it: "it's a shared mailbox" may be the real cause.
                self._say_new_findings(session, before)
            if session.state in {"welcome", "summary"}:
                self._fire(session, "next_question")
            else:
                session.say_where_we_are()
            return
        if understanding.describes_a_problem(text):
            # "Our TMS can't send emails" is how most conversations begin: ask for the
            # error, and start (or carry on with) the questions.
            events.append("problem_described")
            if session.state == "welcome":
                session.say(session.tr(messages.PROBLEM_DESCRIBED))
                self._fire(session, "next_question")
            else:
                self._not_understood(session, lead=messages.PROBLEM_DESCRIBED)
            return
        if understanding.opens_with_greeting(text):
            self._cmd_start(session, events)  # "hello there" greets like "hello" does
            return
        events.append("not_understood")
        self._not_understood(session)

    def _remember(
        self, session: TroubleshootingSession, facts: Mapping[str, str], current: str | None,
        events: list[str],
    ) -> None:
        """Record facts volunteered beside the answer, so their questions are skipped."""
        for fact, value in facts.items():
            if fact != current:
                session.record(fact, value)
                events.append(f"volunteered:{fact}")

    def _answer_from_text(
        self, session: TroubleshootingSession, question: str, text: str, events: list[str]
    ) -> bool:
        if question == "mailbox":
            address = understanding.find_address(text)
            if address is None and (understanding.is_unsure(text) or understanding.is_skip(text)):
                # The address cannot be skipped: everything else is about this mailbox.
                self._unsure(session, question, events)
                return True
            if address is None:
                return False
            self._answer(session, "mailbox", address, events)
            return True
        if understanding.is_skip(text):
            # An explicit "skip": noted as unknown, and the summary says how to find it out.
            session.say(session.tr(messages.SKIPPED))
            self._answer(session, question, UNSURE, events, explain_unsure=False)
            return True
        spec = self.knowledge.questions[question]
        part = understanding.answer_part(text, question, self.knowledge)
        option = spec.match_option(part) if part else None
        if option is None:
            option = spec.match_option(text)
            if option is not None and part != text and option.value in spec.polarity.values():
                # The yes/no belongs to another topic: "no licence" does not answer "no".
                option = None
        if option is None:
            return False
        # "Yes, and security defaults are on too": keep the extra facts as well.
        self._remember(session, understanding.extract_facts(text, self.knowledge), question, events)
        self._answer(session, question, option.value, events)
        return True

    def _diagnose_text(
        self, session: TroubleshootingSession, text: str, events: list[str]
    ) -> bool:
        if self._diagnose is None or len(text) < _MIN_ERROR_LENGTH:
            return False
        diagnosis = self._diagnose(text)
        candidates = [c for c in diagnosis.candidates if c != "unknown"]
        if not candidates:
            if understanding.looks_like_error(text):
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
        if diagnosis.confidence < _CHAT_CONFIDENCE and not understanding.looks_like_error(text):
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

    # ----- shared moves ----------------------------------------------------
    def _answer(
        self, session: TroubleshootingSession, question: str, value: str, events: list[str],
        *, explain_unsure: bool = True,
    ) -> None:
        spec = self.knowledge.questions[question]
        if question == "mailbox":
            address = understanding.find_address(value)
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
            session.say(noted_text(self.knowledge, {question: value}, lang=session.lang))
            session.say_where_we_are()
            return
        if session.state.startswith("ask_") and session.state != f"ask_{question}":
            # A button from an earlier card: take the answer, say so, then carry on.
            session.say(noted_text(self.knowledge, {question: value}, lang=session.lang))
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
        if proposed in self.knowledge.cause_ids and understanding.asks_for_powershell(text):
            # "What is the PowerShell for that?" asks about the fix on the screen.
            session.say(card=cards.fix_powershell_card(self.knowledge.cause(proposed), session.facts,
                                                       lang=session.lang))
            events.append(f"question:{proposed}")
            return True
        if proposed in self.knowledge.cause_ids and understanding.asks_when_it_works(text):
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
        """The knowledge causes a search ranks confidently for ``text``: (id, preview), best first."""
        query = understanding.topic_words(text)
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
            session.replies.insert(len(session.replies) - 1, Reply(session.tr(messages.BACK_TO_QUESTIONS)))
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
            session.replies.insert(len(session.replies) - 1, Reply(session.tr(messages.FIX_FAILED_NEXT)))
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


noted_text = cards.noted_text
