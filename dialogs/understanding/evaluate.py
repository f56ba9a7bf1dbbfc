"""``make nlu-eval``: how well the understanding layer reads the held-out split.

Prints, per language: intent accuracy, accuracy per intent and per fact, the
language detection, the worst confusions and the **stored-fact precision** — of
the facts the bot would store (an answer or facts, above the confidence bar), the
share whose value is the labeled one. A fact stored that the label does not have
(Latvian "no" read as "No") counts as wrong.

``--cv 5`` scores the training split by cross-validation instead (the classifier
retrained on each fold): that is what to tune on. The held-out split is only
scored, never tuned on; ``--split fresh`` scores the fresh split, written late
and scored once, which is never trained or tuned on either (data/README.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from dialogs.understanding.dataset import LANGUAGES, Row, load
from dialogs.understanding.reader import Reading, Understanding


@dataclass
class Report:
    """Counts behind every figure ``make nlu-eval`` prints."""

    rows: int = 0
    intent: Counter[str] = field(default_factory=Counter)  # lang -> right
    turns: Counter[str] = field(default_factory=Counter)  # lang -> rows
    per_intent: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    per_fact: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    stored: Counter[str] = field(default_factory=Counter)
    stored_wrong: Counter[str] = field(default_factory=Counter)
    confirmed: Counter[str] = field(default_factory=Counter)
    lang_right: Counter[str] = field(default_factory=Counter)
    lang_said: Counter[str] = field(default_factory=Counter)
    kind: Counter[str] = field(default_factory=Counter)
    topic: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    wrong_facts: list[tuple[Row, str, str, str]] = field(default_factory=list)
    misses: list[tuple[Row, Reading]] = field(default_factory=list)

    def accuracy(self, lang: str) -> float:
        """Intent accuracy of one language."""
        return self.intent[lang] / self.turns[lang] if self.turns[lang] else 1.0

    def precision(self, lang: str) -> float:
        """Stored-fact precision of one language (1.0 when nothing was stored)."""
        return 1 - self.stored_wrong[lang] / self.stored[lang] if self.stored[lang] else 1.0


def score(rows: Sequence[Row], understanding: Understanding,
          report: Report | None = None) -> Report:
    """Read every row and count what was right."""
    report = report or Report()
    for row in rows:
        reading = understanding.read(row.text, row.context)
        lang = row.lang
        report.rows += 1
        report.turns[lang] += 1
        right = reading.intent == row.intent or _same_move(row.intent, reading.intent)
        report.intent[lang] += right
        report.per_intent[row.intent]["n"] += 1
        report.per_intent[row.intent]["right"] += right
        if not right:
            report.confusions[(row.intent, reading.intent)] += 1
            report.misses.append((row, reading))
        if row.intent == "question" and reading.intent == "question":
            if row.kind:
                report.kind["n"] += 1
                report.kind["right"] += reading.kind == row.kind
            if row.topic:
                report.topic["n"] += 1
                report.topic["right"] += reading.topic == row.topic
        if reading.lang is not None:
            report.lang_said[lang] += 1
            report.lang_right[lang] += reading.lang == lang
        expected = row.stated
        read = {fact.name: fact.value for fact in reading.facts} if reading.intent in {
            "answer", "facts"} else {}
        for name, value in expected.items():
            report.per_fact[name]["n"] += 1
            report.per_fact[name]["right"] += read.get(name) == value
        for fact in reading.stored:
            report.stored[lang] += 1
            if expected.get(fact.name) != fact.value:
                report.stored_wrong[lang] += 1
                report.wrong_facts.append((row, fact.name, fact.value, fact.words))
        if reading.to_confirm is not None:
            report.confirmed[lang] += 1
    return report


def _same_move(label: str, got: str) -> bool:
    """A greeting and a setup request both start the questions; "continue" starts them too."""
    return {label, got} <= {"start", "greeting", "continue"}


def cross_validate(folds: int) -> Report:
    """Score the training split, the classifier retrained without each fold."""
    from dialogs.understanding.model import train

    rows = load("train")
    report = Report()
    for fold in range(folds):
        held = [row for i, row in enumerate(rows) if i % folds == fold]
        kept = [row for i, row in enumerate(rows) if i % folds != fold]
        score(held, Understanding(train(kept)), report)
    return report


def render(report: Report, title: str, *, show: int = 0) -> str:
    """The report as text."""
    lines = [title, ""]
    lines.append(f"{'':10} {'turns':>6} {'intent':>8} {'stored':>7} {'precision':>10} "
                 f"{'confirm':>8} {'lang':>8}")
    for lang in LANGUAGES:
        if not report.turns[lang]:
            continue
        said = report.lang_said[lang]
        lines.append(
            f"{lang:10} {report.turns[lang]:6d} {report.accuracy(lang):8.1%} "
            f"{report.stored[lang]:7d} {report.precision(lang):10.1%} {report.confirmed[lang]:8d} "
            f"{(report.lang_right[lang] / said if said else 1):8.1%}")
    lines.append("")
    lines.append("Intent accuracy (recall per labeled intent):")
    for intent, counts in sorted(report.per_intent.items(), key=lambda kv: kv[1]["right"] /
                                 kv[1]["n"]):
        lines.append(f"  {intent:12} {counts['right']:4d}/{counts['n']:<4d} "
                     f"{counts['right'] / counts['n']:7.1%}")
    if report.kind["n"]:
        lines.append(f"  question kind  {report.kind['right']}/{report.kind['n']} "
                     f"{report.kind['right'] / report.kind['n']:.1%}; topic "
                     f"{report.topic['right']}/{report.topic['n']} "
                     f"{report.topic['right'] / max(1, report.topic['n']):.1%}")
    lines.append("")
    lines.append("Fact accuracy (labeled facts read with the labeled value):")
    for name, counts in sorted(report.per_fact.items()):
        lines.append(f"  {name:18} {counts['right']:4d}/{counts['n']:<4d} "
                     f"{counts['right'] / counts['n']:7.1%}")
    lines.append("")
    lines.append("Worst confusions (labeled -> read):")
    for (label, got), count in report.confusions.most_common(10):
        lines.append(f"  {label:12} -> {got:12} {count}")
    if report.wrong_facts:
        lines.append("")
        lines.append("Wrong stored facts:")
        for row, name, value, words in report.wrong_facts[: max(show, 10)]:
            lines.append(f"  {row.source} [{row.context}] {row.text!r}: {name}={value} ({words!r})")
    if show:
        lines.append("")
        lines.append("Misread intents:")
        for row, reading in report.misses[:show]:
            facts = [(f.name, f.value, f.confidence) for f in reading.facts]
            lines.append(f"  {row.source} [{row.context}] {row.text!r}: {row.intent} -> "
                         f"{reading.intent} {facts}")
    return "\n".join(lines)


def speed(understanding: Understanding, rows: Sequence[Row], repeat: int = 5) -> dict[str, float]:
    """CPU time one reading takes (µs): median and 90th percentile, first read and repeated.

    Measured with the thread's CPU clock, one message at a time, as a turn reads one.
    """
    first: list[float] = []
    again: list[float] = []
    for row in rows:
        began = time.thread_time_ns()
        understanding.read(row.text, row.context)
        first.append((time.thread_time_ns() - began) / 1000)
    for _ in range(repeat):
        for row in rows:
            began = time.thread_time_ns()
            understanding.read(row.text, row.context)
            again.append((time.thread_time_ns() - began) / 1000)

    def percentile(values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    return {"first_median": percentile(first, 0.5), "first_p90": percentile(first, 0.9),
            "median": percentile(again, 0.5), "p90": percentile(again, 0.9)}


def main(argv: list[str] | None = None) -> int:
    """Command line entry: ``python -m dialogs.understanding.evaluate``."""
    parser = argparse.ArgumentParser(description="Score the understanding layer.")
    parser.add_argument("--cv", type=int, default=0, help="cross-validate the training split")
    parser.add_argument("--split", default="heldout", choices=("heldout", "fresh"),
                        help="the evaluation split to score (never trained or tuned on)")
    parser.add_argument("--show", type=int, default=0, help="print this many misread rows")
    parser.add_argument("--speed", action="store_true", help="also measure the CPU per reading")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.speed:
        understanding = Understanding()
        rows = load("heldout") + load("train")
        figures = speed(understanding, rows)
        print(f"Reading one message, CPU per message over {len(rows)} utterances: "
              f"median {figures['median']:.0f} µs, 90th percentile {figures['p90']:.0f} µs "
              f"(first reading of each: median {figures['first_median']:.0f} µs, "
              f"90th percentile {figures['first_p90']:.0f} µs)\n")
    if args.cv:
        report = cross_validate(args.cv)
        title = f"Training split, {args.cv}-fold cross-validation ({report.rows} utterances)"
    else:
        report = score(load(args.split), Understanding())
        name = "Held-out" if args.split == "heldout" else "Fresh"
        title = f"{name} split ({report.rows} utterances, never trained or tuned on)"
    print(render(report, title, show=args.show))
    print(f"\n({time.perf_counter() - began:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
