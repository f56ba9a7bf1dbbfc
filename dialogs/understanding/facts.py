"""Facts said in a message, with negation scope, hedges and the words that said them.

A message is scanned once for every term of :mod:`dialogs.understanding.lexicon`,
split into clauses (at punctuation and at "but"/"bet"/"но"), and in each clause
every state ("on", "izslēgts", "включена", a tick, "have") is given to the
nearest topic ("MFA", "SD", "licence", …). Negation has a scope: a negator
negates the first topic or state after it ("not enabled", "nav ieslēgts", "не
включена", "no MFA", "без лицензии"), or — when nothing follows — the one just
before it ("MFA nav", "галочки нет"). Latvian and Russian stack negators ("nav
nekādu", "нет никаких") without cancelling them, so one or more negators negate
once. A clause with an answer but no topic ("nē", "probably not", "not enabled")
answers the question being asked.

Every fact carries a confidence: lower for a hedge ("I think so", "laikam",
"вроде"), a word repaired from a typo, an answer inherited from a neighbour, or
two clauses that disagree. The engine stores only what is above its bar and asks
about the rest.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from dialogs.understanding import lexicon
from dialogs.understanding.text import ADDRESS, first_characters

# Facts with a plain yes / no / not sure answer.
BINARY_FACTS = frozenset({"mfa", "security_defaults", "conditional_access", "license"})
SMTP_FACTS = frozenset({"org_smtp_auth", "mailbox_smtp_auth"})
VALUE_FACTS = frozenset({"mailbox_type", "auth_method", "test_result"})
ALL_FACTS = frozenset({"mailbox", *BINARY_FACTS, *SMTP_FACTS, *VALUE_FACTS})

# How a state reads for each kind of fact. The org question asks about the "Turn off
# SMTP AUTH protocol" box, so a tick there means off; SmtpClientAuthenticationDisabled
# True means off too.
_BINARY = {"on": "yes", "tick": "yes", "have": "yes", "yes": "yes",
           "off": "no", "untick": "no", "nohave": "no", "no": "no", "missing": "no"}
_ORG = {"on": "enabled", "yes": "enabled", "untick": "enabled", "false": "enabled",
        "have": "enabled", "off": "disabled", "no": "disabled", "tick": "disabled",
        "true": "disabled", "nohave": "disabled"}
_MAILBOX = {"on": "enabled", "yes": "enabled", "tick": "enabled", "false": "enabled",
            "have": "enabled", "off": "disabled", "no": "disabled", "untick": "disabled",
            "true": "disabled", "nohave": "disabled", "missing": "missing"}
_FLIP = {"on": "off", "off": "on", "tick": "untick", "untick": "tick", "true": "false",
         "false": "true", "have": "nohave", "nohave": "have", "yes": "no", "no": "yes"}
# Which states say more: "MFA ir izslēgts" is off, whatever "ir" (is/has) says.
_SPECIFIC = frozenset({"on", "off", "tick", "untick", "true", "false", "missing", "notfound"})

CONFIDENT = 0.95
BARE = 0.9
WEAK = 0.9
INHERITED = 0.85
HEDGED = 0.65
CONFLICT = 0.5
# How many words ahead a negator still reaches its topic or state ("don't sign in with oauth").
_NEGATION_REACH = 4
_SMTP_TOPICS = frozenset({"smtp_auth", "smtp_disabled_param", "org_smtp_auth", "mailbox_smtp_auth"})
# A topic named alone as the answer to its own question ("2FA?" "MFA"): yes, but say so.
NAMED_ONLY = 0.8
TYPO = 0.9

_CONTENT = frozenset({"topic", "value", "state", "with", "yes", "qualifier"})
_SIGNALS = frozenset({"state", "with", "yes", "no", "unsure", "hedge"})
_NEGATORS = frozenset({"neg", "no"})
_BOUNDARY = re.compile(r"(?<!\d)[.;!?\n]|[.;!?\n](?!\d)|,")
_ADDITIVE = frozenset({"and", "also"})


@dataclass(frozen=True)
class Fact:
    """One fact a message states.

    Attributes:
        name: the fact (a question id: ``mfa``, ``license`` …).
        value: the option value (``yes``, ``disabled``, ``shared`` …) or the address.
        words: the words of the message that said it.
        confidence: 0..1; the engine stores it only above its bar.
        bare: said without naming it ("nē", "probably not"): an answer to the question asked.
    """

    name: str
    value: str
    words: str
    confidence: float
    bare: bool = False


@dataclass
class _Term:
    kind: str
    fact: str | None
    value: str | None
    weak: bool
    start: int
    end: int
    word: int
    clause: int = 0
    asked_only: bool = False
    fuzzy: bool = False
    negated: bool = False
    used_as_negator: bool = False
    signals: list[_Term] = field(default_factory=list)


@dataclass
class _Found:
    fact: str
    symbol: str | None  # a state symbol, "unsure", or a value of a many-valued fact
    start: int
    end: int
    confidence: float
    clause: int
    bare: bool = False


def _spaces_to_runs(pattern: str) -> str:
    """Let a literal space in a pattern match any run of spaces (outside [...] classes)."""
    out, depth, escaped, skip = [], 0, False, False
    for index, char in enumerate(pattern):
        if skip:  # the "?" of "x ?y": the space itself is optional
            skip = False
            continue
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "[":
            depth += 1
            out.append(char)
        elif char == "]":
            depth = max(0, depth - 1)
            out.append(char)
        elif char == " " and depth == 0:
            out.append(r"\s+")
            if index + 1 < len(pattern) and pattern[index + 1] == "?":
                out[-1] = r"\s*"
                skip = True
        else:
            out.append(char)
    return "".join(out)


class FactReader:
    """Reads the facts of one message; built once, shared by every turn."""

    def __init__(self, known_words: Iterable[str] = ()) -> None:
        """Compile the lexicon once per language.

        Args:
            known_words: words that are spelled right (the training data's): only
                other words are candidates for typo repair.
        """
        self._entries = lexicon.TERMS
        self._buckets = {lang: self._compile(lang) for lang in ("en", "lv", "ru")}
        targets = sorted(lexicon.FUZZY_TARGETS)
        self._targets = targets
        self._known = frozenset(known_words) | frozenset(targets)

    def _compile(self, lang: str) -> dict[str, re.Pattern[str]]:
        """One alternation per first character, each in lexicon order.

        One alternation of every term would be tried at every position of a message
        (0.7 ms a message); each word start only needs the terms that can begin with
        its first character.
        """
        chosen = [(index, _spaces_to_runs(entry.pattern))
                  for index, entry in enumerate(self._entries)
                  if entry.lang is None or entry.lang == lang]
        firsts = [(index, pattern, first_characters(pattern)) for index, pattern in chosen]
        characters = set().union(*(first for _, _, first in firsts if first is not None))
        buckets = {}
        for character in characters:
            groups = [f"(?P<g{index}>{pattern})" for index, pattern, first in firsts
                      if first is None or character in first]
            buckets[character] = re.compile("(?:" + "|".join(groups) + r")(?![\w'])")
        anywhere = [f"(?P<g{index}>{pattern})" for index, pattern, first in firsts if first is None]
        if anywhere:
            buckets[""] = re.compile("(?:" + "|".join(anywhere) + r")(?![\w'])")
        return buckets

    # ----- typos -------------------------------------------------------------------------
    @functools.lru_cache(maxsize=8192)  # noqa: B019 - one reader per process, words repeat
    def _repair(self, word: str) -> str | None:
        if len(word) < 5 or word in self._known or any(c.isdigit() for c in word):
            return None
        limit = 1 if len(word) < 9 else 2
        found = extractOne(word, self._targets, scorer=OSA.distance, score_cutoff=limit)
        if found is None or found[0][0] != word[0]:
            return None
        return str(found[0])

    def _repaired(self, scan: str) -> tuple[str, list[tuple[int, int, int, int]]]:
        """``scan`` with misspelt words replaced, and where each replacement went."""
        pieces: list[str] = []
        moved: list[tuple[int, int, int, int]] = []  # (new start, new end, old start, old end)
        last = 0
        size = 0
        for match in _WORDS.finditer(scan):
            fixed = self._repair(match.group())
            if fixed is None:
                continue
            pieces.append(scan[last:match.start()])
            size += match.start() - last
            moved.append((size, size + len(fixed), match.start(), match.end()))
            pieces.append(fixed)
            size += len(fixed)
            last = match.end()
        if not moved:
            return scan, moved
        pieces.append(scan[last:])
        return "".join(pieces), moved

    def repaired(self, folded: str) -> str:
        """``folded`` with misspelt words repaired ("secuirty defualts" -> "security defaults")."""
        return self._repaired(folded)[0]

    # ----- reading -------------------------------------------------------------------------
    def read(self, text: str, scan: str, lang: str, question: str | None,
             known: Mapping[str, str] | None = None) -> list[Fact]:
        """Return the facts ``text`` states.

        Args:
            text: what the customer typed.
            scan: ``text`` folded character for character (same length), addresses masked.
            lang: the message's language (Latvian "no" is "from", not a negator).
            question: the fact the bot is asking about, or None.
            known: the answers stored so far (a "no" beside a changed answer disputes it).

        Returns:
            One fact per fact name, most confident reading.
        """
        return self.read_named(text, scan, lang, question, known)[0]

    def read_named(self, text: str, scan: str, lang: str, question: str | None,
                   known: Mapping[str, str] | None = None) -> tuple[list[Fact], frozenset[str]]:
        """:meth:`read`, and the facts whose topic the text names ("SMTP AUTH": both of its)."""
        scan, moved = self._repaired(scan)
        terms = self._terms(text, scan, lang, moved)
        if not terms:
            return [], frozenset()
        named = frozenset(name for t in terms if t.kind == "topic" and not t.weak
                          and t.fact is not None for name in _TOPIC_FACTS.get(t.fact, (t.fact,)))
        self._clauses(scan, terms)
        self._negate(terms)
        found = self._resolve(terms, question)
        return self._facts(text, found, moved, question, terms, known or {}), named

    def _terms(self, text: str, scan: str, lang: str,
               moved: Sequence[tuple[int, int, int, int]]) -> list[_Term]:
        word_starts = [m.start() for m in _WORDS.finditer(scan)]
        terms = []
        for match in self._matches(scan, self._buckets.get(lang, self._buckets["en"])):
            entry = self._entries[int(str(match.lastgroup)[1:])]
            start, end = match.span()
            if entry.needs is not None:
                typed_start, typed_end = _original_span(start, end, moved)
                if entry.needs not in text[typed_start:typed_end].lower():
                    continue
            fuzzy = any(new_start < end and start < new_end for new_start, new_end, _, _ in moved)
            terms.append(_Term(entry.kind, entry.fact, entry.value, entry.weak, start, end,
                               bisect.bisect_left(word_starts, start), fuzzy=fuzzy,
                               asked_only=entry.asked_only))
        for match in _MASKED_ADDRESS.finditer(scan):
            terms.append(_Term("address", "mailbox", None, False, match.start(), match.end(),
                               bisect.bisect_left(word_starts, match.start())))
        terms.sort(key=lambda t: t.start)
        return terms

    @staticmethod
    def _matches(scan: str, buckets: Mapping[str, re.Pattern[str]]) -> Iterator[re.Match[str]]:
        """The terms of ``scan``, left to right, not overlapping (as one alternation's finditer)."""
        anywhere = buckets.get("")
        position = 0
        size = len(scan)
        while position < size:
            start = _TERM_START.search(scan, position)
            if start is None:
                return
            position = start.start()
            bucket = buckets.get(scan[position], anywhere)
            match = bucket.match(scan, position) if bucket is not None else None
            if match is not None and match.end() > position:
                yield match
                position = match.end()
            else:
                position += 1

    @staticmethod
    def _clauses(scan: str, terms: list[_Term]) -> None:
        inside = [(t.start, t.end) for t in terms]
        cuts = [m.start() for m in _BOUNDARY.finditer(scan)
                if not any(s <= m.start() < e for s, e in inside)]
        cuts.extend(t.start for t in terms if t.kind == "contrast")
        cuts.sort()
        for term in terms:
            term.clause = bisect.bisect_right(cuts, term.start)

    @staticmethod
    def _negate(terms: list[_Term]) -> None:
        """Give each negator the term it negates (see the module docstring)."""
        for index, term in enumerate(terms):
            if term.kind not in _NEGATORS:
                continue
            target = None
            for after in terms[index + 1:]:
                if after.clause != term.clause or after.word - term.word > _NEGATION_REACH:
                    break
                if after.kind in _NEGATORS or after.kind in {"filler", "hedge", "cue"}:
                    continue  # "nav ne", "нет никаких": one negation, said twice
                if after.kind in _CONTENT and after.kind != "qualifier":
                    target = after
                break
            if target is None:
                for before in reversed(terms[:index]):
                    if before.clause != term.clause or term.word - before.word > 2:
                        break
                    if before.kind in _NEGATORS:
                        continue
                    if before.kind in {"topic", "value"} or (
                            before.kind == "state" and before.value in {"tick", "have"}):
                        target = before
                    break
            if target is not None:
                term.used_as_negator = True
                # Negative concord: "nekad neesam pirkuši", "никогда не…" say no once.
                if not (target.kind == "state" and target.value == "nohave"):
                    target.negated = True

    # ----- which state goes with which topic ---------------------------------------------
    def _resolve(self, terms: list[_Term], question: str | None) -> list[_Found]:
        # A weak word that is not about its fact here ("last" in "прошлом году") is no topic.
        anchors = [t for t in terms if t.kind in {"topic", "value"} and not (
            t.weak and t.fact is not None and not self._weak_counts(
                _WEAK_AS.get(t.fact, t.fact), t, terms, question))]
        smtp_said = any(t.fact in {"smtp_auth", "smtp_disabled_param"} for t in terms) or \
            question in SMTP_FACTS
        # A qualifier ("for the tenant", "pastkastei") names SMTP AUTH where SMTP AUTH is talked of.
        if smtp_said:
            # ... but only where no "SMTP AUTH" of its own is named: there it picks the target.
            named = {t.clause for t in terms if t.fact in _SMTP_TOPICS}
            anchors.extend(t for t in terms if t.kind == "qualifier" and t.clause not in named)
            anchors.sort(key=lambda t: t.start)
        signals = [t for t in terms if (t.kind in _SIGNALS and not t.used_as_negator)]
        bare: dict[int, list[_Term]] = {}
        for signal in signals:
            same = [a for a in anchors if a.clause == signal.clause]
            if not same:
                if signal.kind != "with":  # "with" alone ("начать с начала") says nothing
                    bare.setdefault(signal.clause, []).append(signal)
                continue
            nearest = min(same, key=lambda a: (abs(a.word - signal.word), a.word > signal.word))
            nearest.signals.append(signal)
        found: list[_Found] = []
        resolved: list[tuple[_Term, str | None]] = []
        for anchor in anchors:
            symbol = self._symbol(anchor)
            resolved.append((anchor, symbol))
        # "MFA and SD are off": a topic with nothing of its own takes its neighbour's state.
        for i, (anchor, symbol) in enumerate(resolved):
            if symbol is not None or anchor.negated:
                continue
            inherited = None
            also = any(t.kind == "also" and t.clause == anchor.clause for t in terms)
            later = [(a, s) for a, s in resolved[i + 1:] if a.clause == anchor.clause and s]
            if later and self._joined(terms, anchor, later[0][0]):
                inherited = later[0][1]
            elif also:
                earlier = [s for a, s in resolved[:i] if s]
                if not earlier:  # "enabled, for the mailbox as well": the answer said before
                    said = [_combine(sig) for c, sig in sorted(bare.items()) if c < anchor.clause]
                    earlier = [s for s in said if s]
                inherited = earlier[-1] if earlier else None
            if inherited is not None:
                resolved[i] = (anchor, inherited)
                anchor.signals.append(_Term("inherited", None, inherited, False, anchor.start,
                                            anchor.end, anchor.word))
        # "2FA, no": a clause of only an answer goes to the topics just before it.
        used_bare: set[int] = set()
        for clause, clause_signals in sorted(bare.items()):
            waiting = [(i, a) for i, (a, s) in enumerate(resolved)
                       if s is None and not a.negated and a.clause == clause - 1]
            if waiting:
                symbol = _combine(clause_signals)
                for i, anchor in waiting:
                    resolved[i] = (anchor, symbol)
                used_bare.add(clause)
        smtp_targets = self._smtp_targets(terms, question)
        for anchor, symbol in resolved:
            found.extend(self._found(anchor, symbol, terms, question, smtp_targets))
        for clause, clause_signals in sorted(bare.items()):
            if clause in used_bare:
                continue
            if _clause_words(terms, clause) > 3:
                # "I'd rather have someone do it": a long clause's "have" has no topic here.
                clause_signals = [s for s in clause_signals
                                  if not (s.kind == "state" and s.value == "have")]
            symbol = _combine(clause_signals)
            if symbol is None or question is None:
                continue
            start = min(s.start for s in clause_signals)
            end = max(s.end for s in clause_signals)
            confidence = BARE * _hedge_factor(clause_signals, terms, clause)
            if any(s.fuzzy for s in clause_signals):
                confidence *= TYPO
            found.append(_Found(question, symbol, start, end, confidence, clause, bare=True))
        return found

    @staticmethod
    def _joined(terms: list[_Term], first: _Term, second: _Term) -> bool:
        """True when only "and", "," or nothing stands between two topics."""
        between = [t for t in terms if first.end <= t.start < second.start]
        return all(t.kind in {"and", "no", "neg"} for t in between)

    @staticmethod
    def _symbol(anchor: _Term) -> str | None:
        states = [s for s in anchor.signals if s.kind in {"state", "with"}]
        symbols = [(_FLIP.get(str(s.value), s.value) if s.negated else s.value) for s in states]
        specific = [s for s in symbols if s in _SPECIFIC]
        if specific:
            return specific[-1] if len(set(specific)) == 1 else "conflict"
        if symbols:
            return symbols[-1]
        answers = [s for s in anchor.signals if s.kind in {"yes", "no"}]
        if answers:
            values = {s.kind for s in answers}
            return answers[-1].kind if len(values) == 1 else "conflict"
        hedged = [s.value for s in anchor.signals if s.kind == "hedge" and s.value]
        if hedged:
            return hedged[-1]
        if any(s.kind == "unsure" for s in anchor.signals):
            return "unsure"
        return None

    def _smtp_targets(self, terms: list[_Term], question: str | None) -> dict[int, tuple[str, ...]]:
        """For each clause, which SMTP AUTH fact(s) a plain "SMTP AUTH" there means."""
        targets: dict[int, tuple[str, ...]] = {}
        for clause in {t.clause for t in terms}:
            kinds = {t.value for t in terms if t.kind == "qualifier" and t.clause == clause}
            pairs = (("org_smtp_auth", "org"), ("mailbox_smtp_auth", "mailbox"))
            chosen = tuple(fact for fact, kind in pairs if kind in kinds)
            if not chosen and question in SMTP_FACTS:
                chosen = (str(question),)
            targets[clause] = chosen
        return targets

    def _found(self, anchor: _Term, symbol: str | None, terms: list[_Term], question: str | None,
               smtp_targets: dict[int, tuple[str, ...]]) -> list[_Found]:
        fact = anchor.fact
        if anchor.kind == "qualifier":
            if not (anchor.signals or anchor.negated) or symbol is None:
                return []
            fact = "org_smtp_auth" if anchor.value == "org" else "mailbox_smtp_auth"
            if any(t.kind == "topic" and t.fact in {"smtp_auth", "mailbox_smtp_auth",
                                                     "org_smtp_auth"}
                   and t.clause == anchor.clause for t in terms):
                return []  # the topic in this clause carries it
        facts: tuple[str, ...]
        if fact in {"smtp_auth", "smtp_disabled_param"}:
            facts = smtp_targets.get(anchor.clause, ())
            if fact == "smtp_disabled_param" and not facts:
                facts = ("org_smtp_auth",) if question != "mailbox_smtp_auth" else (question,)
        elif fact == "requires_mfa":
            # "Requires MFA": the Conditional Access policy, when that is what is asked.
            facts = ("conditional_access",) if question == "conditional_access" else ("mfa",)
        elif fact == "password_only":
            # "Only a password": no MFA when MFA is asked; else how the TMS signs in.
            if question == "mfa":
                return [_Found("mfa", "no", anchor.start, anchor.end, BARE, anchor.clause)]
            facts = ("auth_method",)
        elif fact == "entra_p1":
            # "No P1" rules out Conditional Access; having P1 says nothing about a policy.
            negative = anchor.negated or symbol in {"nohave", "no", "off"}
            facts = ("conditional_access",) if negative else ()
            anchor.negated = negative
        elif fact is None:
            facts = ()
        else:
            facts = (fact,)
        out = []
        for name in facts:
            if anchor.weak and not self._weak_counts(name, anchor, terms, question):
                continue
            value_symbol = symbol
            confidence = CONFIDENT
            if anchor.kind == "value" and name == "test_result" and anchor.value == "works" and (
                    anchor.negated or symbol in {"off", "no", "nohave"}):
                value_symbol = "failed"  # "it doesn't work", "nav palīdzējis": failed, not how
            elif anchor.kind == "value":
                if anchor.negated or symbol in {"off", "no", "nohave"}:
                    # "not shared", "we don't use oauth", "it doesn't work": says what it is not.
                    continue
                value_symbol = "unsure" if symbol == "unsure" else anchor.value
            elif anchor.negated:
                if anchor.value == "no":
                    continue  # "not F1": which licence it is, it does not say
                value_symbol = "no"
            elif symbol is None:
                if anchor.value is None:
                    if name == question and self._alone(anchor, terms) and name in BINARY_FACTS:
                        # "MFA", "2FA", "exchange online" as the whole answer to its question.
                        out.append(_Found(name, "yes", anchor.start, anchor.end, NAMED_ONLY,
                                          anchor.clause))
                    continue  # named, nothing said about it
                value_symbol = anchor.value
                confidence = BARE
            elif anchor.value == "yes" and symbol in {"have", "yes", "on", "tick"}:
                value_symbol = "yes"
            elif anchor.value == "no" and symbol in {"have", "yes", "on", "tick"}:
                value_symbol = "no"
            if value_symbol == "conflict":
                continue
            inherited = any(s.kind == "inherited" for s in anchor.signals)
            if inherited:
                confidence = min(confidence, INHERITED)
            if anchor.weak:
                confidence = min(confidence, WEAK)
            confidence *= _hedge_factor(anchor.signals, terms, anchor.clause)
            if anchor.fuzzy or any(s.fuzzy for s in anchor.signals):
                confidence *= TYPO
            spans = [anchor, *[s for s in anchor.signals if s.kind != "inherited"]]
            out.append(_Found(name, value_symbol, min(t.start for t in spans),
                              max(t.end for t in spans), confidence, anchor.clause))
        return out

    @staticmethod
    def _alone(anchor: _Term, terms: list[_Term]) -> bool:
        """True when the topic is all the message says (at most a hedge or an "and" beside it)."""
        return all(t is anchor or t.kind in {"and", "hedge", "filler"}
                   or (t.kind == "value" and t.weak) for t in terms)

    @staticmethod
    def _weak_counts(name: str, anchor: _Term, terms: list[_Term], question: str | None) -> bool:
        if question == name or (anchor.fact == "password_only" and question == "mfa"):
            return True
        if anchor.asked_only:
            return False
        if any(t.kind == "cue" and t.value == name for t in terms):
            return True
        if name == "mailbox_type" and any(t.kind == "address" for t in terms):
            return True  # "tms@x.lv, tā ir kopīgā": the type of the address given
        # A list of facts ("…, no CA, password"): the other items make the short one clear.
        strong = {t.fact for t in terms if t.kind in {"topic", "value"} and not t.weak
                  and t.fact not in {None, name}}
        if any(t.kind == "address" for t in terms):
            strong.add("mailbox")
        return len(strong) >= 2

    # ----- facts out -----------------------------------------------------------------------
    def _facts(self, text: str, found: list[_Found], moved: Sequence[tuple[int, int, int, int]],
               question: str | None, terms: list[_Term], known: Mapping[str, str]) -> list[Fact]:
        if any(f.fact == "test_result" and f.symbol == "other_error" for f in found):
            # "Some other error, about TLS": what follows describes the other error; it is
            # not the connection failure those words would name alone.
            found = [f for f in found if f.fact != "test_result" or f.symbol == "other_error"]
        explicit = {f.fact: _value(f.fact, f.symbol) for f in found if not f.bare}
        changed = {fact for fact, value in explicit.items()
                   if value is not None and known.get(fact) not in (None, "unsure", value)}
        best: dict[str, Fact] = {}
        for item in found:
            value = _value(item.fact, item.symbol)
            if value is None:
                continue
            confidence = item.confidence
            if item.bare and changed and question not in explicit and item.symbol in {"yes", "no"} \
                    and not self._adds(terms, item.clause):
                # "No, MFA is on" asked about security defaults, MFA noted as off: the "no"
                # disputes the MFA answer; it does not answer this question.
                continue
            start, end = _original_span(item.start, item.end, moved)
            words = " ".join(text[start:end].split())
            previous = best.get(item.fact)
            if previous is not None and previous.value != value:
                # Two readings of one fact: take the later clause, and ask before storing it.
                confidence = min(confidence, CONFLICT)
            elif previous is not None:
                confidence = max(confidence, previous.confidence)
            if previous is not None and previous.value == value and previous.bare is False \
                    and item.bare:
                continue  # "nē, MFA nav ieslēgts": the clause that names MFA says it best
            best[item.fact] = Fact(item.fact, value, words, round(confidence, 3), item.bare)
        return list(best.values())

    @staticmethod
    def _adds(terms: list[_Term], clause: int) -> bool:
        """True when the next clause goes on ("yes, and SD too", "no, but MFA is on")."""
        following = [t for t in terms if t.clause == clause + 1]
        return bool(following) and (following[0].kind in _ADDITIVE | {"contrast"}
                                    or any(t.kind == "also" for t in following))


_WORDS = re.compile(r"[\w']+")
# Where a term may begin: not inside a word (as the one alternation's lookbehind said).
_TERM_START = re.compile(r"(?<![\w'$])[^\s]")
_MASKED_ADDRESS = re.compile(r"@{5,}")
# Which question a weak word of a fact of its own answers.
_WEAK_AS = {"password_only": "auth_method"}


# The facts a topic word may be about, where it is not a fact's own name.
_TOPIC_FACTS: dict[str, tuple[str, ...]] = {
    "smtp_auth": tuple(sorted(SMTP_FACTS)), "smtp_disabled_param": tuple(sorted(SMTP_FACTS)),
    "requires_mfa": ("mfa", "conditional_access"), "password_only": ("auth_method", "mfa"),
    "entra_p1": ("conditional_access", "license")}


def _combine(signals: Sequence[_Term]) -> str | None:
    """The answer a clause of signals alone gives: a state, yes/no, a hedge, or unsure."""
    symbols = []
    for signal in signals:
        if signal.kind == "state":
            symbols.append(_FLIP.get(str(signal.value), signal.value) if signal.negated
                           else signal.value)
        elif signal.kind in {"yes", "no"}:
            symbols.append(signal.kind)
        elif signal.kind == "hedge" and signal.value:
            symbols.append(signal.value)
    specific = [s for s in symbols if s in _SPECIFIC]
    if specific:
        return specific[-1] if len(set(specific)) == 1 else None
    answers = [s for s in symbols if s in {"yes", "no", "nohave", "have"}]
    if answers:
        plain = {("yes" if s in {"yes", "have"} else "no") for s in answers}
        return plain.pop() if len(plain) == 1 else None
    if any(s.kind == "unsure" for s in signals):
        return "unsure"
    return None


def _clause_words(terms: list[_Term], clause: int) -> int:
    """Roughly how many words a clause has (from the first to the last term in it)."""
    inside = [t for t in terms if t.clause == clause]
    return inside[-1].word - inside[0].word + 1 if inside else 0


def _hedge_factor(signals: Sequence[_Term], terms: list[_Term], clause: int) -> float:
    hedged = any(s.kind == "hedge" for s in signals) or any(
        t.kind == "hedge" and t.clause == clause for t in terms)
    return HEDGED / CONFIDENT if hedged else 1.0


def _value(fact: str, symbol: str | None) -> str | None:
    """The option value a symbol means for ``fact`` (None when it means nothing there)."""
    if symbol is None:
        return None
    if symbol == "unsure":
        return "unsure"
    if symbol == "notfound":  # "can't find it": missing where it is Authenticated SMTP
        return "missing" if fact == "mailbox_smtp_auth" else "unsure"
    if fact in BINARY_FACTS:
        return _BINARY.get(symbol)
    if fact == "org_smtp_auth":
        return _ORG.get(symbol)
    if fact == "mailbox_smtp_auth":
        return _MAILBOX.get(symbol)
    if fact in VALUE_FACTS:
        return symbol if symbol not in _FLIP and symbol not in _SPECIFIC else None
    return None


def _original_span(start: int, end: int,
                   moved: Sequence[tuple[int, int, int, int]]) -> tuple[int, int]:
    """Map a span of the repaired text back to the typed text."""
    def back(position: int) -> int:
        shift = 0
        for new_start, new_end, old_start, old_end in moved:
            if position < new_start:
                break
            if position <= new_end:
                return old_start if position == new_start else old_end
            shift = old_end - new_end
        return position + shift
    return back(start), back(end)


def scan_text(text: str) -> str:
    """``text`` folded character for character, its addresses masked: what the reader scans."""
    from dialogs.understanding.text import _FOLD

    lowered = text.lower()
    scan = lowered.translate(_FOLD) if len(lowered) == len(text) else text.translate(_FOLD)
    if len(scan) != len(text):
        scan = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text).translate(_FOLD)
    if "@" in scan:
        scan = ADDRESS.sub(lambda m: "@" * len(m.group()), scan)
    return scan
