"""The troubleshooting knowledge, loaded from ``knowledge.json`` into frozen dataclasses.

The knowledge is data so that support staff can correct a click path or a
wait time without touching the flow. Everything else (flow, assessment,
diagnosis, cards, checks, search) reads it through this module, so the loader
validates the file against ``docs/contracts.md`` ("Knowledge file") and fails
loudly, listing every problem at once, instead of letting a typo surface as a
wrong answer to a customer.

Nothing is loaded at import time: call :func:`load_knowledge` (tests, tools)
or :func:`default_knowledge` (the running bot, cached).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from dialogs.flow import QUESTIONS
from dialogs.powershell import PLACEHOLDER as IDENTITY_PLACEHOLDER
from dialogs.powershell import InvalidIdentity, placeholders, quote_literal, validate_identity
from dialogs.text import normalise

# The contract's stable ids. The file decides their order (the order in which
# a customer should apply fixes); these tuples only say which ids must exist.
CAUSE_IDS: tuple[str, ...] = (
    "smtp_auth_disabled_tenant",
    "smtp_auth_disabled_mailbox",
    "wrong_credentials",
    "mfa_required",
    "security_defaults",
    "conditional_access",
    "basic_auth_disabled",
    "no_exchange_license",
    "unsupported_mailbox_type",
    "account_blocked",
    "send_as_denied",
    "starttls_required",
    "tls_version",
    "auth_mechanism",
    "not_authenticated",
    "wrong_endpoint",
    "rate_limited",
    "message_too_large",
    "sender_blocked",
    "oauth_token",
    "unknown",
)
QUESTION_IDS: tuple[str, ...] = QUESTIONS
"""The guided questions, in the flow's order (:data:`dialogs.flow.QUESTIONS` is their one list)."""
UNSURE = "unsure"
"""Option value every question (except the free-text mailbox question) offers."""
MAILBOX_QUESTION = "mailbox"
"""The question answered with an address instead of an option."""
UNKNOWN_CAUSE = "unknown"
"""The catch-all cause; always last in fix order."""
MAILBOX_PLACEHOLDER = "{mailbox}"
"""The placeholder for the mailbox in a cause's forward_text prose."""
PROSE_PLACEHOLDERS = frozenset({MAILBOX_PLACEHOLDER, IDENTITY_PLACEHOLDER, "{domain}", "{app_id}"})
"""Known values customer text may name: the address, its PowerShell literal, the tenant's
domain and the OAuth app's id (filled in by the cards when known)."""

_TOP_KEYS = frozenset(
    {
        "version",
        "notices",
        "causes",
        "questions",
        "assessment_rules",
        "mailbox_types",
        "summary_table",
        "answers",
    }
)
# The kinds of question an entry of "answers" may have a text for (see dialogs.understanding).
ANSWER_KINDS = frozenset({"what_is", "where", "how_to", "how_long", "is_safe", "when", "support"})
_ANSWER_KEYS = frozenset({"title", "answer", "kinds", "steps", "powershell", "cause"})
_ANSWER_OPTIONAL = frozenset({"kinds", "powershell", "cause"})
_CAUSE_KEYS = frozenset(
    {
        "id",
        "title",
        "summary",
        "why",
        "symptoms",
        "error_codes",
        "keywords",
        "check",
        "fix",
        "wait",
        "links",
        "forward_text",
        "patterns",
        "prior",
        "needs_person",
    }
)
# Keys a cause or pattern may leave out: diagnosis-only ones (dialogs/diagnosis.py reads
# them) and the live checks' "needs a person" flag (false unless said).
_CAUSE_OPTIONAL_KEYS = frozenset({"prior", "needs_person"})
_PATTERN_OPTIONAL_KEYS = frozenset({"context", "signal", "when", "unless"})
# Live-check keys a mailbox type may leave out (a state such as "unlicensed" has no names).
_MAILBOX_TYPE_OPTIONAL_KEYS = frozenset(
    {"recipient_types", "user_purposes", "needs_license", "sign_in"}
)
_MAILBOX_TYPE_KEYS = frozenset({"id", "title", "smtp_auth", "note"}) | _MAILBOX_TYPE_OPTIONAL_KEYS
_QUESTION_KEYS = frozenset(
    {"prompt", "label", "help", "options", "how_to_find_out", "related_causes", "topics",
     "polarity"}
)
_OPTION_VALUE = re.compile(r"[a-z][a-z0-9_]*")
_REQUIRED_NOTICES = ("basic_auth_retirement",)
# Words that turn the option phrase right after them around (apostrophes are dropped).
NEGATORS = frozenset({"not", "no", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt",
                      "never", "without", "cant", "cannot", "wont", "nicht", "kein", "keine"})
# How many words before an option phrase a negator still applies to it.
NEGATION_REACH = 3
_LEADING_NO = re.compile(r"(?i)\s*(?:no|nope|nah)\s*[,.;:!–-]")


class Severity(StrEnum):
    """How strongly an assessment rule points at a cause."""

    BLOCKER = "blocker"
    WARNING = "warning"


class SmtpAuthSupport(StrEnum):
    """Whether a kind of mailbox can send with Authenticated SMTP."""

    SUPPORTED = "supported"
    NOT_SUPPORTED = "not_supported"
    NEEDS_LICENSED_USER = "needs_licensed_user"


class SignIn(StrEnum):
    """What a kind of mailbox's own sign-in should be."""

    REQUIRED = "required"  # it signs in itself (a user mailbox)
    KEEP_BLOCKED = "keep_blocked"  # Microsoft advises blocking it (a shared mailbox)
    NOT_USED = "not_used"  # it never signs in (rooms, equipment, groups)


_Choice = TypeVar("_Choice", Severity, SmtpAuthSupport, SignIn)
T = TypeVar("T")


class KnowledgeError(ValueError):
    """The knowledge file is missing, not JSON, or breaks the contract.

    Attributes:
        problems: Every problem found, each naming the place in the file.
    """

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        """Build the error from all problems found in one load.

        Args:
            source: The file that was read.
            problems: What is wrong, one entry per problem.
        """
        self.problems: tuple[str, ...] = tuple(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{listing}")


@dataclass(frozen=True)
class Link:
    """A documentation link shown with a cause."""

    title: str
    url: str


@dataclass(frozen=True)
class ClickPath:
    """Where to click in an admin portal, as breadcrumbs."""

    portal: str
    url: str
    steps: tuple[str, ...]

    def breadcrumb(self, separator: str = " > ") -> str:
        """Join the portal name and steps into one readable line.

        Args:
            separator: What goes between the steps.

        Returns:
            For example ``Microsoft 365 admin center > Users > Active users``.
        """
        return separator.join((self.portal, *self.steps))


@dataclass(frozen=True)
class Pattern:
    """A regular expression that recognises a cause in an error text.

    ``context``, ``signal``, ``when`` and ``unless`` are read by the diagnosis
    (``dialogs/diagnosis.py``): a context pattern only adds to a cause that other
    evidence already names; a signal (``"password"``, ``"oauth"``, ``"app_only"``)
    is set by any matching pattern that names it; ``when`` / ``unless`` make a
    pattern count only with / without one of those signals.
    """

    regex: str
    weight: float
    label: str
    context: bool = False
    signal: str = ""
    when: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()

    def search(self, text: str) -> re.Match[str] | None:
        """Search ``text`` for this pattern.

        The ``re`` module caches compiled patterns, so compiling per call is
        cheap and keeps this dataclass free of unhashable compiled state.

        Args:
            text: The error text or message to look at.

        Returns:
            The first match, or None.
        """
        return re.search(self.regex, text)


@dataclass(frozen=True)
class Check:
    """How to verify whether a cause applies."""

    click_paths: tuple[ClickPath, ...]
    powershell: tuple[str, ...]


@dataclass(frozen=True)
class Recommended:
    """The one fix a customer card shows first; everything else is one press away.

    Attributes:
        text: What to do now, in one short line.
        click_path: Index of the fix's click path that belongs to it, or None.
        powershell: The PowerShell lines that belong to it (none, or the fix's). In the
            file ``true`` means the fix's PowerShell; a list of lines is the recommended
            fix's own, when Microsoft's recommended way differs from the fix's
            PowerShell (one mailbox's ``Set-CASMailbox`` rather than the whole
            organisation's ``Set-TransportConfig``, which then stays under "Other ways").
    """

    text: str
    click_path: int | None
    powershell: tuple[str, ...]


@dataclass(frozen=True)
class Fix:
    """How to remove a cause."""

    steps: tuple[str, ...]
    click_paths: tuple[ClickPath, ...]
    powershell: tuple[str, ...]
    # Absent in the file: the first step, the first click path and the PowerShell.
    recommended: Recommended | None = None

    @property
    def first(self) -> Recommended:
        """The recommended fix (see :class:`Recommended`)."""
        if self.recommended is not None:
            return self.recommended
        return Recommended(self.steps[0] if self.steps else "",
                           0 if self.click_paths else None, self.powershell)


@dataclass(frozen=True)
class Cause:
    """One reason why a mailbox cannot send through smtp.office365.com."""

    id: str
    title: str
    summary: str
    why: str
    symptoms: tuple[str, ...]
    error_codes: tuple[str, ...]
    keywords: tuple[str, ...]
    check: Check
    fix: Fix
    wait: str
    links: tuple[Link, ...]
    forward_text: str
    patterns: tuple[Pattern, ...]
    # How common the cause is among failed SMTP sign-ins (0..1); orders candidates
    # the text cannot tell apart. Never makes a candidate by itself.
    prior: float = 0.0
    # Only a person can resolve it (e.g. a Microsoft support case): the live
    # checks hand such findings to support instead of to the customer.
    needs_person: bool = False

    def forward(self, mailbox: str | None = None) -> str:
        """Return the text the customer forwards to their IT provider.

        Args:
            mailbox: The mailbox address, if known.

        Returns:
            ``forward_text`` with ``{mailbox}`` filled in ("the mailbox" when unknown).
        """
        # In prose the address reads as it is; inside a PowerShell line it goes
        # through the same validation and quoting as every other PowerShell.
        try:
            identity = quote_literal(validate_identity(mailbox)) if mailbox else None
        except InvalidIdentity:
            identity = None
        text = self.forward_text.replace(IDENTITY_PLACEHOLDER, identity or "'‹mailbox›'")
        return text.replace(MAILBOX_PLACEHOLDER, mailbox or "the mailbox")


@dataclass(frozen=True)
class Option:
    """One allowed answer to a question."""

    value: str
    title: str
    synonyms: tuple[str, ...]

    def phrases(self) -> tuple[str, ...]:
        """Return the normalised phrases that select this option.

        Returns:
            The value, the title and every synonym, normalised, without empties or duplicates.
        """
        return self._phrases

    # Computed once per option (the knowledge is immutable): matching a typed
    # answer would otherwise normalise every synonym of every option again.
    @functools.cached_property
    def _phrases(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for text in (self.value, self.title, *self.synonyms):
            phrase = normalise(text)
            if phrase:
                seen.setdefault(phrase, None)
        return tuple(seen)

    @functools.cached_property
    def phrase_words(self) -> tuple[tuple[str, ...], ...]:
        """The words of each of :meth:`phrases`, in the same order."""
        return tuple(tuple(phrase.split()) for phrase in self._phrases)


@dataclass(frozen=True)
class HowToFindOut:
    """How a customer or admin finds the answer to a question."""

    text: str
    click_paths: tuple[ClickPath, ...]
    powershell: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """A guided question; its answer becomes the fact named by ``id``."""

    id: str
    prompt: str
    help: str
    options: tuple[Option, ...]
    how_to_find_out: HowToFindOut
    related_causes: tuple[str, ...]
    # Short name for summaries ("MFA"); words that show a sentence is about this
    # question; and which option a plain yes / no / not sure about it selects.
    label: str = ""
    topics: tuple[str, ...] = ()
    polarity: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_free_text(self) -> bool:
        """True for the mailbox question, which is answered with an address."""
        return not self.options

    @property
    def values(self) -> tuple[str, ...]:
        """The option values, in display order."""
        return tuple(option.value for option in self.options)

    def option(self, value: str) -> Option:
        """Return the option with this value.

        Args:
            value: An option value such as ``"yes"`` or ``"unsure"``.

        Returns:
            The option.

        Raises:
            KeyError: If the question has no such option.
        """
        for option in self.options:
            if option.value == value:
                return option
        raise KeyError(f"Question {self.id!r} has no option {value!r}.")

    def match_option(self, text: str) -> Option | None:
        """Map what the customer typed to one option, or None if unclear.

        Matching is case-insensitive and whole-word on normalised text (see
        :func:`normalise`) against each option's value, title and synonyms.
        A phrase found inside a longer matching phrase is ignored, so
        "not ticked" beats "ticked" and "no idea" beats "no". A phrase with a
        negator up to :data:`NEGATION_REACH` words before it counts for nothing
        ("we are not using MFA" is no "MFA: yes", "not a shared mailbox" no
        "shared"), unless the phrase holds a negator itself ("dont use mfa");
        a leading "No," answers something else. If the remaining matches point
        at more than one option ("yes and no"), the answer is ambiguous and
        None is returned, so the bot asks again instead of guessing.

        Args:
            text: The customer's reply.

        Returns:
            The single option the reply selects, or None.
        """
        words = normalise(text).split()
        if not words or not self.options:
            return None
        # "No, it's a user mailbox": a leading "no," answers something else.
        first = 1 if _LEADING_NO.match(text) else 0
        hits: list[tuple[int, int, int]] = []  # (start, end, option index)
        for index, option in enumerate(self.options):
            for phrase in option.phrase_words:
                # "not using MFA" and "not a shared mailbox" do not choose "MFA: yes" or
                # "shared"; "not enabled" and "dont use mfa" are phrases of "no" themselves.
                hits.extend(
                    (start, end, index) for start, end in _find_phrase(words, phrase)
                    if NEGATORS.isdisjoint(words[max(first, start - NEGATION_REACH):start])
                    or not NEGATORS.isdisjoint(phrase))
        kept = {
            index
            for start, end, index in hits
            if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in hits)
        }
        if len(kept) != 1:
            return None
        return self.options[kept.pop()]


@dataclass(frozen=True)
class Condition:
    """One part of a rule's ``when``: the fact must have one of these values."""

    fact: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """An assessment rule: when all conditions hold, point at a cause."""

    when: tuple[Condition, ...]
    cause: str
    severity: Severity
    note: str

    def matches(self, facts: Mapping[str, str]) -> bool:
        """Tell whether every condition holds for these facts.

        A missing fact never matches. "unsure" is an ordinary value here: it
        only matches a rule that lists "unsure" explicitly, as the contract says.

        Args:
            facts: Answers so far, keyed by question id.

        Returns:
            True if the rule applies.
        """
        for condition in self.when:  # noqa: SIM110 - a loop, not all(): tried for every rule, many turns
            if facts.get(condition.fact) not in condition.values:
                return False
        return True


@dataclass(frozen=True)
class MailboxType:
    """A kind of mailbox, whether it can use Authenticated SMTP, and what it needs.

    ``recipient_types`` (Exchange ``RecipientTypeDetails``) and ``user_purposes``
    (Graph ``mailboxSettings.userPurpose``) say how the live checks recognise
    it; ``needs_license`` and ``sign_in`` what they expect of it.
    """

    id: str
    title: str
    smtp_auth: SmtpAuthSupport
    note: str
    recipient_types: tuple[str, ...] = ()
    user_purposes: tuple[str, ...] = ()
    needs_license: bool = True
    sign_in: SignIn = SignIn.REQUIRED


@dataclass(frozen=True)
class SummaryRow:
    """A row of the (corrected) summary table from the customer's document."""

    reason: str
    solution: str
    cause: str


@dataclass(frozen=True)
class Answer:
    """The short answer to a customer's question about one topic ("what is an app password?").

    ``text`` answers what the topic is; ``kinds`` holds the answers to other kinds of
    question about it (where it is, how to change it, whether it is safe …). ``steps``
    (and ``powershell``) are the detail behind the answer's "Show the steps".
    """

    id: str
    title: str
    text: str
    kinds: Mapping[str, str]
    steps: tuple[str, ...]
    powershell: tuple[str, ...] = ()
    cause: str | None = None

    def for_kind(self, kind: str) -> str:
        """The answer to a question of ``kind`` (what the topic is, when there is no other)."""
        return self.kinds.get(kind, self.text)


@dataclass(frozen=True)
class Notice:
    """A dated fact the bot states in several places."""

    date: date
    text: str


@dataclass(frozen=True)
class Finding:
    """A cause that the customer's answers point at."""

    cause: Cause
    severity: Severity
    note: str
    rule_index: int


@dataclass(frozen=True)
class Knowledge:
    """The whole knowledge file."""

    version: int
    notices: Mapping[str, Notice]
    causes: tuple[Cause, ...]
    questions: Mapping[str, Question]
    assessment_rules: tuple[Rule, ...]
    mailbox_types: tuple[MailboxType, ...]
    summary_table: tuple[SummaryRow, ...]
    answers: Mapping[str, Answer] = field(default_factory=dict)

    # The knowledge is immutable: its lookups are made once (they ran on every turn).
    @functools.cached_property
    def cause_ids(self) -> tuple[str, ...]:
        """Cause ids in fix order."""
        return tuple(cause.id for cause in self.causes)

    @functools.cached_property
    def _causes_by_id(self) -> Mapping[str, Cause]:
        # The first cause of each id, as the scan it replaces found it.
        by_id: dict[str, Cause] = {}
        for cause in self.causes:
            by_id.setdefault(cause.id, cause)
        return by_id

    @functools.cached_property
    def fix_order(self) -> Mapping[str, int]:
        """Each cause id's place in fix order (0 first), to sort findings by."""
        return {cause_id: n for n, cause_id in enumerate(self.cause_ids)}

    def cause(self, cause_id: str) -> Cause:
        """Return a cause by id.

        Args:
            cause_id: One of :data:`CAUSE_IDS`.

        Returns:
            The cause.

        Raises:
            KeyError: If there is no such cause.
        """
        cause = self._causes_by_id.get(cause_id)
        if cause is None:
            raise KeyError(f"Unknown cause {cause_id!r}.")
        return cause

    def question(self, question_id: str) -> Question:
        """Return a question by id (the fact name).

        Args:
            question_id: One of :data:`QUESTION_IDS`.

        Returns:
            The question.

        Raises:
            KeyError: If there is no such question.
        """
        try:
            return self.questions[question_id]
        except KeyError:
            raise KeyError(f"Unknown question {question_id!r}.") from None

    def mailbox_type_of(self, *, recipient_type: str | None = None,
                        user_purpose: str | None = None) -> MailboxType | None:
        """The kind of mailbox Exchange's or Graph's name stands for.

        Args:
            recipient_type: ``RecipientTypeDetails`` (e.g. "SharedMailbox").
            user_purpose: ``mailboxSettings.userPurpose`` (e.g. "shared").

        Returns:
            The mailbox type, or None for a name the knowledge doesn't list.
        """
        for mailbox_type in self.mailbox_types:
            if recipient_type and recipient_type.casefold() in (
                    r.casefold() for r in mailbox_type.recipient_types):
                return mailbox_type
            if user_purpose and user_purpose.casefold() in (
                    p.casefold() for p in mailbox_type.user_purposes):
                return mailbox_type
        return None

    def mailbox_type(self, type_id: str) -> MailboxType:
        """Return a mailbox type by id.

        Args:
            type_id: For example ``"shared"``.

        Returns:
            The mailbox type.

        Raises:
            KeyError: If there is no such mailbox type.
        """
        for mailbox_type in self.mailbox_types:
            if mailbox_type.id == type_id:
                return mailbox_type
        raise KeyError(f"Unknown mailbox type {type_id!r}.")

    def notice(self, name: str) -> Notice:
        """Return a notice such as ``basic_auth_retirement``.

        Args:
            name: The notice key.

        Returns:
            The notice.

        Raises:
            KeyError: If there is no such notice.
        """
        return self.notices[name]

    def findings(self, facts: Mapping[str, str]) -> list[Finding]:
        """Evaluate the assessment rules against the customer's answers.

        Rules are tried in file order and the first rule that matches a cause
        decides its severity and note, so specific rules are listed before
        general ones. Each cause is reported once. Blockers come before
        warnings; within a severity, causes keep their fix order.

        Args:
            facts: Answers so far, keyed by question id (option values).

        Returns:
            The findings, most important first.
        """
        chosen: dict[str, Finding] = {}
        for index, rule in enumerate(self.assessment_rules):
            if rule.cause in chosen or not rule.matches(facts):
                continue
            chosen[rule.cause] = Finding(self.cause(rule.cause), rule.severity, rule.note, index)
        position = self.fix_order
        rank = {Severity.BLOCKER: 0, Severity.WARNING: 1}
        return sorted(chosen.values(), key=lambda f: (rank[f.severity], position[f.cause.id]))


def _find_phrase(words: Sequence[str], phrase: Sequence[str]) -> list[tuple[int, int]]:
    """Find whole-word occurrences of a phrase in a word list.

    Args:
        words: The normalised reply, split into words.
        phrase: The normalised phrase, split into words.

    Returns:
        (start, end) word positions of every occurrence.
    """
    size = len(phrase)
    if size == 0:
        return []
    words, phrase = tuple(words), tuple(phrase)
    return [
        (start, start + size)
        for start in range(len(words) - size + 1)
        if words[start : start + size] == phrase
    ]


def default_path() -> Path:
    """Return the path of the knowledge file shipped with the package.

    Returns:
        ``dialogs/knowledge.json`` next to this module (never relative to the cwd).
    """
    return Path(__file__).with_name("knowledge.json")


def load_knowledge(path: Path | None = None) -> Knowledge:
    """Read and validate a knowledge file.

    Args:
        path: The file to read; the packaged ``knowledge.json`` when None.

    Returns:
        The validated knowledge.

    Raises:
        KnowledgeError: If the file cannot be read, is not JSON or breaks the
            contract; the message lists every problem found.
    """
    source = path if path is not None else default_path()
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeError(str(source), [f"cannot read the file: {exc}"]) from exc
    except json.JSONDecodeError as exc:
        raise KnowledgeError(str(source), [f"not valid JSON: {exc}"]) from exc
    return parse_knowledge(raw, source=str(source))


def parse_knowledge(raw: Any, source: str = "<knowledge>") -> Knowledge:
    """Validate already-decoded JSON and build the knowledge from it.

    Args:
        raw: The decoded JSON document.
        source: A name for error messages.

    Returns:
        The validated knowledge.

    Raises:
        KnowledgeError: If the document breaks the contract.
    """
    parser = _Parser()
    knowledge = parser.knowledge(raw)
    if parser.problems or knowledge is None:
        raise KnowledgeError(source, parser.problems or ["the document is empty"])
    return knowledge


def per_knowledge(build: Callable[[Any], T], maxsize: int = 8) -> Callable[[Any], T]:
    """Cache what is derived from a knowledge base (indexes, compiled patterns) per object.

    A ``Knowledge`` holds mappings, so it cannot be hashed by value; the cache is
    keyed by identity and keeps the object alive with its derived value, so an
    id is never reused while its entry exists. Bounded like ``lru_cache``.

    Args:
        build: Builds the derived value from a knowledge object.
        maxsize: How many knowledge objects to remember.

    Returns:
        ``build`` with caching.
    """
    entries: OrderedDict[int, tuple[Any, T]] = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(build)
    def cached(knowledge: Any) -> T:
        with lock:
            entry = entries.get(id(knowledge))
            if entry is not None and entry[0] is knowledge:
                entries.move_to_end(id(knowledge))
                return entry[1]
        value = build(knowledge)
        with lock:
            entries[id(knowledge)] = (knowledge, value)
            while len(entries) > maxsize:
                entries.popitem(last=False)
        return value

    return cached


@functools.lru_cache(maxsize=1)
def default_knowledge() -> Knowledge:
    """Load the packaged knowledge once and reuse it.

    The cache lives on this function rather than in a module variable, so
    importing the module builds nothing and tests can call
    ``default_knowledge.cache_clear()``.

    Returns:
        The validated packaged knowledge.
    """
    return load_knowledge()


class _Parser:
    """Builds :class:`Knowledge` from JSON, collecting every contract violation.

    It keeps going after a problem (substituting empty values) so that one run
    reports all problems, which matters when several people edit the file.
    """

    def __init__(self) -> None:
        self.problems: list[str] = []

    # -- primitives ---------------------------------------------------------
    def _problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def _object(self, value: Any, where: str, keys: frozenset[str] | None = None,
                optional: frozenset[str] = frozenset()) -> dict[str, Any]:
        if not isinstance(value, dict):
            self._problem(where, "must be an object")
            return {}
        if keys is not None:
            missing = sorted(keys - optional - value.keys())
            extra = sorted(value.keys() - keys)
            if missing:
                self._problem(where, f"missing key(s) {missing}")
            if extra:
                self._problem(where, f"unknown key(s) {extra}")
        return value

    def _list(self, value: Any, where: str, *, non_empty: bool = False) -> list[Any]:
        if not isinstance(value, list):
            self._problem(where, "must be a list")
            return []
        if non_empty and not value:
            self._problem(where, "must not be empty")
        return value

    def _text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self._problem(where, "must be a non-empty string")
            return ""
        return value

    def _texts(self, value: Any, where: str, *, non_empty: bool = False) -> tuple[str, ...]:
        items = self._list(value, where, non_empty=non_empty)
        return tuple(self._text(item, f"{where}[{i}]") for i, item in enumerate(items))

    def _choice(self, kind: type[_Choice], value: Any, where: str, default: _Choice) -> _Choice:
        if isinstance(value, str) and value in {member.value for member in kind}:
            return kind(value)
        self._problem(where, f"must be one of {[m.value for m in kind]}, got {value!r}")
        return default

    def _flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            self._problem(where, "must be true or false")
            return False
        return value

    def _service_names(self, value: Any, where: str) -> tuple[str, ...]:
        # Optional lists of Exchange/Graph names ("SharedMailbox"); absent means none.
        if value is None:
            return ()
        return tuple(self._text(v, f"{where}[{i}]") for i, v in enumerate(self._list(value, where)))

    def _url(self, value: Any, where: str) -> str:
        url = self._text(value, where)
        if url and not url.startswith("https://"):
            self._problem(where, f"must be an https:// URL, got {url!r}")
        return url

    # -- shared pieces ------------------------------------------------------
    def _click_paths(self, value: Any, where: str) -> tuple[ClickPath, ...]:
        paths = []
        for i, item in enumerate(self._list(value, where)):
            here = f"{where}[{i}]"
            obj = self._object(item, here, frozenset({"portal", "url", "steps"}))
            paths.append(
                ClickPath(
                    portal=self._text(obj.get("portal"), f"{here}.portal"),
                    url=self._url(obj.get("url"), f"{here}.url"),
                    steps=self._prose(self._texts(obj.get("steps"), f"{here}.steps",
                                                  non_empty=True), f"{here}.steps"),
                )
            )
        return tuple(paths)

    def _powershell(self, value: Any, where: str) -> tuple[str, ...]:
        lines = self._texts(value, where)
        for i, line in enumerate(lines):
            here = f"{where}[{i}]"
            wrong = [name for name in placeholders(line) if name != IDENTITY_PLACEHOLDER]
            if wrong:
                self._problem(here, f"only {IDENTITY_PLACEHOLDER} may be used, found {wrong}")
            # Lines are shown ready to run; "<mailbox>"-style blanks would be a
            # PowerShell syntax error, and a line break would split the command.
            if "<" in line or ">" in line:
                self._problem(here, "must be runnable as is; use {identity}, not <...> blanks")
            if "\n" in line or "\r" in line:
                self._problem(here, "must be a single line")
        return lines

    # -- sections -----------------------------------------------------------
    def knowledge(self, raw: Any) -> Knowledge | None:
        top = self._object(raw, "document", _TOP_KEYS)
        if not top:
            return None
        version = top.get("version")
        if version != 1 or isinstance(version, bool):
            self._problem("version", f"must be 1, got {version!r}")
        notices = self._notices(top.get("notices"))
        causes = self._causes(top.get("causes"))
        cause_ids = frozenset(cause.id for cause in causes)
        questions = self._questions(top.get("questions"), cause_ids)
        rules = self._rules(top.get("assessment_rules"), cause_ids, questions)
        mailbox_types = self._mailbox_types(top.get("mailbox_types"), questions)
        summary = self._summary(top.get("summary_table"), cause_ids)
        answers = self._answers(top.get("answers", {}), cause_ids)
        return Knowledge(
            version=1,
            notices=MappingProxyType(notices),
            causes=causes,
            questions=MappingProxyType(questions),
            assessment_rules=rules,
            mailbox_types=mailbox_types,
            summary_table=summary,
            answers=MappingProxyType(answers),
        )

    def _notices(self, value: Any) -> dict[str, Notice]:
        obj = self._object(value, "notices")
        notices: dict[str, Notice] = {}
        for name, item in obj.items():
            here = f"notices.{name}"
            body = self._object(item, here, frozenset({"date", "text"}))
            text = self._text(body.get("text"), f"{here}.text")
            raw_date = self._text(body.get("date"), f"{here}.date")
            try:
                when = date.fromisoformat(raw_date)
            except ValueError:
                if raw_date:
                    self._problem(
                        f"{here}.date", f"must be an ISO date (YYYY-MM-DD), got {raw_date!r}"
                    )
                when = date.min
            notices[name] = Notice(date=when, text=text)
        for name in _REQUIRED_NOTICES:
            if name not in notices:
                self._problem("notices", f"missing notice {name!r}")
        return notices

    def _causes(self, value: Any) -> tuple[Cause, ...]:
        causes = tuple(
            self._cause(item, f"causes[{i}]")
            for i, item in enumerate(self._list(value, "causes", non_empty=True))
        )
        ids = [cause.id for cause in causes]
        for cause_id in sorted({i for i in ids if ids.count(i) > 1}):
            self._problem("causes", f"id {cause_id!r} appears {ids.count(cause_id)} times")
        missing = [cause_id for cause_id in CAUSE_IDS if cause_id not in ids]
        if missing:
            self._problem("causes", f"missing cause id(s) {missing}")
        unknown = [cause_id for cause_id in ids if cause_id and cause_id not in CAUSE_IDS]
        if unknown:
            self._problem("causes", f"unknown cause id(s) {unknown}")
        if ids and ids[-1] != UNKNOWN_CAUSE:
            self._problem("causes", f"{UNKNOWN_CAUSE!r} must be the last cause (fix order)")
        return causes

    def _cause(self, item: Any, where: str) -> Cause:
        obj = self._object(item, where, _CAUSE_KEYS, optional=_CAUSE_OPTIONAL_KEYS)
        cause_id = self._text(obj.get("id"), f"{where}.id")
        here = f"causes[{cause_id or where}]"
        check = self._object(
            obj.get("check"), f"{here}.check", frozenset({"click_paths", "powershell"})
        )
        fix = self._object(obj.get("fix"), f"{here}.fix",
                           frozenset({"steps", "click_paths", "powershell", "recommended"}),
                           optional=frozenset({"recommended"}))
        forward_text = self._text(obj.get("forward_text"), f"{here}.forward_text")
        wrong = [name for name in placeholders(forward_text)
                 if name not in (MAILBOX_PLACEHOLDER, IDENTITY_PLACEHOLDER)]
        if wrong:
            self._problem(
                f"{here}.forward_text",
                f"only {MAILBOX_PLACEHOLDER} and {IDENTITY_PLACEHOLDER} may be used, found {wrong}",
            )
        links = []
        for i, link in enumerate(self._list(obj.get("links"), f"{here}.links", non_empty=True)):
            link_obj = self._object(link, f"{here}.links[{i}]", frozenset({"title", "url"}))
            links.append(
                Link(
                    title=self._text(link_obj.get("title"), f"{here}.links[{i}].title"),
                    url=self._url(link_obj.get("url"), f"{here}.links[{i}].url"),
                )
            )
        return Cause(
            id=cause_id,
            title=self._text(obj.get("title"), f"{here}.title"),
            summary=self._text(obj.get("summary"), f"{here}.summary"),
            why=self._text(obj.get("why"), f"{here}.why"),
            symptoms=self._texts(obj.get("symptoms"), f"{here}.symptoms", non_empty=True),
            error_codes=self._texts(obj.get("error_codes"), f"{here}.error_codes"),
            keywords=self._texts(obj.get("keywords"), f"{here}.keywords", non_empty=True),
            check=Check(
                click_paths=self._click_paths(
                    check.get("click_paths"), f"{here}.check.click_paths"
                ),
                powershell=self._powershell(check.get("powershell"), f"{here}.check.powershell"),
            ),
            fix=self._fix(fix, here),
            wait=self._text(obj.get("wait"), f"{here}.wait"),
            links=tuple(links),
            forward_text=forward_text,
            patterns=self._patterns(obj.get("patterns"), f"{here}.patterns"),
            prior=self._fraction(obj.get("prior", 0.0), f"{here}.prior"),
            needs_person=self._flag(obj.get("needs_person", False), f"{here}.needs_person"),
        )

    def _fix(self, fix: Mapping[str, Any], here: str) -> Fix:
        steps = self._prose(self._texts(fix.get("steps"), f"{here}.fix.steps", non_empty=True),
                            f"{here}.fix.steps")
        click_paths = self._click_paths(fix.get("click_paths"), f"{here}.fix.click_paths")
        powershell = self._powershell(fix.get("powershell"), f"{here}.fix.powershell")
        recommended = None
        if "recommended" in fix:
            where = f"{here}.fix.recommended"
            obj = self._object(fix["recommended"], where,
                               frozenset({"text", "click_path", "powershell"}))
            index = obj.get("click_path")
            if index is not None and (isinstance(index, bool) or not isinstance(index, int)
                                      or not 0 <= index < len(click_paths)):
                self._problem(f"{where}.click_path",
                              f"must be null or an index of fix.click_paths, got {index!r}")
                index = None
            text = self._prose((self._text(obj.get("text"), f"{where}.text"),), where)[0]
            recommended = Recommended(text, index,
                                      self._recommended_powershell(obj, powershell, where))
        return Fix(steps=steps, click_paths=click_paths, powershell=powershell,
                   recommended=recommended)

    def _recommended_powershell(self, obj: Mapping[str, Any], powershell: tuple[str, ...],
                                where: str) -> tuple[str, ...]:
        """A recommended fix's PowerShell: true (the fix's), false, or its own lines."""
        value = obj.get("powershell")
        if isinstance(value, list):
            return self._powershell(value, f"{where}.powershell")
        if not isinstance(value, bool) or (value and not powershell):
            self._problem(f"{where}.powershell",
                          "must be true (only when the fix has PowerShell), false or a list "
                          "of PowerShell lines")
            return ()
        return powershell if value else ()

    def _prose(self, texts: tuple[str, ...], where: str) -> tuple[str, ...]:
        """Check the known-value placeholders of customer text (steps, click-path steps)."""
        for i, value in enumerate(texts):
            wrong = [name for name in placeholders(value) if name not in PROSE_PLACEHOLDERS]
            if wrong:
                self._problem(f"{where}[{i}]",
                              f"only {sorted(PROSE_PLACEHOLDERS)} may be used, found {wrong}")
        return texts

    def _fraction(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self._problem(where, f"must be a number from 0 to 1, got {value!r}")
            return 0.0
        return float(value)

    def _names(self, value: Any, where: str) -> tuple[str, ...]:
        names = self._texts(value, where) if value is not None else ()
        for name in names:
            if not _OPTION_VALUE.fullmatch(name):
                self._problem(where, f"{name!r} is not a signal name (lower_case)")
        return names

    def _patterns(self, value: Any, where: str) -> tuple[Pattern, ...]:
        patterns = []
        for i, item in enumerate(self._list(value, where)):
            here = f"{where}[{i}]"
            obj = self._object(item, here, frozenset(
                {"regex", "weight", "label", "context", "signal", "when", "unless"}),
                optional=_PATTERN_OPTIONAL_KEYS)
            regex = self._text(obj.get("regex"), f"{here}.regex")
            try:
                re.compile(regex)
            except re.error as exc:
                self._problem(f"{here}.regex", f"does not compile: {exc}")
            weight = obj.get("weight")
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not 0 <= weight <= 1
            ):
                self._problem(f"{here}.weight", f"must be a number from 0 to 1, got {weight!r}")
                weight = 0.0
            context = obj.get("context", False)
            if not isinstance(context, bool):
                self._problem(f"{here}.context", f"must be true or false, got {context!r}")
                context = False
            signal = obj.get("signal", "")
            if signal and not (isinstance(signal, str) and _OPTION_VALUE.fullmatch(signal)):
                self._problem(f"{here}.signal", f"{signal!r} is not a signal name (lower_case)")
                signal = ""
            patterns.append(
                Pattern(
                    regex=regex,
                    weight=float(weight),
                    label=self._text(obj.get("label"), f"{here}.label"),
                    context=context,
                    signal=str(signal),
                    when=self._names(obj.get("when"), f"{here}.when"),
                    unless=self._names(obj.get("unless"), f"{here}.unless"),
                )
            )
        return tuple(patterns)

    def _questions(self, value: Any, cause_ids: frozenset[str]) -> dict[str, Question]:
        obj = self._object(value, "questions", frozenset(QUESTION_IDS))
        # Keep the contract's question order, whatever order the file uses.
        return {qid: self._question(qid, obj[qid], cause_ids) for qid in QUESTION_IDS if qid in obj}

    def _question(self, qid: str, item: Any, cause_ids: frozenset[str]) -> Question:
        here = f"questions.{qid}"
        obj = self._object(item, here, _QUESTION_KEYS)
        options = []
        for i, raw_option in enumerate(self._list(obj.get("options"), f"{here}.options")):
            where = f"{here}.options[{i}]"
            option_obj = self._object(raw_option, where, frozenset({"value", "title", "synonyms"}))
            option_value = self._text(option_obj.get("value"), f"{where}.value")
            if option_value and _OPTION_VALUE.fullmatch(option_value) is None:
                self._problem(f"{where}.value", f"must be lower_snake_case, got {option_value!r}")
            options.append(
                Option(
                    value=option_value,
                    title=self._text(option_obj.get("title"), f"{where}.title"),
                    synonyms=self._texts(option_obj.get("synonyms"), f"{where}.synonyms"),
                )
            )
        values = [option.value for option in options]
        if qid == MAILBOX_QUESTION:
            if options:
                self._problem(
                    f"{here}.options",
                    "the mailbox question is answered with an address; it has no options",
                )
        else:
            if UNSURE not in values:
                self._problem(f"{here}.options", f"must include an {UNSURE!r} option")
            for duplicate in sorted({v for v in values if values.count(v) > 1}):
                self._problem(f"{here}.options", f"value {duplicate!r} appears more than once")
            self._check_phrases_unique(here, options)
        how = self._object(
            obj.get("how_to_find_out"),
            f"{here}.how_to_find_out",
            frozenset({"text", "click_paths", "powershell"}),
        )
        related = self._texts(obj.get("related_causes"), f"{here}.related_causes")
        polarity = self._object(obj.get("polarity", {}), f"{here}.polarity")
        for said, value in polarity.items():
            if said not in {"yes", "no", "unsure"}:
                self._problem(f"{here}.polarity", f"unknown key {said!r} (yes, no or unsure)")
            if value not in values:
                self._problem(f"{here}.polarity.{said}", f"unknown option {value!r}")
        for cause_id in related:
            if cause_id and cause_id not in cause_ids:
                self._problem(f"{here}.related_causes", f"unknown cause {cause_id!r}")
        return Question(
            id=qid,
            prompt=self._text(obj.get("prompt"), f"{here}.prompt"),
            help=self._text(obj.get("help"), f"{here}.help"),
            options=tuple(options),
            how_to_find_out=HowToFindOut(
                text=self._text(how.get("text"), f"{here}.how_to_find_out.text"),
                click_paths=self._click_paths(
                    how.get("click_paths"), f"{here}.how_to_find_out.click_paths"
                ),
                powershell=self._powershell(
                    how.get("powershell"), f"{here}.how_to_find_out.powershell"
                ),
            ),
            related_causes=related,
            label=self._text(obj.get("label"), f"{here}.label"),
            topics=tuple(normalise(t)
                         for t in self._texts(obj.get("topics", []), f"{here}.topics")),
            polarity={str(k): str(v) for k, v in polarity.items()},
        )

    def _check_phrases_unique(self, where: str, options: Sequence[Option]) -> None:
        # A phrase shared by two options would make every reply containing it
        # ambiguous, so match_option could never select either option with it.
        owner: dict[str, str] = {}
        for option in options:
            for phrase in option.phrases():
                if phrase in owner and owner[phrase] != option.value:
                    self._problem(
                        f"{where}.options",
                        f"phrase {phrase!r} selects both {owner[phrase]!r} and {option.value!r}",
                    )
                owner.setdefault(phrase, option.value)

    def _rules(
        self, value: Any, cause_ids: frozenset[str], questions: Mapping[str, Question]
    ) -> tuple[Rule, ...]:
        rules = []
        for i, item in enumerate(self._list(value, "assessment_rules", non_empty=True)):
            here = f"assessment_rules[{i}]"
            obj = self._object(item, here, frozenset({"when", "cause", "severity", "note"}))
            when = self._object(obj.get("when"), f"{here}.when")
            if not when:
                self._problem(f"{here}.when", "must have at least one condition")
            conditions = []
            for fact, wanted in when.items():
                where = f"{here}.when.{fact}"
                values = (
                    (wanted,)
                    if isinstance(wanted, str)
                    else self._texts(wanted, where, non_empty=True)
                )
                question = questions.get(fact)
                if question is None:
                    self._problem(where, f"unknown fact {fact!r} (must be a question id)")
                elif question.is_free_text:
                    self._problem(where, f"{fact!r} has no options to compare with")
                else:
                    for v in values:
                        if v not in question.values:
                            self._problem(
                                where, f"{v!r} is not an option of {fact!r} {list(question.values)}"
                            )
                conditions.append(Condition(fact=fact, values=tuple(values)))
            cause_id = self._text(obj.get("cause"), f"{here}.cause")
            if cause_id and cause_id not in cause_ids:
                self._problem(f"{here}.cause", f"unknown cause {cause_id!r}")
            severity = self._choice(
                Severity, obj.get("severity"), f"{here}.severity", Severity.WARNING
            )
            rules.append(
                Rule(
                    when=tuple(conditions),
                    cause=cause_id,
                    severity=severity,
                    note=self._text(obj.get("note"), f"{here}.note"),
                )
            )
        return tuple(rules)

    def _mailbox_types(
        self, value: Any, questions: Mapping[str, Question]
    ) -> tuple[MailboxType, ...]:
        types = []
        for i, item in enumerate(self._list(value, "mailbox_types", non_empty=True)):
            here = f"mailbox_types[{i}]"
            obj = self._object(item, here, _MAILBOX_TYPE_KEYS,
                               optional=_MAILBOX_TYPE_OPTIONAL_KEYS)
            support = self._choice(
                SmtpAuthSupport,
                obj.get("smtp_auth"),
                f"{here}.smtp_auth",
                SmtpAuthSupport.NOT_SUPPORTED,
            )
            types.append(
                MailboxType(
                    id=self._text(obj.get("id"), f"{here}.id"),
                    title=self._text(obj.get("title"), f"{here}.title"),
                    smtp_auth=support,
                    note=self._text(obj.get("note"), f"{here}.note"),
                    recipient_types=self._service_names(obj.get("recipient_types"),
                                                        f"{here}.recipient_types"),
                    user_purposes=self._service_names(obj.get("user_purposes"),
                                                      f"{here}.user_purposes"),
                    needs_license=self._flag(obj.get("needs_license", True),
                                             f"{here}.needs_license"),
                    sign_in=self._choice(SignIn, obj.get("sign_in", "required"),
                                         f"{here}.sign_in", SignIn.REQUIRED),
                )
            )
        ids = [t.id for t in types]
        for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
            self._problem("mailbox_types", f"id {duplicate!r} appears more than once")
        # Every answer to the mailbox_type question must be explainable.
        question = questions.get("mailbox_type")
        if question is not None:
            for option_value in question.values:
                if option_value != UNSURE and option_value not in ids:
                    self._problem(
                        "mailbox_types", f"no entry for mailbox_type option {option_value!r}"
                    )
        return tuple(types)

    def _answers(self, value: Any, cause_ids: frozenset[str]) -> dict[str, Answer]:
        answers: dict[str, Answer] = {}
        for topic, item in self._object(value, "answers").items():
            here = f"answers.{topic}"
            obj = self._object(item, here, _ANSWER_KEYS, optional=_ANSWER_OPTIONAL)
            kinds = self._object(obj.get("kinds", {}), f"{here}.kinds", ANSWER_KINDS,
                                 optional=ANSWER_KINDS)
            cause = obj.get("cause")
            if cause is not None and cause not in cause_ids:
                self._problem(f"{here}.cause", f"unknown cause {cause!r}")
            answers[topic] = Answer(
                id=topic,
                title=self._text(obj.get("title"), f"{here}.title"),
                text=self._text(obj.get("answer"), f"{here}.answer"),
                kinds={kind: self._text(text, f"{here}.kinds.{kind}")
                       for kind, text in kinds.items()},
                steps=self._texts(obj.get("steps"), f"{here}.steps", non_empty=True),
                powershell=self._powershell(obj.get("powershell", []), f"{here}.powershell"),
                cause=str(cause) if cause is not None else None,
            )
        return answers

    def _summary(self, value: Any, cause_ids: frozenset[str]) -> tuple[SummaryRow, ...]:
        rows = []
        for i, item in enumerate(self._list(value, "summary_table", non_empty=True)):
            here = f"summary_table[{i}]"
            obj = self._object(item, here, frozenset({"reason", "solution", "cause"}))
            cause_id = self._text(obj.get("cause"), f"{here}.cause")
            if cause_id and cause_id not in cause_ids:
                self._problem(f"{here}.cause", f"unknown cause {cause_id!r}")
            rows.append(
                SummaryRow(
                    reason=self._text(obj.get("reason"), f"{here}.reason"),
                    solution=self._text(obj.get("solution"), f"{here}.solution"),
                    cause=cause_id,
                )
            )
        return tuple(rows)
