"""Knowledge search for staff: ranked causes for a few words, an error code or a pasted error.

Staff type "smtp disabled", "5.7.139", "secuirty defualts" or paste a whole
NDR into the compose box or after ``kb``; :class:`KnowledgeSearch` answers
with knowledge causes, best first, each with a short preview.

How a cause is scored (all of it built once per knowledge base, never per query):

* **BM25 per field** (``bm25s``): one small index per field — title, error
  codes, keywords, symptoms, summary, fix steps — and a weighted sum, so a
  word in a title or a keyword counts more than the same word deep in a fix
  step (a BM25F-style weighting without repeating text). Words are
  lower-cased, stop words dropped and English-stemmed (PyStemmer), so
  "disabled" finds "disable" and "passwords" finds "password".
* **Typo tolerance** (``rapidfuzz``): a query word the knowledge never uses
  is replaced by the closest word it does use, within an edit distance of 1
  (words up to 5 letters) or 2 (longer), transpositions counting once —
  "secuirty defualts" becomes "security defaults".
* **Error codes** ("5.7.139", "535", "AADSTS50076", "SendAsDenied"): a cause
  that lists the code gets a boost that is larger the fewer causes share it,
  and a pasted error text also goes through :mod:`dialogs.diagnosis`, whose
  confidence is added, so the server's own reply decides.
* **Prior**: a tiny bonus in "most common topic" order only breaks ties.

An empty or nonsense query (nothing matches, nothing to correct) answers with
the most common topics: ranked by how often the bot diagnosed each cause
(audit counts, when the caller has them), else in the order of the
knowledge file's summary table — the customer document's own list of the
usual reasons — followed by the remaining causes in fix order.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN
from rapidfuzz import process
from rapidfuzz.distance import OSA

from dialogs.diagnosis import Diagnoser, diagnoser_for
from dialogs.knowledge import UNKNOWN_CAUSE, Cause, Knowledge, per_knowledge

# Field weights: what staff type is usually a title word, a keyword or a code.
FIELD_WEIGHTS: dict[str, float] = {
    "title": 3.0,
    "error_codes": 3.0,
    "keywords": 3.0,
    "symptoms": 1.5,
    "summary": 1.0,
    "fix": 0.6,
}
# Per unit of log(1 + causes / causes listing the code): a code only one cause
# lists is worth about a title match; 5.7.139 (listed by most) only nudges.
CODE_BOOST = 1.5
# Per unit of diagnosis confidence (0..1): a specific server reply decides.
DIAGNOSIS_BOOST = 6.0
# Tie-break only: spread over the common-topics order, far below one word match.
PRIOR = 0.05
# The catch-all cause lists the most generic codes and words; it should only
# win when nothing specific matches.
UNKNOWN_DAMPING = 0.4
# Negations carry meaning in error texts ("not authenticated", "no licence").
KEPT_STOPWORDS = frozenset({"not", "no"})
# A best score below this is a brush with common words, not a topic ("how much does it
# cost" against the wrong-server cause scored about 2); a match that needed a typo
# corrected must clear twice as much. For answers that pick topics without a person
# choosing from a list: customers' questions, staff's ``ps <topic>``.
CONFIDENT_SCORE = 3.0
# Results below this share of the best score are noise for the reader.
RELATIVE_CUTOFF = 0.3
PREVIEW_CHARS = 150
MAX_QUERY_CHARS = 2_000
# Diagnose only texts that could be an error: a code, or several words.
_DIAGNOSE_MIN_WORDS = 4

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+(?:-[a-z0-9]+)*")
_AADSTS = re.compile(r"aadsts(\d+)")
_ENHANCED_CODE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
_REPLY_CODE = re.compile(r"[245]\d\d")
_ENTRA_CODE = re.compile(r"\d{5,7}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _default_stemmer() -> Any:
    return Stemmer.Stemmer("english")


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One cause found by a search.

    Attributes:
        cause_id: a cause id of the knowledge file.
        title: the cause's title.
        score: the combined score (only comparable within one search).
        preview: the sentence of the cause that best matches the query.
    """

    cause_id: str
    title: str
    score: float
    preview: str


@dataclass(frozen=True, slots=True)
class SearchResponse:
    """What a search found.

    Attributes:
        query: the query as given (trimmed).
        corrected: the query with typos corrected, when any word was changed.
        results: causes, best first.
        is_fallback: True when nothing matched and ``results`` are the common topics.
    """

    query: str
    corrected: str | None
    results: tuple[SearchResult, ...]
    is_fallback: bool = False

    def confident(self) -> tuple[SearchResult, ...]:
        """The results that clear :data:`CONFIDENT_SCORE` (doubled after a typo fix)."""
        if self.is_fallback:
            return ()
        least = CONFIDENT_SCORE * (2 if self.corrected else 1)
        return tuple(result for result in self.results
                     if result.cause_id != UNKNOWN_CAUSE and result.score >= least)

    @property
    def cause_ids(self) -> list[str]:
        """The result cause ids, best first."""
        return [result.cause_id for result in self.results]


@dataclass(frozen=True, slots=True)
class _Document:
    cause: Cause
    sentences: tuple[str, ...]
    sentence_stems: tuple[frozenset[str], ...]


@dataclass
class _Analyzer:
    """Text -> tokens, shared by the index and the queries so both see the same words."""

    stemmer: Any = field(default_factory=_default_stemmer)
    stopwords: frozenset[str] = frozenset(STOPWORDS_EN) - KEPT_STOPWORDS

    def surface(self, text: str) -> list[str]:
        """Lower-cased words and codes, before stemming, stop words removed."""
        text = unicodedata.normalize("NFKC", text).lower()
        text = _APOSTROPHES.sub("", text)
        words: list[str] = []
        for match in _TOKEN.finditer(text):
            token = match.group(0)
            aadsts = _AADSTS.fullmatch(token)
            if aadsts is not None:
                words.append(aadsts.group(1))
                continue
            if "-" in token and not token[0].isdigit():
                parts = [p for p in token.split("-") if p]
                words.extend(p for p in parts if len(p) > 1 and p not in self.stopwords)
                words.append("".join(parts))
                continue
            if token in self.stopwords or (len(token) < 2 and not token.isdigit()):
                continue
            words.append(token)
        return words

    def stem(self, words: Sequence[str]) -> list[str]:
        """Stem words; codes and numbers stay as they are."""
        return [w if not w[0].isalpha() else s
                for w, s in zip(words, self.stemmer.stemWords(list(words)), strict=True)]


def _code_key(code: str) -> str:
    code = code.strip().lower()
    aadsts = _AADSTS.fullmatch(code)
    return aadsts.group(1) if aadsts else code


def _default_order(knowledge: Knowledge) -> tuple[str, ...]:
    order: dict[str, None] = {}
    for row in knowledge.summary_table:
        order.setdefault(row.cause, None)
    for cause in knowledge.causes:
        if cause.id != UNKNOWN_CAUSE:
            order.setdefault(cause.id, None)
    order.setdefault(UNKNOWN_CAUSE, None)
    return tuple(cause_id for cause_id in order if cause_id in knowledge.cause_ids)


def _field_text(cause: Cause, name: str) -> str:
    if name == "title":
        return cause.title
    if name == "error_codes":
        return " ".join(cause.error_codes)
    if name == "keywords":
        return " ; ".join(cause.keywords)
    if name == "symptoms":
        return " ".join(cause.symptoms)
    if name == "summary":
        return cause.summary
    if name == "fix":
        return " ".join(cause.fix.steps)
    raise ValueError(f"unknown field {name!r}")


def _clip(text: str, limit: int = PREVIEW_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "\u2026"


class KnowledgeSearch:
    """Ranked search over the knowledge causes; build once, query many times."""

    def __init__(self, knowledge: Knowledge, diagnoser: Diagnoser | None = None) -> None:
        """Build the field indexes, the vocabulary and the code table.

        Args:
            knowledge: the loaded knowledge base.
            diagnoser: reads pasted error texts; the knowledge's cached one by default.
        """
        self.knowledge = knowledge
        self._analyzer = _Analyzer()
        self._diagnoser = diagnoser if diagnoser is not None else diagnoser_for(knowledge)
        self._causes = tuple(knowledge.causes)
        self._position = {cause.id: i for i, cause in enumerate(self._causes)}
        self.default_order = _default_order(knowledge)
        self._fixed_order = tuple(sorted(self.default_order, key=lambda c: c == UNKNOWN_CAUSE))

        self._indexes: list[tuple[float, bm25s.BM25]] = []
        surface_counts: Counter[str] = Counter()
        stems: set[str] = set()
        for name, weight in FIELD_WEIGHTS.items():
            corpus = []
            for cause in self._causes:
                words = self._analyzer.surface(_field_text(cause, name))
                surface_counts.update(set(words))
                stemmed = self._analyzer.stem(words) if words else []
                stems.update(stemmed)
                # bm25s needs one token per document; an unmatched filler keeps a
                # field-less cause (no fix steps) in the index without scoring.
                corpus.append(stemmed or ["\x00empty"])
            index = bm25s.BM25()
            index.index(corpus, show_progress=False)
            self._indexes.append((weight, index))
        self._stems = frozenset(stems)
        # Typo candidates: real words only (codes and numbers are never "corrected").
        vocabulary = sorted(w for w in surface_counts if w.isalpha() and len(w) > 2)
        self._vocabulary = vocabulary
        self._frequency = dict(surface_counts)

        causes_by_code: dict[str, set[str]] = {}
        for cause in self._causes:
            for code in cause.error_codes:
                causes_by_code.setdefault(_code_key(code), set()).add(cause.id)
        total = len(self._causes)
        self._code_causes = {code: frozenset(ids) for code, ids in causes_by_code.items()}
        self._code_weight = {code: math.log(1 + total / len(ids))
                             for code, ids in causes_by_code.items()}

        self._documents = {}
        for cause in self._causes:
            sentences = [cause.summary, *cause.symptoms,
                         *(s for step in cause.fix.steps for s in _SENTENCE_END.split(step))]
            sentence_stems = tuple(
                frozenset(self._analyzer.stem(self._analyzer.surface(s)) or ()) for s in sentences)
            self._documents[cause.id] = _Document(cause, tuple(sentences), sentence_stems)

    # ----- queries ------------------------------------------------------------------
    def correct(self, words: Sequence[str]) -> list[str]:
        """Replace words the knowledge never uses by the closest word it does use.

        Args:
            words: query words as :meth:`_Analyzer.surface` returns them.

        Returns:
            The words, typos corrected; a word without a close match is kept.
        """
        corrected = []
        for word in words:
            corrected.append(self._closest(word) or word)
        return corrected

    def _closest(self, word: str) -> str | None:
        if not word.isalpha() or len(word) < 4 or word in self._frequency:
            return None
        if self._analyzer.stem([word])[0] in self._stems:
            return None
        max_distance = 1 if len(word) <= 5 else 2
        matches = process.extract(word, self._vocabulary, scorer=OSA.distance,
                                  score_cutoff=max_distance, limit=8)
        if not matches:
            return None
        best = min(matches, key=lambda m: (m[1], -self._frequency.get(m[0], 0), m[0]))
        return str(best[0])

    def _codes(self, words: Iterable[str]) -> list[str]:
        codes = []
        for word in words:
            key = _code_key(word)
            if key in self._code_causes or _ENHANCED_CODE.fullmatch(key) or (
                    _REPLY_CODE.fullmatch(key) or _ENTRA_CODE.fullmatch(key)):
                codes.append(key)
        return codes

    def known_codes(self, text: str) -> list[str]:
        """The error codes in ``text`` that some cause lists ("535", "5.7.139", "50076")."""
        return [key for key in map(_code_key, self._analyzer.surface(text))
                if key in self._code_causes]

    def search(
        self, query: str, *, limit: int = 5, popularity: Mapping[str, int] | None = None,
    ) -> SearchResponse:
        """Rank the causes for ``query``.

        Args:
            query: a few words, an error code or a pasted error text.
            limit: at most this many results.
            popularity: how often each cause was diagnosed lately (for the tie-break
                and for the common topics); the fixed order when None.

        Returns:
            The results, best first; the common topics when nothing matches.
        """
        query = (query or "").strip()[:MAX_QUERY_CHARS]
        words = self._analyzer.surface(query)
        corrected_words = self.correct(words)
        corrected = None
        if corrected_words != words:
            corrected = " ".join(corrected_words)
        stems = self._analyzer.stem(corrected_words) if corrected_words else []
        matched_stems = [s for s in stems if s in self._stems]
        codes = self._codes(corrected_words)

        scores = np.zeros(len(self._causes), dtype=np.float64)
        if matched_stems:
            for weight, index in self._indexes:
                scores += weight * index.get_scores(matched_stems)
        for code in set(codes):
            for cause_id in self._code_causes.get(code, ()):
                scores[self._position[cause_id]] += CODE_BOOST * self._code_weight[code]
        if codes or len(words) >= _DIAGNOSE_MIN_WORDS:
            for candidate in self._diagnoser.diagnose(query).candidates:
                position = self._position.get(candidate.cause_id)
                if position is not None:
                    scores[position] += DIAGNOSIS_BOOST * candidate.confidence

        unknown = self._position.get(UNKNOWN_CAUSE)
        if unknown is not None:
            scores[unknown] *= UNKNOWN_DAMPING
        if not np.any(scores > 0):
            return SearchResponse(query, corrected, tuple(self.common_topics(limit, popularity)),
                                  is_fallback=True)
        order = self.topic_order(popularity)
        rank = {cause_id: i for i, cause_id in enumerate(order)}
        values = scores.tolist()  # plain floats: cheaper than numpy scalars below
        for cause_id, position in self._position.items():
            if values[position] > 0:
                values[position] += PRIOR * (1 - rank[cause_id] / len(order))
        cutoff = max(values) * RELATIVE_CUTOFF
        ranked = sorted(
            (i for i, value in enumerate(values) if value > 0 and value >= cutoff),
            key=lambda i: (-values[i], rank[self._causes[i].id]),
        )
        terms = set(stems) | set(codes)
        results = tuple(
            SearchResult(self._causes[i].id, self._causes[i].title, round(values[i], 4),
                         self.preview(self._causes[i].id, terms))
            for i in ranked[:limit])
        return SearchResponse(query, corrected, results)

    def topic_order(self, popularity: Mapping[str, int] | None = None) -> tuple[str, ...]:
        """Cause ids from most to least common.

        Args:
            popularity: diagnoses per cause id (e.g. audit counts); None for the fixed order.

        Returns:
            Every cause id; by count when counts are given (ties and uncounted causes
            keep the fixed order), "unknown" always last.
        """
        if not popularity:
            return self._fixed_order
        fixed = {cause_id: i for i, cause_id in enumerate(self.default_order)}
        counts = popularity
        return tuple(sorted(
            self.default_order,
            key=lambda c: (c == UNKNOWN_CAUSE, -int(counts.get(c, 0) or 0), fixed[c])))

    def common_topics(
        self, limit: int = 5, popularity: Mapping[str, int] | None = None
    ) -> list[SearchResult]:
        """The most common topics, for an empty or unmatched query.

        Args:
            limit: at most this many.
            popularity: diagnoses per cause id; None for the fixed order.

        Returns:
            Results with a score of 0 and the cause summary as preview.
        """
        results = []
        for cause_id in self.topic_order(popularity)[:limit]:
            cause = self.knowledge.cause(cause_id)
            results.append(SearchResult(cause_id, cause.title, 0.0, _clip(cause.summary)))
        return results

    def preview(self, cause_id: str, terms: set[str]) -> str:
        """The cause's sentence that shares the most query terms (its summary on a tie).

        Args:
            cause_id: the cause.
            terms: stemmed query words and codes.

        Returns:
            One clipped sentence.
        """
        document = self._documents[cause_id]
        best_index, best_overlap = 0, 0
        for i, sentence_stems in enumerate(document.sentence_stems):
            overlap = len(terms & sentence_stems)
            if overlap > best_overlap:
                best_index, best_overlap = i, overlap
        return _clip(document.sentences[best_index])


@per_knowledge
def _search_of(knowledge: Any) -> KnowledgeSearch:
    return KnowledgeSearch(knowledge)


def search_for(knowledge: Knowledge) -> KnowledgeSearch:
    """The cached :class:`KnowledgeSearch` of a knowledge base (indexes built once).

    Args:
        knowledge: the loaded knowledge base.

    Returns:
        The search shared by every caller with this knowledge object.
    """
    return _search_of(knowledge)


# What staff type, in the proportions the compose box sees them: words, codes,
# typos, a pasted reply and the empty query of a freshly opened search box.
SAMPLE_QUERIES: tuple[str, ...] = (
    "smtp disabled", "5.7.139", "app password", "security defaults", "shared mailbox",
    "legacy tls", "conditional access blocks smtp", "oauth token", "secuirty defualts",
    "AADSTS50076", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
    "disabled for the Tenant", "send as", "port 465", "client secret expired", "",
    "mailbox full", "smpt auth", "53003", "no licence", "throttled",
)


def bench_search(
    queries: Iterable[str] | None = None, knowledge: Knowledge | None = None, repeat: int = 20
) -> float:
    """Measure searches per second on one core over ``queries``.

    Args:
        queries: sample staff queries; :data:`SAMPLE_QUERIES` when omitted.
        knowledge: the knowledge base; the packaged one when omitted.
        repeat: how many passes over the queries to time.

    Returns:
        Queries per second (the index is built before timing starts).
    """
    if knowledge is None:
        from dialogs.knowledge import default_knowledge

        knowledge = default_knowledge()
    searcher = search_for(knowledge)
    sample = list(SAMPLE_QUERIES if queries is None else queries)
    if not sample:
        return 0.0
    for query in sample:  # warm caches outside the timing
        searcher.search(query)
    started = time.perf_counter()
    for _ in range(repeat):
        for query in sample:
            searcher.search(query)
    return repeat * len(sample) / (time.perf_counter() - started)
