"""English phrase rules kept from before the understanding layer.

Whole-message commands, a fix's outcome in a short message, the first words of
a question, topic words for the knowledge search, and a follow-up question's
options. The understanding layer (:mod:`dialogs.understanding.reader`) reads
every message in the three languages; these remain for the few places that ask
one narrow English question of a text (is it about the PowerShell of the fix on
the screen? does it ask when the fix starts working?).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from dialogs.knowledge import Knowledge
from dialogs.knowledge import normalise as normalise_words
from dialogs.understanding.text import find_address

# Greetings: alone they start the questions, and so do they at the head of a short message.
_GREETINGS = ("hi", "hello", "hey", "hallo", "good morning", "good afternoon", "good evening",
              "greetings")
# Typed commands, checked before anything else. Whole-message matches only, so
# "back" inside a sentence like "security defaults are back on" is not a command.
_COMMAND_PHRASES: dict[str, tuple[str, ...]] = {
    "start_over": ("start over", "restart", "reset", "start again", "begin again", "new check",
                   "from the beginning", "start from scratch"),
    "back": ("back", "go back", "previous", "previous question", "undo"),
    "overview": ("overview", "why is authenticated smtp missing", "authenticated smtp missing",
                 "why smtp may not appear", "why is smtp missing", "common causes",
                 "summary table"),
    "help": ("help", "?", "what can you do", "commands", "menu", "options"),
    "person": ("talk to a person", "talk to a human", "human", "agent", "person",
               "speak to someone", "talk to someone", "real person", "support agent",
               "contact support", "escalate", "live agent", "talk to support"),
    "continue": ("continue", "resume", "go on", "carry on", "next"),
    "start": ("start", "let's start", "lets start", "begin", "go", "get started", *_GREETINGS,
              "set up smtp", "setup", "set up"),
    "fix_worked": ("it works", "it works now", "that worked", "that fixed it", "fixed",
                   "solved", "it's working", "its working", "working now", "works now",
                   "yes it worked", "resolved", "all good"),
    "thanks": ("thanks", "thank you", "thanks a lot", "thank you very much", "many thanks",
               "thx", "ty", "cheers", "ok thanks", "ok thank you", "great thanks",
               "great thank you", "perfect thanks", "thanks for your help",
               "thank you for your help"),
    "fix_failed": ("it didn't work", "didn't work", "did not work", "still failing",
                   "still not working", "not fixed", "no luck", "that wasn't it",
                   "no, that wasn't it", "still broken", "doesn't work", "does not work",
                   "same error", "still the same"),
}

# The phrases of a command that may also be found inside a longer message.
_LONG_COMMAND_PHRASES: dict[str, tuple[str, ...]] = {
    command: tuple(phrase for phrase in phrases if len(phrase) > 6)
    for command, phrases in _COMMAND_PHRASES.items()
}

_PUNCT = re.compile(r"[^\w@.'?+-]+", re.UNICODE)
_NEGATION = re.compile(
    r"(?i)\b(no|not|n't|never|off|disabled?|without|none|unchecked|unticked|turned off|"
    r"switched off|doesn't|don't|isn't|aren't|haven't|hasn't|nicht|kein)\b"
)
_AFFIRMATION = re.compile(
    r"(?i)\b(yes|on|enabled?|have|has|use|using|uses|active|activated|required|checked|"
    r"ticked|turned on|switched on|we do|there is|there are|is set)\b"
)
_UNSURE = re.compile(
    r"(?i)\b(not sure|don't know|dont know|do not know|no idea|unsure|unknown|maybe|idk|"
    r"no clue|dunno|not certain|how do i (?:check|find)|where do i (?:look|find))\b"
)
_SKIP_PHRASES = frozenset({"skip", "skip it", "skip this", "skip that", "skip for now",
                           "skip this question", "skip this one", "pass", "later",
                           "ill check later", "i'll check later", "check later"})
_CLAUSE_SPLIT = re.compile(r"(?i)[.;,!\n]+|\b(?:and|but|also|plus|while|whereas)\b")


def normalise(text: str) -> str:
    """Lower-case, unify quotes and collapse punctuation to single spaces."""
    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


# How a question starts: a question word, or a verb before its subject ("can I", "does it").
_QUESTION_WORDS = frozenset({"what", "what's", "whats", "when", "when's", "why", "how",
                             "how's", "where", "which", "who", "whom", "whose"})
_QUESTION_VERBS = frozenset({"can", "could", "do", "does", "did", "is", "are", "was", "were",
                             "should", "will", "would", "may", "might", "must", "shall",
                             "has", "have", "need"})
_QUESTION_SUBJECTS = frozenset({"i", "we", "you", "it", "they", "he", "she", "this", "that",
                                "these", "those", "there", "my", "our", "the", "a", "an",
                                "microsoft", "cloudex", "smtp", "oauth", "mfa"})


def is_question(text: str) -> bool:
    """True when a message asks something ("when is basic auth turned off?").

    A message that starts like a question counts with or without a question
    mark (customers often leave it out); one that does not ("shared
    mailbox?") only asks when it ends with one. A question word alone
    ("what?", "why?") says the last message was not understood; it asks
    nothing the knowledge could answer.
    """
    words = normalise(text).split()
    if not words or (len(words) == 1 and words[0].strip("?") in _QUESTION_WORDS):
        return False
    if starts_like_question(words):
        return True
    return text.rstrip().endswith("?")


def starts_like_question(words: list[str] | str) -> bool:
    """True when a message (or its normalised words) opens the way a question does."""
    if isinstance(words, str):
        words = normalise(words).split()
    if not words:
        return False
    first = words[0].strip("?")
    if first in _QUESTION_WORDS:
        return True
    return (first in _QUESTION_VERBS and len(words) > 1
            and words[1].strip("?") in _QUESTION_SUBJECTS)


# Words every topic shares — the product, the service, sending itself — so a question
# that matches a topic only on them asks about none of them: "does this work with
# GoDaddy 365?" is not about shared mailboxes because that topic's title says "work".
_GENERIC_WORDS = frozenset({
    "work", "works", "working", "worked", "365", "microsoft", "office", "o365", "m365",
    "use", "uses", "using", "used", "cloudex", "tms", "email", "emails", "e-mail", "e-mails",
    "mail", "mails", "send", "sends", "sending", "sent", "problem", "problems", "issue",
    "issues", "help", "from",
})
_EDGE_PUNCTUATION = "?!.,;:'\"()[]“”‘’"
# "how long until it works?", "when will it take effect?", "does it work now?": a
# question about when the fix on the screen starts working (not "does oauth work with
# MFA?", which asks about a topic).
_WHEN_IT_WORKS = re.compile(
    r"(?<!\w)(?:how long|how soon|how much time|how many (?:minutes|hours|days)|"
    r"when (?:will|does|should|can) (?:it|this|that|the change|the fix|sending|mail)|"
    r"wait|waiting|take effect|takes effect|"
    r"(?:does|will|should|would|is|has) (?:it|this|that|sending|mail) "
    r"(?:work|working|fixed|solved|resolved))(?!\w)")


# "Our TMS can't send emails", "mail stopped working": the trouble, told without its error.
_PROBLEM = re.compile(
    r"(?<!\w)(?:can'?t|cannot|can not|won'?t|doesn'?t|does not|isn'?t|is not|are not|aren'?t|"
    r"not|no longer|stopped|fails? to|failing to|unable to) "
    r"(?:be |being )?(?:send|sending|sent|going out|go out|deliver|delivered|delivering|"
    r"work|working|connect|connecting)(?!\w)|"
    r"(?<!\w)(?:stopped working|stopped sending|not working|is broken|are broken|"
    r"(?:no|none of the|the) (?:e-?mails?|mails?|messages?) (?:go out|arrive|are sent|get sent))"
    r"(?!\w)")


_GREETING = re.compile(rf"(?:{'|'.join(map(re.escape, _GREETINGS))})(?!\w)")


def opens_with_greeting(text: str) -> bool:
    """True for a short message that begins with a greeting ("hello there", "hi team")."""
    said = normalise(text)
    return len(said) <= 40 and _GREETING.match(said) is not None


def describes_a_problem(text: str) -> bool:
    """True when a message tells of trouble sending without pasting an error ("TMS can't send")."""
    return len(text) <= 300 and _PROBLEM.search(normalise(text)) is not None


def topic_words(text: str) -> str:
    """The words of a question that can tell topics apart: ``text`` minus generic words.

    Codes and addresses stay as typed ("5.7.139", "smtp-legacy.office365.com").
    """
    kept = [word for word in text.split()
            if word.strip(_EDGE_PUNCTUATION).lower() not in _GENERIC_WORDS]
    return " ".join(kept)


def asks_when_it_works(text: str) -> bool:
    """True when a message asks when the fix starts working: "how long until it works?"."""
    return _WHEN_IT_WORKS.search(normalise(text)) is not None


_POWERSHELL_WORDS = frozenset({"powershell", "cmdlet", "cmdlets", "command", "commands",
                               "script", "ps1", "ps"})


def asks_for_powershell(text: str) -> bool:
    """True when a message mentions PowerShell or a command to run ("what do I run in ps?")."""
    return any(word.strip("?.") in _POWERSHELL_WORDS for word in normalise(text).split())


def match_command(text: str) -> str | None:
    """Return the command a whole message asks for (``back``, ``help`` …), or None."""
    said = normalise(text).strip(" .!?") or normalise(text)
    if len(said) > 60:
        return None
    for command, phrases in _COMMAND_PHRASES.items():
        if said in phrases:
            return command
    # "please start over", "can I talk to a person?"
    for command in ("start_over", "person", "help", "overview"):
        if _contains_any_phrase(said, _LONG_COMMAND_PHRASES[command]):
            return command
    return None


def match_outcome(text: str) -> str | None:
    """Read a fix's outcome said inside a short message ("thanks, it works now").

    For when a fix is waiting for its answer, and the message as a whole is no
    command: ``fix_failed`` when it contains a failure phrase ("no luck, same
    error"), else ``fix_worked`` when it contains a success phrase, no negation
    ("it's not resolved" is not a success) and no question mark, else None. A
    message that opens like a question ("how long until it works?") is neither.
    """
    said = normalise(text)
    if len(said) > 80 or starts_like_question(said.split()):
        # "how long until it works?" and "does it work now?" ask; they report nothing.
        return None
    if _contains_any_phrase(said, _COMMAND_PHRASES["fix_failed"]):
        return "fix_failed"
    if text.rstrip().endswith("?"):
        # "still failing?" reports a failure however it is punctuated; "it works?" doubts.
        return None
    if _NEGATION.search(said) is None and _contains_any_phrase(said,
                                                               _COMMAND_PHRASES["fix_worked"]):
        return "fix_worked"
    return None


@functools.lru_cache(maxsize=1024)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    # Topic words and command phrases are a fixed, small set: compile each once.
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")


def _contains_phrase(text: str, phrase: str) -> bool:
    return _phrase_pattern(phrase).search(text) is not None


@functools.lru_cache(maxsize=1024)
def _any_phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    # One search for the whole set instead of one per phrase: where a phrase
    # fails its word boundary, the alternation backtracks to the next one, so
    # this matches exactly when some phrase would alone. The sets are fixed
    # (commands, each question's topic words): compiled once.
    alternatives = [re.escape(phrase) for phrase in phrases if phrase]
    if not alternatives:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)")


def _contains_any_phrase(text: str, phrases: tuple[str, ...]) -> bool:
    """True when some (non-empty) phrase of ``phrases`` occurs in ``text`` as whole words."""
    pattern = _any_phrase_pattern(phrases)
    return pattern is not None and pattern.search(text) is not None


def is_unsure(text: str) -> bool:
    """True when a short message says "I don't know" in one of its usual forms."""
    return len(text) <= 80 and _UNSURE.search(text) is not None


def is_skip(text: str) -> bool:
    """True when a message asks to skip the current question ("skip", "skip for now", "pass")."""
    return normalise(text).strip(" .!?") in _SKIP_PHRASES


def _polarity(clause: str) -> str | None:
    if _UNSURE.search(clause):
        return "unsure"
    negative = _NEGATION.search(clause) is not None
    positive = _AFFIRMATION.search(clause) is not None
    if negative:
        return "no"
    if positive:
        return "yes"
    return None


def extract_facts(text: str, knowledge: Knowledge) -> dict[str, str]:
    """Pick up answers the customer volunteers ("we have MFA and security defaults are on").

    Each clause is matched against every question's topic words; a clause that
    names one topic and carries a clear yes / no / not sure, or names one of the
    question's options outright, answers that question.

    Args:
        text: what the customer typed.
        knowledge: the knowledge base with the questions' options and topic words.

    Returns:
        question id -> option value, only for clear statements.
    """
    found: dict[str, str] = {}
    address = find_address(text)
    if address:
        found["mailbox"] = address
    for raw_clause in _CLAUSE_SPLIT.split(text):
        clause = normalise_words(raw_clause or "")
        if not clause:
            continue
        for question_id, question in knowledge.questions.items():
            if question_id in found or question_id == "mailbox":
                continue
            if not _contains_any_phrase(clause, question.topics):
                continue
            option = question.match_option(clause)
            if option is not None:
                found[question_id] = option.value
                continue
            polarity = _polarity(raw_clause or "")
            if polarity is None:
                continue
            value = question.polarity.get(polarity)
            if value is not None:
                found[question_id] = value
    return found


def answer_part(text: str, question: str, knowledge: Knowledge) -> str:
    """Return ``text`` without the clauses that answer a different question.

    In "no licence" the "no" is about the licence, and in "yes, but no MFA" the
    "no" is about MFA: such clauses must not answer the question being asked.
    A clause is dropped when it states a fact for another question and none for
    this one; the rest is joined again.

    Args:
        text: what the customer typed.
        question: the question being asked.
        knowledge: the knowledge base with the questions' topic words.

    Returns:
        The part of ``text`` that may answer ``question`` (possibly empty).
    """
    kept = []
    for clause in _CLAUSE_SPLIT.split(text):
        if not clause or not clause.strip():
            continue
        facts = extract_facts(clause, knowledge)
        if question not in facts and set(facts) - {question}:
            continue
        kept.append(clause.strip())
    return " ".join(kept)


def match_follow_up(text: str, follow_up: Mapping[str, Any]) -> str | None:
    """Map a typed answer to one of a follow-up question's options (label or cause id)."""
    said = normalise(text)
    options = follow_up.get("options", [])
    for label, cause_id in options:
        label_norm = normalise(str(label))
        if said == label_norm or said == cause_id:
            return str(cause_id)
    for label, cause_id in options:
        words = [w for w in normalise(str(label)).split() if len(w) > 3]
        if words and any(_contains_phrase(said, word) for word in words):
            return str(cause_id)
    return None
