"""Diagnose a pasted SMTP / Entra / Graph error text: ranked causes with evidence.

The customer pastes whatever they have: a CLOUDEX TMS log line, a client
library's exception, an NDR, an Entra sign-in failure. :class:`Diagnoser`
turns that text into causes of the knowledge file, ranked by confidence,
each with the code or phrase that matched.

Design:

* **Patterns are data.** Every cause in ``dialogs/knowledge.json`` carries
  ``"patterns": [{"regex", "weight", "label"}]``. This module holds no
  error strings of its own, only the text clean-up and the scoring.
* **Compiled once.** A :class:`Diagnoser` compiles the patterns when it is
  built; :func:`diagnoser_for` caches one per knowledge base. Nothing is
  built at import time.
* **Normalise first.** Pasted text arrives JSON-escaped (sometimes several
  levels deep), as Python ``b'...'`` reprs, inside HTML or Markdown, URL
  encoded, wrapped over lines, with log prefixes and non-English text around
  the English server reply. :func:`normalise_error` undoes all of that so one
  regex per phrase is enough.
* **Specific beats generic.** A cause's confidence combines its matching
  patterns as a noisy-OR (``1 - prod(1 - weight)``): a specific reply such as
  ``5.7.139 ... disabled for the Tenant`` carries a weight near 1, a bare
  ``535`` a small one, and weak context hints (``AUTH XOAUTH2``, .NET's
  ``SmtpException``) only tip the balance between close generic candidates.
  Client wrappers that merely report an earlier failure (``5.7.57`` after a
  ``535``) are written in the data so that the server's own reply wins.
* **Context, not names.** A context pattern (a sign-in mechanism, a client's
  password API, a .NET wrapper) only adds to a cause that a code or reply
  already names, so ``System.Net.Mail`` alone is no evidence. Patterns can set
  a named *signal* (``password``, ``oauth``, ``app_only``) and others count
  only ``when`` or ``unless`` it is present: ``5.7.3`` + ``AUTH LOGIN`` reads
  as wrong credentials, ``5.7.3`` + ``XOAUTH2`` as a token problem.
* **Honest when the text cannot tell.** When the leading causes are within
  :data:`AMBIGUITY_MARGIN` of each other the diagnosis is *ambiguous*: it
  lists them (equal ones ordered by the causes' ``prior``), and either asks
  the one question that separates them or, when none does (a bare ``535``),
  asks for the whole error line. With no leader ``cause`` is ``"unknown"``.
* **Bounded cost.** Only the first and last few thousand characters are read
  (the reply is near one end of a pasted log), and a pattern's regex only runs
  when its literal anchor (derived from the regex) occurs in the text. A
  top-level alternation ``a|b|c`` runs one alternative at a time, each only
  when its own anchor occurs, and keeps the match the alternation would find.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any

from dialogs.knowledge import per_knowledge

UNKNOWN = "unknown"

# The budget: a 1 MB paste must be answered in well under 50 ms, so
# only this many characters are examined. Head and tail are kept because a
# log's interesting line is usually the last one, an exception's the first.
MAX_CHARS = 10_000
_HEAD_CHARS = 6_000

# Candidates below this confidence are noise (a lone context hint).
MIN_CONFIDENCE = 0.1
# Two candidates this close, with the leader below the "sure" level, need a
# follow-up question rather than a guess.
AMBIGUITY_MARGIN = 0.1
SURE_CONFIDENCE = 0.75
# Leaders closer than this are a tie: the text names no leading candidate.
TIE_MARGIN = 0.02
MAX_CANDIDATES = 6
_EVIDENCE_CHARS = 160

# One short question per pair of causes that the same text can mean. The
# generic fallback (pick from the two titles) covers every other pair.
_FOLLOW_UPS: dict[frozenset[str], tuple[str, tuple[tuple[str, str], ...]]] = {
    frozenset({"wrong_credentials", "oauth_token"}): (
        ("Does CLOUDEX TMS sign in with a password / app password, or with OAuth "
        "(Microsoft sign-in)?"),
        (("Password or app password", "wrong_credentials"),
         ("OAuth (Microsoft sign-in)", "oauth_token")),
    ),
    frozenset({"conditional_access", "mfa_required"}): (
        ("Does the Entra sign-in log for this account show error 53003 (Conditional "
        "Access) or 50076 / 50079 (MFA required)?"),
        (("53003 - blocked by Conditional Access", "conditional_access"),
         ("50076 / 50079 - MFA required", "mfa_required")),
    ),
    frozenset({"mfa_required", "security_defaults"}): (
        ("Are security defaults turned on in Microsoft Entra ID (Overview > Properties > "
        "Manage security defaults)?"),
        (("Yes, security defaults are on", "security_defaults"),
         ("No, but the account uses MFA", "mfa_required")),
    ),
    frozenset({"smtp_auth_disabled_tenant", "smtp_auth_disabled_mailbox"}): (
        "Does sending fail for every mailbox in your organisation, or only for this one?",
        (("Every mailbox", "smtp_auth_disabled_tenant"),
         ("Only this mailbox", "smtp_auth_disabled_mailbox")),
    ),
    frozenset({"wrong_endpoint", "auth_mechanism"}): (
        ("Which server does CLOUDEX TMS connect to: smtp.office365.com, or an address "
        "ending in mail.protection.outlook.com?"),
        (("An address ending in mail.protection.outlook.com", "wrong_endpoint"),
         ("smtp.office365.com", "auth_mechanism")),
    ),
    frozenset({"send_as_denied", "sender_blocked"}): (
        ("Is the From address in CLOUDEX TMS exactly the mailbox it signs in with?"),
        (("No, it sends as another address", "send_as_denied"),
         ("Yes, the same mailbox", "sender_blocked")),
    ),
    frozenset({"wrong_endpoint", "starttls_required"}): (
        "Which server and port does CLOUDEX TMS use?",
        (("smtp.office365.com, port 587", "starttls_required"),
         ("Another server or port", "wrong_endpoint")),
    ),
    # A 5.7.139 without a reason: Entra's sign-in log tells the policies apart, and a
    # sign-in that succeeded there points at Exchange's own switch for the mailbox.
    frozenset({"conditional_access", "mfa_required", "security_defaults",
               "smtp_auth_disabled_mailbox"}): (
        ("What does the Microsoft Entra sign-in log show for this account's failed sign-in "
         "(Entra admin center > Users > the account > Sign-in logs)?"),
        (("Error 53003 (Conditional Access)", "conditional_access"),
         ("Error 50076 or 50079 (MFA)", "mfa_required"),
         ("Error 530035 (security defaults)", "security_defaults"),
         ("The sign-in succeeded", "smtp_auth_disabled_mailbox")),
    ),
    # Exchange accepted the sign-in but could not open the mailbox.
    frozenset({"no_exchange_license", "oauth_token"}): (
        ("Does CLOUDEX TMS sign in as the mailbox user, or as its own app registration "
         "(app-only OAuth with a client secret or certificate)?"),
        (("As the mailbox user", "no_exchange_license"),
         ("As an app registration (app-only)", "oauth_token")),
    ),
}

# Asked when several causes fit and no one question separates them (a bare "535").
WHOLE_LINE_QUESTION = (
    "That code has several causes in Microsoft 365, and the words after it tell them apart: "
    "please paste the whole error line.")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One possible cause of the pasted error.

    Attributes:
        cause_id: a cause id of the knowledge file.
        confidence: 0..1, how sure the diagnosis is.
        evidence: the code or phrase in the text that points to the cause.
        label: what that evidence means, from the matching pattern.
    """

    cause_id: str
    confidence: float
    evidence: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One short question that separates the leading candidates.

    Attributes:
        question: the question to ask.
        options: ``(answer label, cause id)`` pairs, one per button; empty when the
            question asks for the whole error line instead.
    """

    question: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The ranked result for one text.

    Attributes:
        candidates: causes, best first; empty when nothing fits.
        follow_up: what to ask when the text is ambiguous: the separating question,
            or (no options) a request for the whole error line.
        ambiguous: the text fits the leading candidates about equally.
        tied: ambiguous with no leading candidate at all.
    """

    candidates: tuple[Candidate, ...] = ()
    follow_up: FollowUp | None = None
    ambiguous: bool = False
    tied: bool = False

    @property
    def best(self) -> Candidate | None:
        """The most likely cause, or ``None`` when nothing fits."""
        return self.candidates[0] if self.candidates else None

    @property
    def cause_id(self) -> str:
        """The leading cause id; ``"unknown"`` when nothing fits or nothing leads."""
        if not self.candidates or self.tied:
            return UNKNOWN
        return self.candidates[0].cause_id

    @property
    def is_ambiguous(self) -> bool:
        """True when the text fits several causes about equally and a question is needed."""
        return self.ambiguous

    @property
    def alternatives(self) -> tuple[str, ...]:
        """The cause ids after the best one, in order."""
        return tuple(c.cause_id for c in self.candidates[1:])

    @property
    def contenders(self) -> tuple[str, ...]:
        """When ambiguous, the causes the text cannot tell apart, best first."""
        if not self.ambiguous or not self.candidates:
            return ()
        top = self.candidates[0].confidence
        return tuple(c.cause_id for c in self.candidates
                     if top - c.confidence <= AMBIGUITY_MARGIN + 1e-9)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``app.py diagnose --json`` / ``--jsonl``.

        ``cause`` is the leading cause (``"unknown"`` when nothing fits or, when
        ambiguous, nothing leads); ``ambiguous`` says whether the bot asks, and
        then ``candidates`` lists the causes it asks between.
        """
        best = self.best
        shape: dict[str, Any] = {
            "cause": self.cause_id,
            "confidence": best.confidence if best else 0.0,
            "evidence": best.evidence if best else "",
            "alternatives": list(self.alternatives),
            "ambiguous": self.ambiguous,
        }
        if self.ambiguous:
            shape["candidates"] = list(self.contenders)
        return shape


@dataclass(frozen=True, slots=True)
class PatternSpec:
    """One pattern as written in the knowledge file, tied to its cause."""

    cause_id: str
    regex: str
    weight: float
    label: str
    context: bool = False
    signal: str = ""
    when: frozenset[str] = frozenset()
    unless: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Compiled:
    # Every spec with this exact regex (several causes may share one, e.g. a
    # reason-less 5.7.139): the regex runs once and counts for each of them.
    specs: tuple[PatternSpec, ...]
    # The regex whole, or one pattern per alternative of a top-level ``a|b|c``
    # (see :func:`_split_alternatives`); its match is the leftmost of theirs.
    branches: tuple[re.Pattern[str], ...]
    # Per branch: lower-case literals that every match contains (maybe none).
    # Checking them is far cheaper than running the regex.
    anchors: tuple[tuple[tuple[str, ...], ...], ...]


# --- normalisation --------------------------------------------------------------------

_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad]")
_TYPOGRAPHY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-", "\u00a0": " ",
})
# Only real tags (a letter after "<", no "<" inside): "<-  250 ..." transcript
# arrows and "<user@example.com>" survive.
_TAG = re.compile(r"</?[A-Za-z][\w:.-]{0,40}(?:\s[^<>]{0,500})?/?>")
_URL_ESCAPE = re.compile(r"%([2-7][0-9A-Fa-f])")
# Any depth of JSON/Python string escaping: \n, \\n, \\\\r ... Each match starts at
# the first backslash of a run ((?<!\\)), so a long run is scanned once, not once
# per backslash.
_ESCAPED_BREAK = re.compile(r"(?<!\\)\\+[nrt]")
_ESCAPED_UNICODE = re.compile(r"(?<!\\)\\+u([0-9a-fA-F]{4})")
_ESCAPED_PUNCT = re.compile(r"(?<!\\)\\+([\"'/\\_*`\[\]()#.<>-])")
_BYTES_PREFIX = re.compile(r"(?<![\w'\"])b(['\"])")
_MARKUP = re.compile(r"\*+|`+|~~")
_LOG_PREFIX = re.compile(
    r"(?m)^[ \t]*(?:>+[ \t]?|\d+\|[\w-]+[ \t]*\||"
    r"\[?\d{4}-\d\d-\d\d[ T][\d:.,]+(?:Z|[+-]\d\d:?\d\d)?\]?[ \t]*|"
    r"(?:DEBUG|INFO|WARN(?:ING)?|ERROR|FATAL|TRACE|CRITICAL)\b[:\]]?[ \t]+)+"
)
_SPACE = re.compile(r"\s+")
# A line break as pasted: real, or JSON/Python-escaped at any depth (a run of
# backslashes is read from its first backslash only, possessively: no backtracking).
_LINE_BREAK = re.compile(r"\r\n?|\n|(?<!\\)\\++r(?:\\++n)?|(?<!\\)\\++n")
# A text wrapped at a fixed column breaks every full line at the same length, the
# longest, also inside a word ("...SmtpClie" / "ntAuthentication..."); shorter
# lines end where the writer ended them. Lines shorter than this are never a wrap.
WRAP_COLUMN = 40
WRAP_SLACK = 2


def _cap(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    return text[:_HEAD_CHARS] + "\n" + text[-(MAX_CHARS - _HEAD_CHARS):]


def _unescape_url(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def _unescape_unicode(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def normalise_error(text: str) -> str:
    """Turn a pasted error into one line of plain text for matching.

    Args:
        text: whatever the customer pasted (any length, any wrapping).

    Returns:
        At most about :data:`MAX_CHARS` characters: escapes, markup, HTML tags
        and entities, ``b'...'`` prefixes and line-start log prefixes removed,
        typographic quotes made plain, all whitespace runs made one space.
    """
    text = _cap(text)
    if not text.isascii():
        text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text)).translate(_TYPOGRAPHY)
    if "%" in text:
        text = _URL_ESCAPE.sub(_unescape_url, text)
    if "<" in text and ">" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if "\\" in text:
        text = _ESCAPED_BREAK.sub(" ", text)
        text = _ESCAPED_UNICODE.sub(_unescape_unicode, text)
        text = _ESCAPED_PUNCT.sub(r"\1", text)
    if "b'" in text or 'b"' in text:
        text = _BYTES_PREFIX.sub(r"\1", text)
    if "*" in text or "`" in text or "~~" in text:
        text = _MARKUP.sub("", text)
    text = _LOG_PREFIX.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def unwrap_words(text: str) -> str | None:
    """Undo a fixed-column wrap that split words, for a second reading of the text.

    A terminal, a log viewer or a mail client wraps a long reply at a fixed
    column, also inside a word or a code (``SmtpClie`` / ``ntAuthentication``).
    A break after a line of the text's longest length (the wrap column, at least
    :data:`WRAP_COLUMN` characters, give or take :data:`WRAP_SLACK` for escape
    characters), between two letters or digits, is taken out; every other break
    stays.

    Args:
        text: the pasted error.

    Returns:
        The text with those breaks removed, or ``None`` when it has none.
    """
    if "\n" not in text and "\r" not in text and "\\" not in text:
        return None
    pieces = _LINE_BREAK.split(_cap(text))
    # Escaping adds characters that the wrap did not count (a backslash, the quote
    # of a JSON string): a line within WRAP_SLACK of the longest is a full line.
    lengths = [len(piece) - piece.count("\\") for piece in pieces]
    if max(lengths) < WRAP_COLUMN:
        return None
    full = max(lengths) - WRAP_SLACK
    lines = [pieces[0]]
    joined = False
    for length, before, piece in zip(lengths, pieces, pieces[1:], strict=False):
        if length >= full and before[-1:].isalnum() and piece[:1].isalnum():
            lines[-1] += piece
            joined = True
        else:
            lines.append(piece)
    return "\n".join(lines) if joined else None


# --- patterns ------------------------------------------------------------------------------


def _runs(items: Any, literal: Any) -> set[str]:
    runs: list[str] = []
    run: list[str] = []
    for op, arg in items:
        if op is literal:
            run.append(chr(arg))
            continue
        runs.append("".join(run))
        run = []
    runs.append("".join(run))
    # Case folding can change length (e.g. "\u0130"): a run is safe only when every
    # character lower-cases to one character and back (true for ASCII, Latvian,
    # Cyrillic ...; the localised reasons are anchored on their own words).
    return {r.lower() for r in runs if len(r) >= 3 and all(map(_simple_case, r))}


def _simple_case(char: str) -> bool:
    lower = char.lower()
    return len(lower) == 1 and len(char.upper()) == 1 and lower.upper().lower() == lower


def _literal_anchors(regex: str) -> tuple[tuple[str, ...], ...]:
    """What every match of ``regex`` must contain, as lower-case literals.

    Returns alternatives: a match contains all anchors of at least one of
    them. A top-level ``a|b|c`` gives one alternative per branch; otherwise
    there is one alternative made of the top-level literal runs. Only what
    the stdlib's regex parser reports at top level is trusted, so the
    anchors are always a necessary condition; anything unusual yields ``()``
    (no prefilter: the regex always runs).
    """
    try:
        from re import _constants as sre_constants
        from re import _parser as sre_parse

        parsed = list(sre_parse.parse(regex))
        literal, branch = sre_constants.LITERAL, sre_constants.BRANCH
    except Exception:  # noqa: BLE001 - a private API: it must never break diagnosis
        return ()
    if len(parsed) == 1 and parsed[0][0] is branch:
        alternatives = [_runs(items, literal) for items in parsed[0][1][1]]
    else:
        alternatives = [_runs(parsed, literal)]
    if not alternatives or not all(alternatives):
        return ()
    # Rarest first (codes with digits, then longer text): it is the gate.
    return tuple(
        tuple(sorted(alt, key=lambda a: (any(c.isdigit() for c in a), len(a)), reverse=True))
        for alt in alternatives)


def _parse_tree(node: Any) -> Any:
    """A parsed regex (``re._parser`` output) as plain nested tuples, for comparing."""
    if isinstance(node, list | tuple):
        return tuple(map(_parse_tree, node))
    data = getattr(node, "data", None)
    return tuple(map(_parse_tree, data)) if isinstance(data, list) else node


def _split_alternatives(pattern: re.Pattern[str]) -> tuple[str, ...]:
    """The alternatives of a top-level alternation ``a|b|c``, or ``()`` to keep it whole.

    A case-insensitive alternation with weak anchors tries every alternative at
    every position of the text; searched one by one, an alternative runs only
    when its own anchor occurs and can use its own literal prefix. The
    alternation's match is the leftmost of the alternatives' matches (on a tie
    the first alternative's, and its extent), so nothing changes, provided each
    piece of text is exactly one alternative: the split is kept only when the
    stdlib's parser reads every piece, under the pattern's flags, exactly as it
    reads that alternative of the whole, and the regex has no capturing group
    (whose numbers, and references to them, a split would change).
    """
    regex = pattern.pattern
    try:
        from re import _constants as sre_constants
        from re import _parser as sre_parse

        whole = sre_parse.parse(regex, pattern.flags)
        if (pattern.groups or len(whole.data) != 1
                or whole.data[0][0] is not sre_constants.BRANCH):
            return ()
        pieces = _top_level_pieces(regex)
        alternatives = whole.data[0][1][1]
        if len(pieces) != len(alternatives):
            return ()
        for piece, alternative in zip(pieces, alternatives, strict=True):
            if _parse_tree(sre_parse.parse(piece, pattern.flags)) != _parse_tree(alternative):
                return ()
    except Exception:  # noqa: BLE001 - a private API: it must never break diagnosis
        return ()
    return pieces


def _top_level_pieces(regex: str) -> tuple[str, ...]:
    """``regex`` cut at each ``|`` outside groups, character classes and escapes."""
    pieces: list[str] = []
    depth = start = index = 0
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            index += 1
        elif char == "[":
            # A "]" right after "[" or "[^" is a literal, not the end of the class.
            index += 2 if regex[index + 1:index + 2] == "^" else 1
            if regex[index:index + 1] == "]":
                index += 1
            while index < len(regex) and regex[index] != "]":
                index += 2 if regex[index] == "\\" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            pieces.append(regex[start:index])
            start = index + 1
        index += 1
    pieces.append(regex[start:])
    return tuple(pieces)


def _trie_regex(words: Iterable[str]) -> str:
    """A regex for any of ``words`` (none empty) that matches the longest one it can.

    Written as a trie (``ab(?:c|d(?:e)?)``), so ``re`` compares a character once
    per position instead of once per word, and at each level a longer word is
    tried before the end of a shorter one.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def branches(node: dict[str, Any]) -> str:
        children = [re.escape(char) + branches(child)
                    for char, child in sorted(node.items()) if char]
        if not children:
            return ""
        either = children[0] if len(children) == 1 else f"(?:{'|'.join(children)})"
        return f"(?:{either})?" if "" in node else either

    return branches(trie)


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def pattern_specs(knowledge: Any) -> tuple[PatternSpec, ...]:
    """Read the patterns of every cause of a knowledge base.

    Args:
        knowledge: the loaded knowledge (objects with ``causes[].id`` and
            ``causes[].patterns[]``) or the raw JSON mapping.

    Returns:
        One spec per pattern, in file order.
    """
    specs: list[PatternSpec] = []
    for cause in _field(knowledge, "causes", ()) or ():
        cause_id = str(_field(cause, "id", ""))
        for pattern in _field(cause, "patterns", ()) or ():
            specs.append(PatternSpec(
                cause_id=cause_id,
                regex=str(_field(pattern, "regex", "")),
                weight=float(_field(pattern, "weight", 0.0)),
                label=str(_field(pattern, "label", "")),
                context=bool(_field(pattern, "context", False)),
                signal=str(_field(pattern, "signal", "") or ""),
                when=frozenset(_field(pattern, "when", ()) or ()),
                unless=frozenset(_field(pattern, "unless", ()) or ()),
            ))
    return tuple(specs)


def _cause_titles(knowledge: Any) -> dict[str, str]:
    return {
        str(_field(cause, "id", "")): str(_field(cause, "title", ""))
        for cause in _field(knowledge, "causes", ()) or ()
    }


def _cause_priors(knowledge: Any) -> dict[str, float]:
    return {
        str(_field(cause, "id", "")): float(_field(cause, "prior", 0.0) or 0.0)
        for cause in _field(knowledge, "causes", ()) or ()
    }


# --- the diagnoser ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hit:
    weight: float
    evidence: str
    label: str


@dataclass(slots=True)
class _Score:
    misses: float = 1.0  # product of (1 - weight) over evidence: noisy-OR accumulator
    context_misses: float = 1.0  # the same over context patterns, used only with evidence
    best: _Hit | None = None
    hint: _Hit | None = None
    seen: set[str] = field(default_factory=set)

    def add(self, spec: PatternSpec, evidence: str) -> None:
        # The same regex written twice for one cause must not count twice.
        if spec.regex in self.seen:
            return
        self.seen.add(spec.regex)
        miss = 1.0 - min(max(spec.weight, 0.0), 1.0)
        hit = _Hit(spec.weight, evidence, spec.label)
        if spec.context:
            self.context_misses *= miss
            if self.hint is None or spec.weight > self.hint.weight:
                self.hint = hit
            return
        self.misses *= miss
        if self.best is None or spec.weight > self.best.weight:
            self.best = hit

    @property
    def confidence(self) -> float:
        # Context alone (a client library's name, a sign-in mechanism) names no cause.
        if self.best is None:
            return 0.0
        return round(1.0 - self.misses * self.context_misses, 3)


class Diagnoser:
    """Compiled patterns of one knowledge base; :meth:`diagnose` is pure and thread-safe."""

    def __init__(self, specs: Iterable[PatternSpec], titles: Mapping[str, str] | None = None,
                 order: Iterable[str] | None = None,
                 priors: Mapping[str, float] | None = None) -> None:
        """Compile the patterns and build the literal-anchor prefilter.

        Args:
            specs: the patterns (see :func:`pattern_specs`).
            titles: cause id -> title, for the generic follow-up question.
            order: cause ids in the knowledge file's fix order, to break ties.
            priors: cause id -> how common it is; orders equally likely candidates.

        Raises:
            ValueError: when a regex does not compile, or a pattern counts ``when``
                or ``unless`` a signal no pattern sets.
        """
        self._titles = dict(titles or {})
        self._priors = dict(priors or {})
        specs = tuple(specs)
        signals = {spec.signal for spec in specs if spec.signal}
        for spec in specs:
            unknown_signals = (spec.when | spec.unless) - signals
            if unknown_signals:
                raise ValueError(f"pattern of {spec.cause_id} names unknown signals "
                                 f"{sorted(unknown_signals)}: {spec.regex!r}")
        self._rank = {cause_id: i for i, cause_id in enumerate(
            order if order is not None else dict.fromkeys(s.cause_id for s in specs))}
        by_regex: dict[str, list[PatternSpec]] = {}
        for spec in specs:
            by_regex.setdefault(spec.regex, []).append(spec)
        compiled = []
        for regex, same in by_regex.items():
            try:
                pattern = re.compile(regex)
            except re.error as error:
                raise ValueError(
                    f"bad pattern for {same[0].cause_id}: {regex!r}: {error}") from error
            pieces = _split_alternatives(pattern)
            if pieces:
                branches = tuple(re.compile(piece, pattern.flags) for piece in pieces)
                anchors = tuple(map(_literal_anchors, pieces))
            else:
                branches, anchors = (pattern,), (_literal_anchors(regex),)
            compiled.append(_Compiled(tuple(same), branches, anchors))
        self._patterns = tuple(compiled)
        # Prefilter: the gates (the rarest anchor of each alternative) that occur in
        # the text select the (pattern, branch) pairs worth running; branches without
        # an anchor always run.
        gates: dict[str, set[tuple[int, int]]] = {}
        always: list[tuple[int, int]] = []
        for index, item in enumerate(self._patterns):
            for branch, branch_anchors in enumerate(item.anchors):
                if not branch_anchors:
                    always.append((index, branch))
                for alternative in branch_anchors:
                    gates.setdefault(alternative[0], set()).add((index, branch))
        self._always = tuple(always)
        # One scan finds every gate in the text (a substring test per gate scanned the
        # text some 200 times): at each position the finder reports the longest gate
        # that starts there, and each gate opens its own patterns and those of the gates
        # that are its prefixes, which start there too.
        self._gate_finder = (re.compile(f"(?=({_trie_regex(gates)}))") if gates else None)
        self._opened_by = {
            gate: frozenset().union(*(indexes for shorter, indexes in gates.items()
                                       if gate.startswith(shorter)))
            for gate in gates}

    @classmethod
    def from_knowledge(cls, knowledge: Any) -> Diagnoser:
        """Build a diagnoser from a loaded knowledge base (or its raw JSON mapping)."""
        titles = _cause_titles(knowledge)
        return cls(pattern_specs(knowledge), titles, order=titles, priors=_cause_priors(knowledge))

    @property
    def pattern_count(self) -> int:
        """How many patterns (cause, regex pairs) the diagnoser knows."""
        return sum(len(item.specs) for item in self._patterns)

    def _hits(self, text: str) -> Iterator[tuple[PatternSpec, re.Match[str]]]:
        found = self._gate_finder.findall(text.lower()) if self._gate_finder else ()
        opened_by = self._opened_by
        selected = set(self._always).union(*(opened_by[gate] for gate in set(found)))
        patterns = self._patterns
        for index, pairs in groupby(sorted(selected), key=itemgetter(0)):
            item = patterns[index]
            branches = item.branches
            # The alternation's match: the leftmost of its branches' matches, the
            # first branch's on a tie (written out: this loop runs for every pattern).
            match = None
            for _, branch in pairs:
                found_here = branches[branch].search(text)
                if found_here is not None and (match is None or found_here.start() < match.start()):
                    match = found_here
            if match is not None:
                for spec in item.specs:
                    yield spec, match

    def diagnose(self, text: str) -> Diagnosis:
        """Rank the causes that fit ``text``.

        Args:
            text: the pasted error; any size, any encoding damage.

        Returns:
            The diagnosis; ``candidates`` is empty when nothing fits.
        """
        if not isinstance(text, str):
            text = text.decode("utf-8", "replace") if isinstance(text, bytes | bytearray) else ""
        if not text or text.isspace():
            return Diagnosis()
        clean = normalise_error(text)
        hits = [(spec, match, clean) for spec, match in self._hits(clean)]
        # A hard-wrapped paste is read a second time with the words it split put back
        # together; a pattern counts once per cause whichever reading it matched.
        unwrapped = unwrap_words(text)
        if unwrapped is not None:
            joined = normalise_error(unwrapped)
            if joined != clean:
                hits += [(spec, match, joined) for spec, match in self._hits(joined)]
        signals = {spec.signal for spec, _, _ in hits if spec.signal}
        scores: dict[str, _Score] = {}
        for spec, match, reading in hits:
            if spec.when and not spec.when & signals:
                continue
            if spec.unless and spec.unless & signals:
                continue
            scores.setdefault(spec.cause_id, _Score()).add(spec, _evidence(reading, match))
        candidates = []
        for cause_id, score in scores.items():
            confidence = score.confidence
            if score.best is None or confidence < MIN_CONFIDENCE:
                continue
            best = score.best
            candidates.append(Candidate(cause_id, confidence, best.evidence, best.label))
        last = len(self._rank)
        candidates.sort(key=lambda c: (-c.confidence, -self._priors.get(c.cause_id, 0.0),
                                       self._rank.get(c.cause_id, last)))
        # "unknown" (go through every check) only speaks when nothing else does.
        candidates = [c for c in candidates if c.cause_id != UNKNOWN] or candidates
        ranked = tuple(candidates[:MAX_CANDIDATES])
        return self._assess(ranked)

    def _assess(self, ranked: tuple[Candidate, ...]) -> Diagnosis:
        """Decide whether the ranked candidates leave the text ambiguous, and what to ask."""
        if len(ranked) < 2 or ranked[0].cause_id == UNKNOWN:
            return Diagnosis(ranked)
        first, second = ranked[0], ranked[1]
        if first.confidence >= SURE_CONFIDENCE:
            return Diagnosis(ranked)
        if first.confidence - second.confidence > AMBIGUITY_MARGIN + 1e-9:
            return Diagnosis(ranked)
        tied = first.confidence - second.confidence <= TIE_MARGIN + 1e-9
        contenders = [c.cause_id for c in ranked
                      if first.confidence - c.confidence <= AMBIGUITY_MARGIN + 1e-9]
        return Diagnosis(ranked, self._follow_up(contenders), ambiguous=True, tied=tied)

    def _follow_up(self, contenders: list[str]) -> FollowUp:
        """The one question that separates the contenders, or a request for the whole line.

        A known question must offer every contender (the smallest such question
        wins). Two contenders without one get a choice between their titles; more
        than two (a bare ``535``) get the request for the whole error line.
        """
        needed = set(contenders)
        fitting = [(len(causes), question) for causes, question in _FOLLOW_UPS.items()
                   if needed <= causes]
        if fitting:
            _, (question, options) = min(fitting, key=lambda item: item[0])
            return FollowUp(question, options)
        if len(contenders) == 2:
            options = tuple((self._titles.get(c) or c, c) for c in contenders)
            return FollowUp("Which of these fits your setup best?", options)
        return FollowUp(WHOLE_LINE_QUESTION, ())

    def code_to_cause(self, error_code: str | int) -> str | None:
        """Map an Entra sign-in error code (``50126``, ``AADSTS53003``) to a cause id.

        The live checks read ``status.errorCode`` from the sign-in log; the
        mapping reuses the ``AADSTS`` patterns of the knowledge file.

        Args:
            error_code: the code, with or without the ``AADSTS`` prefix.

        Returns:
            The cause id, or ``None`` for success (0) and unknown codes.
        """
        digits = "".join(ch for ch in str(error_code) if ch.isdigit())
        if not digits or int(digits) == 0:
            return None
        best = self.diagnose(f"AADSTS{digits}").best
        return best.cause_id if best is not None and best.confidence >= 0.8 else None


# A reply code right before the matched phrase ("535 ", "554 5.2.252 ") belongs
# to the evidence; after a bare code, the reply text up to the next bracket,
# quote or sentence end says what the code means.
_CODE_BEFORE = re.compile(r"(?<![\w.])(?:[245]\d\d[ -])?(?:[245]\.\d{1,3}\.\d{1,3} )?$")
_REPLY_END = re.compile(r"[\[(\"|\\]|'(?![a-z])| Visit | https?:| at |\. |;(?<!SMTP;)")


def _evidence(text: str, match: re.Match[str]) -> str:
    start, end = match.span()
    before = _CODE_BEFORE.search(text, max(0, start - 16), start)
    if before is not None and before.group(0):
        start = before.start()
    matched = match.group(0)
    if len(matched) <= 16 and any(ch.isdigit() for ch in matched):
        stop = _REPLY_END.search(text, end, end + _EVIDENCE_CHARS)
        end = stop.start() if stop is not None else min(len(text), end + _EVIDENCE_CHARS)
    evidence = text[start:end].strip(" .,;:'\"")
    if len(evidence) > _EVIDENCE_CHARS:
        evidence = evidence[: _EVIDENCE_CHARS - 1].rstrip() + "\u2026"
    return evidence


# --- factories and module-level shortcuts ------------------------------------------------------


@lru_cache(maxsize=8)
def _diagnoser_from_specs(
    specs: tuple[PatternSpec, ...], titles: tuple[tuple[str, str], ...],
    priors: tuple[tuple[str, float], ...] = (),
) -> Diagnoser:
    return Diagnoser(specs, dict(titles), order=(cause_id for cause_id, _ in titles),
                     priors=dict(priors))


@per_knowledge
def _diagnoser_of(knowledge: Any) -> Diagnoser:
    return _diagnoser_from_specs(pattern_specs(knowledge), tuple(_cause_titles(knowledge).items()),
                                 tuple(_cause_priors(knowledge).items()))


def diagnoser_for(knowledge: Any) -> Diagnoser:
    """The cached :class:`Diagnoser` for a knowledge base (patterns compiled once).

    Two caches: by object identity, so repeated calls with the same loaded
    knowledge cost a dictionary lookup, and by pattern content, so equal
    knowledge loaded twice still shares one compiled diagnoser.

    Args:
        knowledge: the loaded knowledge or its raw JSON mapping.

    Returns:
        A diagnoser shared by every caller with the same patterns.
    """
    return _diagnoser_of(knowledge)


def diagnose(text: str, knowledge: Any) -> Diagnosis:
    """Diagnose ``text`` with the patterns of ``knowledge`` (see :meth:`Diagnoser.diagnose`).

    Args:
        text: the pasted error.
        knowledge: the loaded knowledge base.

    Returns:
        The ranked diagnosis.
    """
    return diagnoser_for(knowledge).diagnose(text)


def _default_knowledge() -> Any:
    from dialogs.knowledge import default_knowledge

    return default_knowledge()


def code_to_cause(error_code: str | int, knowledge: Any = None) -> str | None:
    """Map an Entra sign-in error code to a cause id (see :meth:`Diagnoser.code_to_cause`).

    Args:
        error_code: e.g. ``"50126"``, ``53003`` or ``"AADSTS50076"``.
        knowledge: the knowledge base; the packaged one when omitted.

    Returns:
        The cause id, or ``None`` when the code is success or not known.
    """
    source = knowledge if knowledge is not None else _default_knowledge()
    return diagnoser_for(source).code_to_cause(error_code)


def bench_diagnosis(texts: Iterable[str], knowledge: Any = None, repeat: int = 20) -> float:
    """Measure diagnoses per second on one core over ``texts``.

    Args:
        texts: sample error texts (e.g. the test corpus).
        knowledge: the knowledge base; the packaged one when omitted.
        repeat: how many passes over the texts to time.

    Returns:
        Diagnoses per second.
    """
    import time

    diagnoser = diagnoser_for(knowledge if knowledge is not None else _default_knowledge())
    sample = list(texts)
    if not sample:
        return 0.0
    for text in sample:  # warm caches outside the timing
        diagnoser.diagnose(text)
    started = time.perf_counter()
    for _ in range(repeat):
        for text in sample:
            diagnoser.diagnose(text)
    return repeat * len(sample) / (time.perf_counter() - started)


def to_json_line(diagnosis: Diagnosis) -> str:
    """One ``--jsonl`` output line (compact JSON, no newline)."""
    return json.dumps(diagnosis.as_dict(), ensure_ascii=False)
