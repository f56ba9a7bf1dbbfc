"""Score the diagnosis on labelled error texts: the held-out protocol of issue 20.

Two kinds of labelled sets exist (``tests/diagnosis/``):

* the **tuning corpus** (``corpus.jsonl``): one expected cause per text; the
  patterns of ``dialogs/knowledge.json`` were written against it, so its score
  is an in-sample figure;
* the **held-out sets**: real texts from sources the tuning corpus does not
  use, labelled from the text and the thread it was posted in. Patterns are
  never tuned on them. Set A (``heldout.jsonl``, issue 20's first round) has
  been *seen*: its misses chose the classes of the first round's fixes. Set B
  (``heldout_b.jsonl``, collected for the second round from sources neither
  the tuning corpus nor set A uses) was fresh in round 2 and has been seen
  since. Set C (``heldout_c.jsonl``, collected for the third round from
  sources used by none of the tuning corpus, set A or set B) is the *fresh* one:
  it was scored before any round-3 change; round 3 then read the classes of its
  misses (never its texts) to choose which documentation to learn from.

A held-out row carries ``accepted`` (the causes that count as right) and
``ambiguous`` (the text alone cannot tell between ``accepted``). Scoring:

* a row that is **not ambiguous** is right when the diagnosis commits (does not
  ask) to a cause in ``accepted``; ``"unknown"`` is a cause like any other, the
  answer for texts that name no cause;
* an **ambiguous** row is right only when the diagnosis asks (is ambiguous) and
  its candidates include every cause in ``accepted``. Committing to one of them
  is a guess and counts as wrong; so does asking on a row that is not ambiguous.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialogs.diagnosis import Diagnoser, Diagnosis

CORPUS_DIR = Path(__file__).resolve().parent.parent / "tests" / "diagnosis"
HELDOUT_FILE = CORPUS_DIR / "heldout.jsonl"
HELDOUT_B_FILE = CORPUS_DIR / "heldout_b.jsonl"
HELDOUT_C_FILE = CORPUS_DIR / "heldout_c.jsonl"
TUNING_FILE = CORPUS_DIR / "corpus.jsonl"
SCORES_FILE = CORPUS_DIR / "scores.json"


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One labelled error text.

    Attributes:
        text: the text as pasted (personal data redacted).
        accepted: the causes that count as a right answer.
        ambiguous: True when the text alone cannot tell ``accepted`` apart.
        source: where it was posted.
    """

    text: str
    accepted: frozenset[str]
    ambiguous: bool = False
    source: str = ""


@dataclass(frozen=True, slots=True)
class Score:
    """How many texts of a set the diagnosis got right, and which it missed."""

    right: int
    total: int
    misses: tuple[str, ...] = field(default=())

    @property
    def ratio(self) -> float:
        """Right answers as a share of all texts (0 for an empty set)."""
        return self.right / self.total if self.total else 0.0

    def describe(self) -> str:
        """``"97.0 % (98/101)"``."""
        return f"{self.ratio:.1%} ({self.right}/{self.total})".replace("%", " %")


def heldout_row(item: Mapping[str, Any]) -> LabelledText:
    """A held-out JSONL object as a :class:`LabelledText`."""
    return LabelledText(str(item["text"]), frozenset(item["accepted"]),
                        bool(item.get("ambiguous", False)), str(item.get("source", "")))


def tuning_row(item: Mapping[str, Any]) -> LabelledText:
    """A tuning-corpus JSONL object as a :class:`LabelledText`.

    A row names one ``expected`` cause (what its thread says fixed it); a row
    whose text alone cannot tell also lists ``ambiguous_between``, and is then
    scored like an ambiguous held-out row.
    """
    between = item.get("ambiguous_between")
    if between:
        return LabelledText(str(item["text"]), frozenset(map(str, between)), True,
                            str(item.get("source", "")))
    return LabelledText(str(item["text"]), frozenset({str(item["expected"])}), False,
                        str(item.get("source", "")))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON Lines file, blank lines skipped."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_heldout(path: Path = HELDOUT_FILE) -> list[LabelledText]:
    """The held-out set."""
    return [heldout_row(item) for item in read_jsonl(path)]


def load_tuning(path: Path = TUNING_FILE) -> list[LabelledText]:
    """The tuning corpus."""
    return [tuning_row(item) for item in read_jsonl(path)]


def is_right(diagnosis: Diagnosis, row: LabelledText) -> bool:
    """Whether ``diagnosis`` answers ``row`` the way its label asks (module docstring)."""
    if row.ambiguous:
        offered = {candidate.cause_id for candidate in diagnosis.candidates}
        return diagnosis.is_ambiguous and row.accepted <= offered
    return not diagnosis.is_ambiguous and diagnosis.cause_id in row.accepted


def describe_answer(diagnosis: Diagnosis) -> str:
    """``"asks: a, b"`` or the committed cause id, for miss reports."""
    if diagnosis.is_ambiguous:
        return "asks: " + ", ".join(c.cause_id for c in diagnosis.candidates)
    return diagnosis.cause_id


def score(diagnoser: Diagnoser, rows: Iterable[LabelledText]) -> Score:
    """Diagnose every row and count the right answers.

    Args:
        diagnoser: the compiled patterns to score.
        rows: labelled texts.

    Returns:
        The score, with one line per miss (label, answer, start of the text, source).
    """
    right = 0
    misses: list[str] = []
    total = 0
    for row in rows:
        total += 1
        diagnosis = diagnoser.diagnose(row.text)
        if is_right(diagnosis, row):
            right += 1
            continue
        label = ("ambiguous: " if row.ambiguous else "") + "|".join(sorted(row.accepted))
        misses.append(f"{label} -> {describe_answer(diagnosis)}: {row.text[:70]!r} ({row.source})")
    return Score(right, total, tuple(misses))


def recorded_scores(path: Path = SCORES_FILE) -> dict[str, Any]:
    """The scores recorded before the issue-20 changes (``scores.json``), or ``{}``."""
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# How each set is named in reports: sets A and B were fresh in rounds 1 and 2 and
# have been seen since; set C is the newest (see the module docstring).
SET_LABELS = {"held-out": "held-out A (seen)", "held-out B": "held-out B (seen)",
              "held-out C": "held-out C (fresh)"}


def default_sets() -> list[tuple[str, list[LabelledText]]]:
    """``(name, rows)`` of the held-out sets A, B and C and the tuning corpus.

    ``name`` is the set's key in ``scores.json``.
    """
    return [("held-out", load_heldout()), ("held-out B", load_heldout(HELDOUT_B_FILE)),
            ("held-out C", load_heldout(HELDOUT_C_FILE)), ("tuning corpus", load_tuning())]


def report_lines(diagnoser: Diagnoser, sets: Sequence[tuple[str, list[LabelledText]]] | None = None,
                 recorded: Mapping[str, Any] | None = None) -> list[str]:
    """One line per set: the recorded score before the changes and today's.

    Args:
        diagnoser: the diagnoser to score now.
        sets: ``(name, rows)`` pairs, ``name`` being the key in ``scores.json``;
            :func:`default_sets` when None.
        recorded: the recorded "before" figures; read from ``scores.json`` when None.

    Returns:
        Lines such as ``"held-out C (fresh): before 77.4 % (72/93), now 97.8 % (91/93)"``.
    """
    if sets is None:
        sets = default_sets()
    before = recorded if recorded is not None else recorded_scores()
    lines = []
    for name, rows in sets:
        now = score(diagnoser, rows)
        then = before.get(name, {})
        earlier = (f"before {then['right'] / then['total']:.1%} ({then['right']}/{then['total']}), "
                   .replace("%", " %") if then.get("total") else "")
        lines.append(f"{SET_LABELS.get(name, name)}: {earlier}now {now.describe()}")
    return lines
