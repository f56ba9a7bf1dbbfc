"""The classifier: trained from the labeled utterances, applied through a lean path.

Three heads share one feature vector: the **intent** (given the message and what
the bot was waiting for), the **answer** a bare reply gives (yes / no / unsure /
a value, for replies no rule reads), and the **language** (en / lv / ru).

Features are word unigrams and bigrams and character 3- and 4-grams of the folded
text (so "ieslēgts", "ieslegts" and "ieslegts," share most of them, and Russian
endings need no lemmatiser), a few shape features, and the context crossed with
each word ("yes" means "it works" when a fix is on the screen, and "start" on a
new conversation). Each feature is weighted by its inverse document frequency,
the vector L2-normalised.

Training is a class-weighted multinomial logistic regression (scikit-learn's
model, fitted here by our own L-BFGS over numpy: scikit-learn's solver took
1-15 s per head on this machine), then one temperature per head fitted on
cross-validated scores so the probabilities are calibrated; about 1.5 s of CPU.
The trained weights are kept as a plain ``.npz`` (no pickle) next to this
module, keyed by a hash of the data and this code, and rebuilt when either
changes (``python -m dialogs.understanding build``; ``make`` does it). At run
time only numpy is used: a message's feature ids pick rows of one weight
matrix, one small product gives every head's scores.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dialogs.understanding.dataset import Row, fingerprint, load
from dialogs.understanding.text import ADDRESS, ERROR_CODE, WORD, fold

MODEL_PATH = Path(__file__).resolve().parent / "model.npz"
# Bump when features or training change: a cached model of another version is stale.
FEATURE_VERSION = "1"
INTENTS = ("start", "problem", "error", "question", "answer", "facts", "change", "skip", "wait",
           "person", "back", "start_over", "help", "language", "thanks", "fix_worked",
           "fix_failed", "greeting", "other")
ANSWERS = ("yes", "no", "unsure", "value")
LANGS = ("en", "lv", "ru")
# Regularisation of each head, chosen by cross-validation on the training split only.
_C = {"intent": 50.0, "answer": 20.0, "lang": 20.0}
_MIN_DF = 2
# The temperature is fitted on held-back folds; each fold starts from the whole data's weights.
_FOLDS = 3
_FOLD_ITERATIONS = 20
# The lean path: how many words (per context class) whose feature ids are kept.
_WORD_CACHE = 12_500


def context_class(context: str | None) -> str:
    """The context as the features see it: none, ask, fix or summary."""
    if context in (None, "-", "welcome", "handoff_requested"):
        return "none"
    if context in {"fix", "summary"}:
        return context
    return "ask"


def clean(text: str) -> str:
    """Folded text with addresses and error codes replaced by a word for each."""
    if "@" in text:
        text = ADDRESS.sub(" emailaddr ", text)
    text = ERROR_CODE.sub(" errcode ", text)
    return fold(text)


def features(cleaned: str, context: str | None) -> list[str]:
    """The feature names of a cleaned message in ``context`` (repeats are kept)."""
    words = WORD.findall(cleaned)
    ctx = context_class(context)
    out = [f"ctx:{ctx}"]
    if context not in (None, "-", "fix", "summary"):
        out.append(f"q:{context}")
    size = len(words)
    out.append("len:" + ("0" if size == 0 else "1" if size == 1 else "2" if size == 2
                         else "3" if size <= 4 else "5" if size <= 8 else "9"))
    if "?" in cleaned:
        out.append("shape:?")
    if "!" in cleaned:
        out.append("shape:!")
    previous = "<s>"
    for word in words:
        out.append("w:" + word)
        out.append(f"x:{ctx}:{word}")
        out.append(f"b:{previous}_{word}")
        previous = word
        padded = f" {word} "
        for n in (3, 4):
            if len(padded) < n:
                break
            out.extend("c:" + padded[i:i + n] for i in range(len(padded) - n + 1))
    if words:
        out.append(f"b:{previous}_</s>")
        out.append(f"x:{ctx}:<{size <= 2}>")
    return out


def answer_label(row: Row, polarity: Mapping[str, Mapping[str, str]]) -> str | None:
    """The answer head's label of a row that answers its question, else None."""
    question = row.question
    if row.intent != "answer" or question is None or question not in row.facts:
        return None
    value = row.facts[question]
    if value == "unsure":
        return "unsure"
    for said, meant in polarity.get(question, {}).items():
        if meant == value and said in {"yes", "no"}:
            return said
    return "value"


@dataclass(frozen=True)
class Head:
    """One head of the model: its labels, its columns in the weights, its temperature."""

    name: str
    labels: tuple[str, ...]
    start: int
    temperature: float

    @property
    def stop(self) -> int:
        """One past its last column."""
        return self.start + len(self.labels)


@dataclass(frozen=True)
class Scores:
    """The probabilities of every label of every head for one message."""

    by_head: Mapping[str, tuple[tuple[str, float], ...]]

    def ranked(self, head: str) -> tuple[tuple[str, float], ...]:
        """Labels of ``head`` with their probability, most likely first."""
        return self.by_head[head]

    def top(self, head: str) -> tuple[str, float]:
        """The most likely label of ``head`` and its probability."""
        return self.by_head[head][0]

    def probability(self, head: str, label: str) -> float:
        """The probability of one label."""
        return dict(self.by_head[head]).get(label, 0.0)


class LinearModel:
    """Trained weights and the lean path that applies them."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray, weights: np.ndarray,
                 bias: np.ndarray, heads: Sequence[Head], known_words: Iterable[str],
                 key: str) -> None:
        """Wrap arrays (from :func:`train` or a saved file)."""
        self.vocabulary = {name: index for index, name in enumerate(vocabulary)}
        self.idf = idf.astype(np.float64)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        self.bias = bias.astype(np.float64)
        self.heads = tuple(heads)
        self.known_words = frozenset(known_words)
        self.key = key
        # The lean path's word cache, by context class (see :meth:`scores`).
        self._word_ids: dict[str, dict[str, tuple[tuple[int, ...], tuple[int, ...]]]] = {}
        self._head_spans = tuple((head.name, head.labels, head.start, head.stop, head.temperature,
                                  range(len(head.labels))) for head in self.heads)

    def vector(self, names: Iterable[str]) -> tuple[list[int], np.ndarray]:
        """The feature ids of ``names`` and their normalised weights (unknown names dropped)."""
        lookup = self.vocabulary.get
        ids, values = self._weighted(Counter(index for index in map(lookup, names)
                                             if index is not None))
        return ids.tolist(), values

    def _weighted(self, counts: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of counted features and their weights: (1 + log count) x idf, L2-normalised.

        In the order of ``counts`` (the order the dot products sum in).
        """
        size = len(counts)
        ids = np.fromiter(counts, dtype=np.intp, count=size)
        if not size:
            return ids, np.zeros(0)
        values = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=size))
        values *= self.idf.take(ids)
        values /= math.sqrt(float(values @ values)) or 1.0
        return ids, values

    def scores(self, text: str, context: str | None) -> Scores:
        """Every head's probabilities for ``text`` in ``context`` (the run-time path).

        The same numbers as :func:`features`, :meth:`vector` and one softmax per head in
        numpy, bit for bit, at a fraction of the cost for one short message: a word's
        feature ids are looked up once and kept, and the heads' two dozen scores are
        turned into probabilities in plain Python (numpy costs a microsecond or two a
        call, and a softmax per head is a dozen calls). Only what must match numpy's
        rounding stays numpy: the vector, the dot products and ``exp``; the sums add up
        in numpy's own order (:func:`_numpy_sum`).
        """
        # Counter keeps the order first seen: the order vector() sums in.
        ids, values = self._weighted(Counter(self._feature_ids(clean(text), context)))
        if len(ids):
            # (take: a row pick without the fancy-indexing overhead; the same matrix.)
            raw = (self.bias + values @ self.weights.take(ids, axis=0)).tolist()
        else:
            raw = self.bias.tolist()
        shifted: list[float] = []
        for _, _, start, stop, temperature, _ in self._head_spans:
            logits = [value / temperature for value in raw[start:stop]]
            top = max(logits)
            shifted += [value - top for value in logits]
        exponentials = np.exp(shifted).tolist()
        out: dict[str, tuple[tuple[str, float], ...]] = {}
        offset = 0
        for name, labels, _, _, _, positions in self._head_spans:
            part = exponentials[offset:offset + len(labels)]
            offset += len(labels)
            total = _numpy_sum(part)
            probabilities = [value / total for value in part]
            # Most likely first; equal ones keep their order (as a stable argsort).
            order = sorted(positions, key=probabilities.__getitem__, reverse=True)
            out[name] = tuple([(labels[i], probabilities[i]) for i in order])
        return Scores(out)

    def _feature_ids(self, cleaned: str, context: str | None) -> list[int]:
        """The ids of the known features of :func:`features`, in its order (repeats kept).

        The order matters: the first time each id is seen is the order :meth:`vector`
        sums in, so the dot products round the same way.
        """
        lookup = self.vocabulary.get
        words = WORD.findall(cleaned)
        ctx = context_class(context)
        size = len(words)
        fixed = [f"ctx:{ctx}"]
        if context not in (None, "-", "fix", "summary"):
            fixed.append(f"q:{context}")
        fixed.append("len:" + ("0" if size == 0 else "1" if size == 1 else "2" if size == 2
                               else "3" if size <= 4 else "5" if size <= 8 else "9"))
        if "?" in cleaned:
            fixed.append("shape:?")
        if "!" in cleaned:
            fixed.append("shape:!")
        found = [index for index in map(lookup, fixed) if index is not None]
        cache = self._word_ids.get(ctx)
        if cache is None or len(cache) >= _WORD_CACHE:
            cache = self._word_ids[ctx] = {}  # words nobody repeats must not grow the process
        previous = "<s>"
        for word in words:
            entry = cache.get(word)
            if entry is None:
                entry = cache[word] = self._word_entry(word, ctx)
            own, grams = entry
            found += own
            index = lookup(f"b:{previous}_{word}")
            if index is not None:
                found.append(index)
            found += grams
            previous = word
        if words:
            for name in (f"b:{previous}_</s>", f"x:{ctx}:<{size <= 2}>"):
                index = lookup(name)
                if index is not None:
                    found.append(index)
        return found

    def _word_entry(self, word: str, ctx: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """A word's known feature ids in ``ctx``: its own and crossed ones, and its n-grams'.

        (The bigram between them depends on the word before: it is looked up each time.)
        """
        lookup = self.vocabulary.get
        own = tuple(index for index in (lookup("w:" + word), lookup(f"x:{ctx}:{word}"))
                    if index is not None)
        padded = f" {word} "
        grams: list[int] = []
        for n in (3, 4):
            if len(padded) < n:
                break
            for i in range(len(padded) - n + 1):
                index = lookup("c:" + padded[i:i + n])
                if index is not None:
                    grams.append(index)
        return own, tuple(grams)

    # ----- persistence (numpy arrays only; nothing is unpickled) -------------------------------
    def save(self, path: Path) -> None:
        """Write the model to ``path`` atomically."""
        vocabulary = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        arrays = {
            "vocabulary": np.array(vocabulary, dtype=np.str_),
            "idf": self.idf.astype(np.float32),
            "weights": self.weights.astype(np.float32),
            "bias": self.bias.astype(np.float32),
            "head_names": np.array([h.name for h in self.heads], dtype=np.str_),
            "head_labels": np.array(["\t".join(h.labels) for h in self.heads], dtype=np.str_),
            "head_starts": np.array([h.start for h in self.heads], dtype=np.int64),
            "head_temperatures": np.array([h.temperature for h in self.heads], dtype=np.float64),
            "known_words": np.array(sorted(self.known_words), dtype=np.str_),
            "key": np.array([self.key], dtype=np.str_),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".model-", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        """Read a model written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            heads = [Head(str(name), tuple(str(labels).split("\t")), int(start), float(temp))
                     for name, labels, start, temp in zip(
                         data["head_names"], data["head_labels"], data["head_starts"],
                         data["head_temperatures"], strict=True)]
            return cls([str(v) for v in data["vocabulary"]], data["idf"], data["weights"],
                       data["bias"], heads, (str(w) for w in data["known_words"]),
                       str(data["key"][0]))


def _numpy_sum(values: Sequence[float]) -> float:
    """The sum of ``values`` added in the order numpy's pairwise sum adds a short array.

    Under 8 values one after another; up to 128, eight running sums combined in pairs,
    then the rest (numpy's ``pairwise_sum``). Longer sequences never occur here.
    """
    size = len(values)
    if size < 8:
        total = 0.0
        for value in values:
            total += value
        return total
    if size > 128:
        return float(np.sum(np.array(values)))
    whole = size - size % 8
    r = list(values[:8])
    for i in range(8, whole, 8):
        r = [a + b for a, b in zip(r, values[i:i + 8], strict=True)]
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for value in values[whole:]:
        total += value
    return total


def model_key(rows_fingerprint: str) -> str:
    """What a saved model must match: the data, this module and the feature version."""
    digest = hashlib.sha256()
    digest.update(rows_fingerprint.encode())
    digest.update(FEATURE_VERSION.encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:32]


def _polarity_map() -> dict[str, dict[str, str]]:
    from dialogs.knowledge import default_knowledge

    return {qid: dict(q.polarity) for qid, q in default_knowledge().questions.items()}


def train(rows: Sequence[Row], key: str = "") -> LinearModel:
    """Fit the three heads on ``rows`` (the training split). Deterministic."""
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

    documents = [features(clean(row.text), row.context) for row in rows]
    document_frequency: dict[str, int] = {}
    for names in documents:
        for name in set(names):
            document_frequency[name] = document_frequency.get(name, 0) + 1
    # A feature seen in one utterance only is noise to a linear model (and most of the work).
    names_in_order = sorted(name for name, seen in document_frequency.items() if seen >= _MIN_DF)
    count = len(documents)
    idf = np.array([math.log((1 + count) / (1 + document_frequency[name])) + 1.0
                    for name in names_in_order])
    lean = LinearModel(names_in_order, idf, np.zeros((len(names_in_order), 0)), np.zeros(0), (),
                       (), key)
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for names in documents:
        ids, values = lean.vector(names)
        indices.extend(ids)
        data.extend(values.tolist())
        indptr.append(len(indices))
    matrix = csr_matrix((data, indices, indptr), shape=(count, len(names_in_order)))

    polarity = _polarity_map()
    targets: dict[str, list[str | None]] = {
        "intent": [row.intent for row in rows],
        "answer": [answer_label(row, polarity) for row in rows],
        "lang": [row.lang for row in rows],
    }
    label_sets: dict[str, tuple[str, ...]] = {"intent": INTENTS, "answer": ANSWERS, "lang": LANGS}
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    heads: list[Head] = []
    start = 0
    for name, labels in label_sets.items():
        chosen = [i for i, label in enumerate(targets[name]) if label is not None]
        y = np.array([labels.index(str(targets[name][i])) for i in chosen])
        x = matrix[chosen]
        coef, bias = fit_softmax(x, y, len(labels), _C[name])
        temperature = _temperature(x, y, len(labels), _C[name], (coef, bias))
        weights.append(coef)
        biases.append(bias)
        heads.append(Head(name, labels, start, temperature))
        start += len(labels)
    # Words seen twice are spelled right (a typo is seldom made twice): typo repair leaves them.
    seen: dict[str, int] = {}
    for row in rows:
        for word in set(WORD.findall(fold(row.text))):
            seen[word] = seen.get(word, 0) + 1
    known = {word for word, times in seen.items() if times >= 2 and len(word) > 2}
    return LinearModel(names_in_order, idf, np.hstack(weights), np.concatenate(biases), heads,
                       known, key)


def fit_softmax(x: Any, y: np.ndarray, classes: int, c: float,
                start: tuple[np.ndarray, np.ndarray] | None = None,
                iterations: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression: class-balanced log loss + ||W||² / 2C, by L-BFGS.

    Classes are weighted by their inverse frequency: answers are half the data, and
    "wait" or "skip" must not lose to them for being rare. A class absent from ``y``
    gets a bias so low that it is never chosen.

    Args:
        x: the rows (a scipy CSR matrix).
        y: each row's class index.
        classes: how many classes there are.
        c: the inverse regularisation strength (as scikit-learn's ``C``).
        start: weights to start from (a fold starts from the whole data's: fewer steps).
        iterations: the most L-BFGS steps to take.

    Returns:
        The weights (features x classes) and the biases (classes).
    """
    rows, width = x.shape
    counts = np.bincount(y, minlength=classes)
    present = counts > 0
    class_weight = np.where(present, rows / (present.sum() * np.maximum(counts, 1)), 0.0)
    row_weight = class_weight[y][:, None]
    onehot = np.zeros((rows, classes))
    onehot[np.arange(rows), y] = 1.0
    transposed = x.T.tocsr()
    size = width * classes

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[:size].reshape(width, classes)
        b = theta[size:]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=1, keepdims=True)
        loss = -float((row_weight * onehot * (z - np.log(total))).sum())
        loss += float((w * w).sum()) / (2 * c)
        residual = (e / total - onehot) * row_weight
        gradient_w = transposed @ residual + w / c
        return loss, np.concatenate([gradient_w.ravel(), residual.sum(axis=0)])

    theta = np.zeros(size + classes)
    if start is not None:
        theta = np.concatenate([start[0].ravel(), np.where(present, start[1], 0.0)])
    theta = _lbfgs(loss_and_gradient, theta, iterations)
    bias = theta[size:].copy()
    bias[~present] = -30.0
    return theta[:size].reshape(width, classes).copy(), bias


def _lbfgs(function: Any, theta: np.ndarray, iterations: int, memory: int = 5,
           tolerance: float = 1e-5) -> np.ndarray:
    """Minimise a smooth convex function with L-BFGS and a backtracking line search.

    (SciPy's L-BFGS-B, which scikit-learn's ``LogisticRegression`` uses, spends about
    30 ms a step on this problem's 150,000 weights here; these vector operations, 2.)
    """
    value, gradient = function(theta)
    history: list[tuple[np.ndarray, np.ndarray, float]] = []
    for _ in range(iterations):
        if float(np.abs(gradient).max()) < tolerance:
            break
        direction = gradient.copy()
        alphas = []
        for s, t, rho in reversed(history):
            alpha = rho * _dot(s, direction)
            direction -= alpha * t
            alphas.append(alpha)
        if history:
            s, t, _ = history[-1]
            direction *= _dot(s, t) / _dot(t, t)
        else:
            direction /= max(1.0, math.sqrt(_dot(gradient, gradient)))
        for (s, t, rho), alpha in zip(history, reversed(alphas), strict=True):
            beta = rho * _dot(t, direction)
            direction += (alpha - beta) * s
        direction = -direction
        slope = _dot(gradient, direction)
        if slope >= 0:  # not a descent direction: forget the curvature seen so far
            history.clear()
            direction = -gradient / max(1.0, math.sqrt(_dot(gradient, gradient)))
            slope = _dot(gradient, direction)
        step = 1.0
        while True:
            candidate = theta + step * direction
            new_value, new_gradient = function(candidate)
            if new_value <= value + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s = candidate - theta
        t = new_gradient - gradient
        curvature = _dot(s, t)
        if curvature > 1e-10:
            history.append((s, t, 1.0 / curvature))
            if len(history) > memory:
                history.pop(0)
        converged = abs(value - new_value) <= 1e-6 * max(1.0, abs(value))
        theta, value, gradient = candidate, new_value, new_gradient
        if converged:
            break
    return theta


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """A dot product without BLAS threads (which spin on a busy machine and cost 5x here)."""
    return float(np.einsum("i,i->", a, b))


def _temperature(x: Any, y: np.ndarray, classes: int, c: float,
                 whole: tuple[np.ndarray, np.ndarray]) -> float:
    """One temperature for a head, fitted on scores of rows each fold did not train on."""
    order = np.argsort(y, kind="stable")
    fold_of = np.empty(len(y), dtype=int)
    fold_of[order] = np.arange(len(y)) % _FOLDS  # stratified: each class spread over the folds
    logits = np.zeros((len(y), classes))
    for part in range(_FOLDS):
        test_rows = np.flatnonzero(fold_of == part)
        train_rows = np.flatnonzero(fold_of != part)
        coef, bias = fit_softmax(x[train_rows], y[train_rows], classes, c, start=whole,
                                 iterations=_FOLD_ITERATIONS)
        logits[test_rows] = x[test_rows] @ coef + bias

    def loss(t: float) -> float:
        scaled = logits / t
        scaled -= scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float(np.mean(log_norm - scaled[np.arange(len(y)), y]))

    # The loss is convex in 1/t: a golden-section search over a wide range is enough.
    low, high = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        a = high - ratio * (high - low)
        b = low + ratio * (high - low)
        if loss(math.exp(a)) < loss(math.exp(b)):
            high = b
        else:
            low = a
    return round(math.exp((low + high) / 2), 4)


def load_or_train(path: Path = MODEL_PATH, *, write: bool = True) -> LinearModel:
    """The model for the current data: the saved one if it is current, else a new one.

    Args:
        path: where the model is kept (not in git).
        write: save a newly trained model there (quietly skipped where not writable).
    """
    key = model_key(fingerprint("train"))
    if path.exists():
        try:
            model = LinearModel.load(path)
        except (OSError, ValueError, KeyError):
            model = None
        if model is not None and model.key == key:
            return model
    model = train(load("train"), key)
    if write:
        with contextlib.suppress(OSError):  # a read-only install trains in memory at each start
            model.save(path)
    return model


def build(path: Path = MODEL_PATH) -> tuple[float, float]:
    """Train from the data and save; return the seconds training took (wall clock, CPU)."""
    rows = load("train")
    key = model_key(fingerprint("train"))
    began, began_cpu = time.perf_counter(), time.process_time()
    model = train(rows, key)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    model.save(path)
    return elapsed, cpu
