"""The per-turn model the shared flow machine drives: facts in, replies out.

A :class:`TroubleshootingSession` holds one turn: the conversation's snapshot
is loaded into a model attached to the shared machine, fired at, and read
back; only its ``state`` and ``facts`` are persisted (style rule 3). Its
guards are pure predicates over ``facts`` and its ``on_enter_*`` callbacks only
append :class:`Reply` values: sending them is the bot's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dialogs import cards, messages
from dialogs.flow import ASKED_WHEN, QUESTIONS
from dialogs.i18n import SOURCE_LANG, Translator, translator
from dialogs.knowledge import Knowledge, SmtpAuthSupport

UNSURE = "unsure"

# The licence question only matters for a mailbox a person signs in to.
LICENSED_MAILBOX_TYPES = frozenset({"user", UNSURE})


@dataclass
class Reply:
    """One message for the customer: plain text, an Adaptive Card, or both."""

    text: str = ""
    card: dict[str, Any] | None = None


@dataclass
class TroubleshootingSession:
    """The machine's model for one turn.

    Attributes:
        facts: everything learnt in this conversation, plain JSON values only.
        knowledge: the loaded knowledge base (never persisted).
        replies: what this turn says, in order.
        state: set by the machine.
        lang: the conversation's language (``snapshot["lang"]``): every reply is in it.
        lang_chosen: True when the customer chose it (it then no longer follows their writing).
        lang_written: True once it is the customer's (written, or stored unmarked); False while
            it is only a hint from Teams' locale (kept as ``"lang_hint": true``).
        live_checks: True when sign-in is configured, so cards may offer "Check my tenant".
    """

    facts: dict[str, Any]
    knowledge: Knowledge
    replies: list[Reply] = field(default_factory=list)
    state: str = "welcome"
    lang: str = SOURCE_LANG
    lang_chosen: bool = False
    lang_written: bool = False
    live_checks: bool = False

    @property
    def tr(self) -> Translator:
        """The conversation's translator: ``session.tr(messages.X)`` says X in its language."""
        return translator(self.lang)

    # ----- facts -----------------------------------------------------------
    def answer(self, question: str) -> str | None:
        """Return the stored answer to ``question`` (None when not asked yet)."""
        value = self.facts.get("answers", {}).get(question)
        return value if isinstance(value, str) else None

    def record(self, question: str, value: str) -> None:
        """Store an answer; a later answer to the same question replaces it."""
        self.facts.setdefault("answers", {})[question] = value

    def forget(self, question: str) -> None:
        """Drop an answer so its question is asked again."""
        self.facts.get("answers", {}).pop(question, None)

    def forget_facts(self) -> None:
        """Start a fresh troubleshooting run; keep only who asked for a person."""
        keep = {k: v for k, v in self.facts.items() if k in {"person_requested"}}
        self.facts.clear()
        self.facts.update(keep)

    def needs(self, question: str) -> bool:
        """True while ``question`` is unanswered and asked at all (its ASKED_WHEN guard holds).

        The table's ``needs_<question>`` guards are this, one property per question
        (made below the class from :data:`dialogs.flow.QUESTIONS`).
        """
        guard = ASKED_WHEN.get(question)
        if guard is not None and not getattr(self, guard):
            return False
        return self.answer(question) is None

    # ----- guards (pure predicates, named for the table) -------------------
    @property
    def is_unsupported_mailbox(self) -> bool:
        """True when the mailbox type can never use SMTP AUTH."""
        kind = self.answer("mailbox_type")
        if kind is None or kind == UNSURE:
            return False
        return self.knowledge.mailbox_type(kind).smtp_auth == SmtpAuthSupport.NOT_SUPPORTED

    @property
    def is_license_relevant(self) -> bool:
        """True when the licence question applies to this mailbox type."""
        return self.answer("mailbox_type") in LICENSED_MAILBOX_TYPES

    @property
    def has_diagnosis(self) -> bool:
        """True when a pasted error matched at least one cause."""
        return bool(self.facts.get("diagnosis", {}).get("candidates"))

    @property
    def is_diagnosis_ambiguous(self) -> bool:
        """True when the pasted error needs one question to tell its causes apart."""
        return bool(self.facts.get("diagnosis", {}).get("follow_up"))

    @property
    def has_more_candidates(self) -> bool:
        """True when another cause for the pasted error is left to propose."""
        diagnosis = self.facts.get("diagnosis", {})
        index: int = diagnosis.get("index", 0)
        return index + 1 < len(diagnosis.get("candidates", []))

    @property
    def is_resuming_summary(self) -> bool:
        """True when every question is answered, so 'back' from a fix lands on the summary."""
        return not any(self.needs(q) for q in QUESTIONS)

    # ----- actions used by the table ---------------------------------------
    def advance_candidate(self) -> None:
        """Move to the next cause of the pasted error."""
        diagnosis = self.facts.setdefault("diagnosis", {})
        diagnosis["index"] = diagnosis.get("index", 0) + 1

    def current_candidate(self) -> str | None:
        """Return the cause id the bot is proposing now, if any."""
        diagnosis = self.facts.get("diagnosis", {})
        candidates = diagnosis.get("candidates", [])
        index = diagnosis.get("index", 0)
        return candidates[index] if 0 <= index < len(candidates) else None

    # ----- what each state says --------------------------------------------
    def say(self, text: str = "", card: dict[str, Any] | None = None) -> None:
        """Queue a reply for this turn."""
        self.replies.append(Reply(text=text, card=card))

    def ask_current_question(self, hint: str | None = None) -> None:
        """(Re-)ask the question of the current state, optionally with a hint first."""
        question = self.state.removeprefix("ask_")
        self.say(card=cards.question_card(self.knowledge, question, self.facts, hint=hint,
                                           lang=self.lang))

    def show_how_to_find_out(self, *_: Any) -> None:
        """Explain where to look up the current question's answer."""
        question = self.state.removeprefix("ask_")
        shown = self.facts.setdefault("how_shown", [])
        if question not in shown:
            shown.append(question)
        self.say(card=cards.how_to_find_out_card(self.knowledge, question, self.facts,
                                                   lang=self.lang))

    def on_enter_state(self) -> None:
        """Say what the new state needs: a question, the summary, a fix, …"""
        if self.state.startswith("ask_"):
            self.ask_current_question()
        elif self.state == "summary":
            self.say(card=cards.summary_card(self.knowledge, self.facts, lang=self.lang,
                                            live_checks=self.live_checks))
        elif self.state == "proposing_fix":
            cause_id = self.current_candidate() or "unknown"
            self.say(card=cards.diagnosis_card(self.knowledge, self.facts, cause_id,
                                              lang=self.lang))
        elif self.state == "clarifying_error":
            self.say(card=cards.follow_up_card(self.facts["diagnosis"]["follow_up"],
                                              lang=self.lang, knowledge=self.knowledge))
        elif self.state == "handoff_requested":
            self.facts["person_requested"] = True
            self.say(card=cards.handoff_requested_card(self.knowledge, self.facts,
                                                      lang=self.lang))
        elif self.state == "resolved":
            self.say(card=cards.resolved_card(self.knowledge, self.facts, lang=self.lang))

    def say_where_we_are(self) -> None:
        """Repeat the current state's message (after a stale button or a restart)."""
        if self.state == "welcome":
            self.say(card=cards.welcome_card(self.knowledge, lang=self.lang,
                                            live_checks=self.live_checks))
        elif self.state == "resolved":
            self.say(self.tr(messages.RESOLVED_AGAIN))
        else:
            self.on_enter_state()


def _needs_guard(question: str) -> property:
    """The table's ``needs_<question>`` guard: :meth:`TroubleshootingSession.needs`."""
    def needs(session: TroubleshootingSession) -> bool:
        return session.needs(question)

    needs.__name__ = f"needs_{question}"
    needs.__doc__ = f"True while the {question} question is still to be asked."
    return property(needs)


for _question in QUESTIONS:
    setattr(TroubleshootingSession, f"needs_{_question}", _needs_guard(_question))
