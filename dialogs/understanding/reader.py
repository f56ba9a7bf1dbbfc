"""Reading one message: language, intent, facts and how sure each is.

:class:`Understanding` combines the exact rules (commands, a language choice, an
address, an error code), the fact reader (:mod:`dialogs.understanding.facts`)
and the classifier (:mod:`dialogs.understanding.model`) into one
:class:`Reading`. The engine never looks at the text again: it decides from the
reading, through its rule table.

How the intent is decided, in order:

1. a whole-message command ("back", "atpakaļ", "назад") or a language choice;
2. an error code in a longer text, or an error's words in a text longer than a short
   answer: the diagnosis decides what it is (decided before facts or the classifier
   are worked out: a pasted log needs neither);
3. a question (by its words and the classifier), unless it is "how do I check?"
   said to a question: that is "I don't know";
4. facts stated outright: an answer (to the question asked) or facts, unless the
   classifier is sure of something else (skip, back, a person …);
5. a bare answer to the question asked ("nē", "probably not", "не включено");
6. the classifier.
On a fix, "yes"/"no" say whether it worked; on a new conversation, "yes" starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from dialogs.understanding import moves, questions
from dialogs.understanding.facts import (
    ALL_FACTS,
    BINARY_FACTS,
    SMTP_FACTS,
    VALUE_FACTS,
    Fact,
    FactReader,
    scan_text,
)
from dialogs.understanding.model import LinearModel, Scores, load_or_train
from dialogs.understanding.text import (
    cyrillic_share,
    find_address,
    fold,
    has_error_code,
    looks_like_error,
    names_a_bare_code,
    words,
)
from dialogs.understanding.translit import from_translit

# Facts at or above this confidence are stored; below it the bot asks first.
STORE_BAR = 0.75
LANGUAGES = ("en", "lv", "ru")
# Below this the classifier's language is no signal: keep the conversation's.
_LANG_SURE = 0.7
_SURE_INTENT = 0.5
# A text this long in an error's words is a pasted error, never a short answer in those words.
_SHORT_ANSWER = 60
# The answer head guesses a bare reply only when both heads are this sure (and it is confirmed).
_GUESS_INTENT = 0.7
# The classifier alone closes or fails a fix only when this sure.
_SURE_OUTCOME = 0.85
_GUESS_ANSWER = 0.85
# Intents that may carry facts the engine stores.
FACT_INTENTS = frozenset({"answer", "facts"})

_LATVIAN_LETTERS = re.compile(r"[āēīūčšžģķļņ]")
# Words that are the same in every language the customers write: no language signal.
_NEUTRAL = frozenset({
    "mfa", "2fa", "sd", "ca", "smtp", "auth", "oauth", "oauth2", "xoauth2", "e1", "e3", "e5", "f1",
    "f3", "tms", "cloudex", "microsoft", "office", "exchange", "online", "ok", "okay", "entra",
    "azure", "admin", "tenant", "app", "business", "basic", "standard", "premium", "kiosk", "plan",
    "ssl", "tls", "starttls", "m365", "o365", "365", "id", "p1", "p2", "outlook", "teams",
    "emailaddr",
    "errcode", "powershell", "lol", "ps", "pwd", "bp", "xd", "hmm", "test", "email", "mail",
    # Greetings everyone in the Baltics types in English.
    "hi", "hey", "hello", "thanks", "thx", "bye",
})

# Whole-message commands (folded, without end punctuation), in the three languages.
_COMMANDS: Mapping[str, str] = {
    **dict.fromkeys(("back", "go back", "previous", "previous question", "undo", "atpakal",
                     "iepriekseja", "iepriekshejais", "ieprieksejais", "ieprieksejais jautajums",
                     "назад", "предыдущий", "предыдущий вопрос", "nazad"), "back"),
    **dict.fromkeys(("start over", "restart", "reset", "start again", "begin again", "new check",
                     "start from scratch", "from the beginning", "sakt no jauna", "no jauna",
                     "no sakuma", "sakt no sakuma", "restartet", "начать заново", "заново",
                     "сначала",
                     "с начала", "начать сначала", "сброс", "перезапуск"), "start_over"),
    **dict.fromkeys(("help", "?", "menu", "commands", "options", "palidziba", "palidzi", "izvelne",
                     "komandas", "помощь", "справка", "меню", "команды", "pomosch"), "help"),
    **dict.fromkeys(("human", "agent", "person", "talk to a person", "talk to a human",
                     "real person", "support agent", "live agent", "cilveks", "operators",
                     "konsultants", "человек", "оператор", "живой человек", "консультант"),
                    "person"),
    **dict.fromkeys(("skip", "skip it", "skip this", "pass", "izlaist", "izlaid", "izlaizam",
                     "пропустить", "пропусти", "пропускаем"), "skip"),
    **dict.fromkeys(("overview", "why is authenticated smtp missing", "authenticated smtp missing",
                     "why smtp may not appear", "why is smtp missing", "common causes",
                     "summary table"), "overview"),
    **dict.fromkeys(("continue", "resume", "go on", "carry on", "next", "turpinat", "turpini",
                     "продолжить", "продолжай", "продолжим"), "continue"),
    **dict.fromkeys(("start", "begin", "let's start", "lets start", "get started", "sakt", "sakam",
                     "saksim", "начать", "начнем", "начинаем", "setup", "set up",
                     "set up smtp"), "start"),
    **dict.fromkeys(("thanks", "thank you", "thx", "ty", "paldies", "pldies", "liels paldies",
                     "спасибо", "спс", "благодарю"), "thanks"),
    **dict.fromkeys(("hi", "hello", "hey", "hallo", "good morning", "good afternoon",
                     "good evening", "greetings", "sveiki", "sveiks", "labdien", "labrit",
                     "labvakar", "cau", "привет", "здравствуйте", "здрасте", "добрый день",
                     "доброе утро", "добрый вечер"), "greeting"),
}
_END_PUNCTUATION = " .!?,;:)(-"

_LANGUAGE_NAMES = tuple((code, re.compile(pattern)) for code, pattern in (
    ("en", r"\benglish\b|\bangliski\b|\banglu\b|английск\w*|по[- ]английски"),
    ("lv", r"\blatvian\b|\blatviski\b|\blatviesu\b|латышск\w*|по[- ]латышски"),
    ("ru", r"\brussian\b|\bkrieviski\b|\bkrievu\b|русск\w*|по[- ]русски|\bpo[- ]russki\b"),
))
_LOCALE_LANGS = {"lv": "lv", "ru": "ru", "en": "en"}


class Signals:
    """What the classifier says of one message, worked out only when first asked for.

    Most messages need it (their intent, their language); a pasted error with its
    code does not: the diagnosis reads it, and the engine keeps the conversation's
    language. Reading one costs less than its classifier's scores do, so they wait.
    """

    def __init__(self, model: LinearModel, text: str, folded: str, context: str) -> None:
        """Remember what to score: ``text`` (``folded``) said in ``context``."""
        self._model = model
        self._text = text
        self._folded = folded
        self._context = context

    @cached_property
    def scores(self) -> Scores:
        """Every head's probabilities."""
        return self._model.scores(self._text, self._context)

    @cached_property
    def language(self) -> tuple[str | None, float]:
        """The language written in and how sure that is; None when the words do not tell."""
        folded = self._folded
        if cyrillic_share(folded) > 0.3:
            return "ru", 0.99
        if _LATVIAN_LETTERS.search(self._text.lower()):
            return "lv", 0.99
        telling = [w for w in words(folded) if w.isalpha() and len(w) > 1 and w not in _NEUTRAL]
        if not telling:
            return None, 0.0
        lang, probability = self.scores.top("lang")
        return (lang, round(probability, 3)) if probability >= _LANG_SURE else (None, probability)


@dataclass(frozen=True)
class Reading:
    """What one message says.

    Attributes:
        text: the message.
        lang: the language it is written in, or None when it gives no sign (an address, "ok").
        lang_confidence: how sure that is.
        intent: start, problem, error, question, answer, facts, change, skip, wait, person,
            back, start_over, help, language, thanks, fix_worked, fix_failed, greeting,
            other; or overview / continue (commands).
        confidence: how sure the intent is.
        alternatives: the likely intents, best first, with their probabilities.
        facts: the facts it states, each with the words that said it and a confidence.
        kind: for a question, its kind (what_is, where, how_to, how_long, is_safe, when, support).
        topic: for a question, the knowledge topic it is about ("" when none is named).
        lang_choice: for a language choice, the language chosen.
        change: for "change the licence answer", the fact to ask again.
        question: the question the bot was asking when it was said.
        signals: the classifier's view, behind ``lang``, ``lang_confidence`` and
            ``alternatives`` (worked out on first use: a pasted error code needs none of it).
    """

    text: str
    intent: str
    confidence: float
    facts: tuple[Fact, ...] = ()
    kind: str = ""
    topic: str = ""
    lang_choice: str | None = None
    change: str | None = None
    question: str | None = None
    exact: bool = False
    extra: Mapping[str, float] = field(default_factory=dict)
    # The classifier's view, worked out when first asked for (None: a message with no words).
    signals: Signals | None = field(default=None, repr=False, compare=False)

    @property
    def lang(self) -> str | None:
        """The language it is written in, or None when it gives no sign."""
        return self.signals.language[0] if self.signals is not None else None

    @property
    def lang_confidence(self) -> float:
        """How sure :attr:`lang` is."""
        return self.signals.language[1] if self.signals is not None else 0.0

    @property
    def alternatives(self) -> tuple[tuple[str, float], ...]:
        """The likely intents, best first, with their probabilities."""
        return self.signals.scores.ranked("intent")[:4] if self.signals is not None else ()

    def fact(self, name: str) -> Fact | None:
        """The fact named ``name``, if the message states it."""
        return next((fact for fact in self.facts if fact.name == name), None)

    @property
    def stored(self) -> tuple[Fact, ...]:
        """The facts sure enough to store (only when the message answers or states facts)."""
        if self.intent not in FACT_INTENTS:
            return ()
        return tuple(fact for fact in self.facts if fact.confidence >= STORE_BAR)

    @property
    def to_confirm(self) -> Fact | None:
        """The one fact to ask about before storing it ("Did you mean: MFA is off?")."""
        if self.intent not in FACT_INTENTS:
            return None
        unsure = [fact for fact in self.facts if fact.confidence < STORE_BAR]
        unsure.sort(key=lambda fact: (fact.name != self.question, -fact.confidence))
        return unsure[0] if unsure else None


class Understanding:
    """Reads messages; built once (the model is loaded or trained then) and shared."""

    def __init__(self, model: LinearModel | None = None) -> None:
        """Use ``model``, or the current saved one (trained now if the data changed)."""
        self.model = model if model is not None else load_or_train()
        self.facts = FactReader(self.model.known_words)

    def read(self, text: str, context: str | None = None,
             answers: Mapping[str, str] | None = None) -> Reading:
        """Read ``text`` said while the bot waited for ``context``.

        Args:
            text: the message.
            context: the question id being asked, ``fix`` (a fix is on the screen),
                ``summary``, or None for a conversation that has not started.
            answers: the answers stored so far ("no, MFA is on" disputes a stored MFA).
        """
        text = text.strip()
        question = context if context in ALL_FACTS else None
        if not text:
            return Reading(text, "other", 1.0, question=question)
        folded = fold(text)
        russian = from_translit(folded, self.model.known_words.__contains__)
        if russian is not None:
            # Russian in Latin letters ("gde eto najti?"): read as the Cyrillic it stands for.
            return replace(self.read(russian, context, answers), text=text)
        said = folded.strip(_END_PUNCTUATION)
        signals = Signals(self.model, text, folded, context or "-")
        draft = _Draft(text, folded, said, context, question, signals)

        command = _COMMANDS.get(said)
        if command == "continue" and question is not None and said in _NEXT:
            command = "skip"  # "next" on a question moves past it
        if command is not None and not (command == "skip" and question is None):
            return draft.reading(command, 1.0, exact=True)
        choice = self._language_choice(said)
        if choice is not None:
            return draft.reading("language", 0.95, lang_choice=choice)
        asks = questions.is_question(folded)
        opens_as_question = questions.opens_as_question(folded)
        coded = (has_error_code(text) and len(text) >= 20) or moves.pasted_after_lead_in(text)
        long = len(text) >= _SHORT_ANSWER
        # (Only a text without a code needs its words weighed: the rest is decided by coded.)
        worded = not coded and long and (moves.reads_like_error_text(text)
                                         or names_a_bare_code(text))
        if (coded or worded) and not opens_as_question:
            # A pasted error with its code, or a long text in an error's words: the diagnosis
            # reads it, whatever else it says (so neither its facts nor the classifier are
            # needed to decide).
            return draft.reading("error", 0.9)
        lang, lang_confidence = signals.language
        scores = signals.scores
        # The fix on the screen asks "did it work?": the test send's words answer it.
        # Facts are read in the likeliest language even when it is no sure sign for the
        # conversation: a Latvian "no" ("from") must not be read as an English one.
        likeliest = lang or (scores.top("lang")[0] if lang_confidence > 0 else "en")
        facts, named = self._facts(text, likeliest,
                                   "test_result" if context in {"fix", "summary"} else question,
                                   answers or {})
        if named and question is not None and question not in named:
            # "SMTP AUTH выключен" asked about MFA: whatever it says, it is not about MFA.
            draft = replace(draft, other_topic=True)
        # A short answer in an error's words ("authentication unsuccessful") answers the question.
        answered = any(f.name == question and not f.bare for f in facts) and not long
        if not long and not coded:
            worded = moves.reads_like_error_text(text) or names_a_bare_code(text)
        if (coded or (worded and not answered)) and not opens_as_question:
            return draft.reading("error", 0.9)
        strong = [f for f in facts if not f.bare]
        bare = [f for f in facts if f.bare]
        found: list[list[str]] = []

        def moves_asked() -> list[str]:
            # The moves the message asks for, worked out when first needed (an answer with
            # facts of its own, the commonest message, never needs them).
            if not found:
                found.append([m for m in moves.moves_in(folded)
                              if not (m == "skip" and question is None)])
            return found[0]

        top, p_top = scores.top("intent")

        if context == "fix" and not strong and not moves_asked():
            polar = confirmation_of(text)
            if polar is not None:  # "yes" / "nē" / "нет" to "Did this solve it?"
                return draft.reading("fix_worked" if polar == "yes" else "fix_failed", 0.9)
        if question is not None and questions.is_unsure_question(folded):
            topic = questions.CONTEXT_TOPICS.get(question)
            if topic is None or _SAYS_UNSURE.search(folded) or not questions.points_back(folded):
                # "not sure, how do I check?", a bare "how do I check": not knowing, said.
                return draft.with_facts("answer", 0.9, facts)
            # "Where can I see that?", "kā to pārbaudīt?": a question about the setting on the
            # screen, never an answer to it.
            return draft.reading("question", 0.9, kind=questions.kind_of(folded), topic=topic)
        if question == "mailbox" and any(f.name == "mailbox" and f.value != "unsure"
                                         for f in facts):
            # "Can we use tms@contoso.com?" still answers the address question.
            return draft.with_facts("answer", 0.9, facts)
        listing = len({f.name for f in strong}) >= 2 and "?" not in folded
        if (opens_as_question or (asks and top == "question")) and not listing:
            # ("have E3, MFA on, SD off" opens like a question; several facts say it is none.)
            return self._question(draft, moves_asked())
        if strong:
            for move in ("change", "start_over", "back"):
                if top == move and move in moves_asked():
                    return self._move(draft, move, facts)
            if asks and not listing:
                # "E3?", "business basic хватит?": a doubt or a question; ask before storing.
                facts = [_doubted(f) for f in facts]
            return draft.with_facts("answer" if question in {f.name for f in facts} else "facts",
                                    0.9, facts)
        matched = moves_asked()
        if matched:
            move = max(matched, key=lambda m: scores.probability("intent", m))
            unsure_only = all(f.value == "unsure" for f in bare)
            if not bare or unsure_only or scores.probability("intent", move) >= \
                    scores.probability("intent", "answer"):
                return self._move(draft, move, facts)
        if asks and not bare and (top == "question" or scores.probability("intent", "question")
                                  >= _SURE_INTENT):
            return self._question(draft, matched)
        if bare:
            return draft.with_facts("answer", max(p_top, 0.6), facts)
        if top in FACT_INTENTS:
            guessed = self._guessed_answer(draft)
            if guessed is not None:
                return draft.with_facts("answer", p_top, [guessed])
            # It reads like an answer, but no rule reads it: not understood, ask again.
            return draft.reading("other", p_top)
        if top == "question" and asks:
            return self._question(draft, matched)
        if top in {"fix_worked", "fix_failed"} and (p_top < _SURE_OUTCOME or not any(
                word in self.model.known_words for word in words(folded))):
            # Closing or failing a fix takes its words ("it works", "same error"), or certainty
            # about words seen before: "zzkx qwv" must never close a conversation.
            return draft.reading("other", p_top)
        if top in _MOVES_ONLY or top == "question" or (
                top == "greeting" and not moves.greets(folded)):
            # "Skip", "back" or "hi" needs its words; the classifier alone does not move the flow.
            return draft.reading("other", p_top)
        if p_top < _SURE_INTENT and top in {"problem", "start", "other"} and looks_like_error(text):
            # "error 9.9.9 …": error words, and nothing surer: the diagnosis decides.
            return draft.reading("error", p_top)
        return draft.reading(top, p_top)

    def _question(self, draft: _Draft, matched: list[str]) -> Reading:
        """A question: its kind and topic; on a new conversation, one about the job starts it."""
        if questions.is_small_talk(draft.folded) and not questions.topic_of(draft.folded):
            return draft.reading("other", 0.8)  # "how's the weather?": nothing we answer
        for move in ("person", "help", "change", "start_over", "skip", "back"):
            if move in matched:
                return self._move(draft, move, [])
        top, p_top = draft.scores.top("intent")
        if top not in {"question", "answer", "facts"} and p_top >= _SURE_INTENT \
                and not draft.folded.rstrip().endswith("?"):
            # Worded like a question, meant otherwise: "did it but nothing changed" on a fix.
            return draft.reading(top, p_top)
        topic = questions.topic_of(self.facts.repaired(draft.folded))
        if not topic and draft.context in (None, "-"):
            # "How do I connect our mailbox to the TMS?" asks for the whole job; "what time
            # is it?" for nothing we know. The classifier tells them apart.
            ranked = [(label, p) for label, p in draft.scores.ranked("intent")
                      if label in {"start", "problem", "other", "question", "help", "person"}]
            label = ranked[0][0]
            if label != "question":
                return draft.reading(label, ranked[0][1])
        kind = questions.kind_of(draft.folded)
        if not topic and draft.question in questions.CONTEXT_TOPICS and (
                kind in {"where", "how_to", "how_long"}
                or (kind == "is_safe" and questions.points_back(draft.folded))):
            # "How do I enable it?" asked at the SMTP AUTH question is about SMTP AUTH; "does
            # it work with gmail?" asks about the product, not about the setting on the screen.
            topic = questions.CONTEXT_TOPICS[draft.question]
        return draft.reading("question", max(draft.scores.probability("intent", "question"), 0.7),
                             kind=kind, topic=topic)

    def _move(self, draft: _Draft, move: str, facts: list[Fact]) -> Reading:
        if move == "change":
            named = [f.name for f in facts if f.name != "mailbox"] or _named_facts(draft.folded)
            if facts and any(f.name != "mailbox" for f in facts):
                return draft.with_facts("facts", 0.85, facts)  # "change the MFA answer to no"
            if not named:
                return draft.reading("back", 0.7)
            return draft.reading("change", 0.85, change=named[0])
        return draft.reading(move, max(draft.scores.probability("intent", move), 0.7))

    def _guessed_answer(self, draft: _Draft) -> Fact | None:
        """A bare reply no rule reads, by the answer head ("sure thing", "нету такого").

        Never stored on the model's word alone: at most just below the bar, so the bot
        asks "Did you mean …?" first.
        """
        question = draft.question
        if question is None or question == "mailbox" or draft.other_topic:
            return None
        if draft.scores.probability("intent", "answer") < _GUESS_INTENT:
            return None
        label, probability = draft.scores.top("answer")
        if label not in {"yes", "no"} or probability < _GUESS_ANSWER or len(draft.said.split()) < 2:
            return None  # "hmm" is no answer, and "Did you mean: I don't know?" no question
        value = _POLARITY.get(question, {}).get(label)
        if value is None:
            return None
        return Fact(question, value, " ".join(draft.text.split()),
                    round(min(probability, STORE_BAR - 0.05), 3))

    def _facts(self, text: str, lang: str | None, question: str | None,
               answers: Mapping[str, str]) -> tuple[list[Fact], frozenset[str]]:
        """The facts ``text`` states, and the facts whose topic it names."""
        found, named = self.facts.read_named(text, scan_text(text), lang or "en", question,
                                             answers)
        address = find_address(text)
        if address is not None:
            found = [f for f in found if f.name != "mailbox"]
            found.insert(0, Fact("mailbox", address, address, 1.0))
            named |= {"mailbox"}
        return found, named

    @staticmethod
    def _language_choice(said: str) -> str | None:
        """The language a short message asks for ("latviski", "in English please", "по-русски")."""
        if len(said.split(None, 8)) > 8:  # more than 8 words (a long paste is not split whole)
            return None
        for code, pattern in _LANGUAGE_NAMES:
            if pattern.search(said):
                return code
        return None


@dataclass(frozen=True)
class _Draft:
    """What is known of a message while its intent is decided."""

    text: str
    folded: str
    said: str
    context: str | None
    question: str | None
    signals: Signals
    other_topic: bool = False  # it names another fact's topic, and not the question's

    @property
    def scores(self) -> Scores:
        """The classifier's probabilities (computed on first use)."""
        return self.signals.scores

    def reading(self, intent: str, confidence: float, **extra: object) -> Reading:
        """A reading without facts."""
        reading = Reading(self.text, intent, round(confidence, 3), question=self.question,
                          signals=self.signals, **extra)  # type: ignore[arg-type]
        return reading

    def with_facts(self, intent: str, confidence: float, facts: list[Fact]) -> Reading:
        """A reading that states facts; on a fix or a new conversation, said in context."""
        if self.context in {"fix", "summary"}:
            # "Did it work?" is the question a fix (or the summary's changes) leaves open.
            outcome = next((f for f in facts if f.name == "test_result"), None)
            others = tuple(f for f in facts if f.name != "test_result")
            if outcome is not None and not others:
                worked = outcome.value == "works"
                return self.reading("fix_worked" if worked else "fix_failed", outcome.confidence)
            if intent == "answer" and not others and self.context == "fix":
                polar = _bare_polarity(self.text)
                if polar is not None:
                    worked = polar == "yes"
                    return self.reading("fix_worked" if worked else "fix_failed", confidence)
            facts = list(others)
            intent = "facts" if facts else "other"
        if self.context in (None, "-") and intent == "answer":
            return self.reading("start", confidence)
        return Reading(self.text, intent, round(confidence, 3), facts=tuple(facts),
                       question=self.question, signals=self.signals)


# Moves the classifier alone may not make: their words are a closed class (moves.py).
_MOVES_ONLY = frozenset({"skip", "back", "start_over", "change", "wait"})
# What a bare yes / no / "not sure" answers, for each question.
_POLARITY: Mapping[str, Mapping[str, str]] = {
    **{fact: {"yes": "yes", "no": "no", "unsure": "unsure"} for fact in BINARY_FACTS},
    **{fact: {"yes": "enabled", "no": "disabled", "unsure": "unsure"} for fact in SMTP_FACTS},
    **{fact: {"unsure": "unsure"} for fact in VALUE_FACTS},
}
# Not knowing, said in words ("not sure, how do I check?"): an answer, even worded as a question.
_SAYS_UNSURE = re.compile(r"not sure|no idea|dunno|don'?t know|nezin|не знаю|не уверен|без понятия|"
                          r"понятия не")
_NEXT = frozenset({"next", "talak", "дальше", "nakamais", "следующий"})
_POLAR_YES = re.compile(r"^(?:yes|yep|yeah|y|sure|ja+|jā|da|да|ага|угу)\b")
_POLAR_NO = re.compile(r"^(?:no|nope|nah|n|ne|nee|nē|net|нет|неа)\b")
_FACT_WORDS = (
    ("license", r"licen|лиценз"), ("mfa", r"\bmfa\b|2fa"), ("security_defaults",
     r"security default|drosibas noklusejum|\bsd\b|параметр\w* безопасност"),
    ("conditional_access", r"conditional access|\bca\b|условн\w* доступ"),
    ("mailbox", r"address|adrese|адрес|mailbox|pastkast|ящик"),
    ("auth_method", r"sign[- ]in|password|parol|парол|oauth"),
    ("mailbox_type", r"type|tips|тип"), ("test_result", r"test|тест"),
)


def _doubted(fact: Fact) -> Fact:
    """A fact said with a question mark: below the bar, so the bot asks first."""
    from dataclasses import replace

    return replace(fact, confidence=round(min(fact.confidence, STORE_BAR - 0.05), 3))


def _named_facts(folded: str) -> list[str]:
    return [name for name, pattern in _FACT_WORDS if re.search(pattern, folded)]


def _bare_polarity(text: str) -> str | None:
    said = fold(text)
    if _POLAR_YES.search(said):
        return "yes"
    if _POLAR_NO.search(said):
        return "no"
    return None


def _replace(reading: Reading, **changes: object) -> Reading:
    from dataclasses import replace

    return replace(reading, **changes)  # type: ignore[arg-type]


_CONFIRM_YES = frozenset({"yes", "yep", "yeah", "yup", "y", "sure", "correct", "right", "exactly",
                          "ok", "okay", "ja", "jaa", "pareizi", "protams", "tiesa", "da", "да",
                          "ага", "угу", "верно", "точно", "конечно", "правильно"})
_CONFIRM_NO = frozenset({"no", "nope", "nah", "n", "ne", "nee", "net", "нет", "неа", "wrong",
                         "incorrect", "nepareizi", "неверно", "неправильно"})
_CONFIRM_FILLER = frozenset({"that's", "thats", "it", "is", "that", "so", "tas", "ir", "это", "так",
                             "please", "ludzu", "пожалуйста"})


def confirmation_of(text: str) -> str | None:
    """"yes" or "no" for a short reply that is only a yes or a no ("jā, pareizi", "нет")."""
    said = [w for w in words(fold(text)) if w not in _CONFIRM_FILLER]
    if not said or len(said) > 4:
        return None
    if all(w in _CONFIRM_YES for w in said):
        return "yes"
    if all(w in _CONFIRM_NO for w in said):
        return "no"
    return None


def locale_language(locale: str | None) -> str | None:
    """The conversation language Teams' ``locale`` hints at ("lv-LV" -> "lv"), if one we speak."""
    if not locale:
        return None
    return _LOCALE_LANGS.get(locale.split("-")[0].lower())
