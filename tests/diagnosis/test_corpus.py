"""Accuracy on real pasted errors and on every canonical string of domain.md §2/§3.

``corpus.jsonl`` holds error texts people posted publicly (GitHub issues,
Q&A threads, vendor troubleshooting pages), copied with their log prefixes,
wrappers and escaping, personal data redacted; ``canonical.jsonl`` holds the
exact reply texts and Entra messages of ``../shared/domain.md`` §2 and §3.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import pytest

from dialogs.diagnosis import Diagnoser
from dialogs.diagnosis_eval import is_right, score, tuning_row
from tests.diagnosis.conftest import load_rows

REAL_MINIMUM = 0.95
CANONICAL_MINIMUM = 1.0
# Causes for which no distinctive public error text was found: a mailbox-level
# 5.7.139 is rarely posted (one example), and an unsupported mailbox type or
# "unknown" has no error text of its own.
FEW_PUBLIC_EXAMPLES = {"smtp_auth_disabled_mailbox", "unsupported_mailbox_type", "unknown"}

REAL = load_rows("corpus.jsonl")
CANONICAL = load_rows("canonical.jsonl")


def _accuracy(diagnoser: Diagnoser, rows: list[dict[str, Any]]) -> tuple[int, list[str]]:
    # The held-out protocol (dialogs.diagnosis_eval): a row with "ambiguous_between"
    # is right only when the diagnosis asks between (at least) those causes.
    result = score(diagnoser, map(tuning_row, rows))
    return result.right, list(result.misses)


def test_corpus_rows_are_well_formed(diagnosis_knowledge: Any) -> None:
    cause_ids = {cause.id for cause in diagnosis_knowledge.causes}
    for row in REAL + CANONICAL:
        assert {"text", "expected", "source", "kind"} <= set(row), row
        assert set(row) <= {"text", "expected", "source", "kind", "ambiguous_between"}, row
        assert row["expected"] in cause_ids, row
        assert row["text"].strip(), row
        between = row.get("ambiguous_between")
        if between is not None:
            # The thread's answer is one of the causes the text cannot tell apart
            # ("unknown" for a canonical string that has no thread).
            assert len(between) >= 2 and row["expected"] in {*between, "unknown"}, row
            assert set(between) <= cause_ids, row
    assert {row["kind"] for row in REAL} == {"real"}
    assert {row["kind"] for row in CANONICAL} == {"canonical"}
    assert all(re.match(r"https?://", row["source"]) for row in REAL)


def test_corpus_is_large_enough_and_covers_the_causes(diagnosis_knowledge: Any) -> None:
    assert len(REAL) >= 80
    counts = Counter(row["expected"] for row in REAL)
    thin = {
        cause.id: counts[cause.id] for cause in diagnosis_knowledge.causes
        if counts[cause.id] < 3 and cause.id not in FEW_PUBLIC_EXAMPLES
    }
    assert thin == {}


def test_corpus_is_redacted() -> None:
    for row in REAL:
        text = row["text"]
        emails = set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text))
        assert emails <= {"user@example.com"}, emails
        ips = set(re.findall(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])", text))
        assert ips <= {"192.0.2.1"}, ips
        guids = set(re.findall(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b", text))
        assert guids <= {"00000000-0000-0000-0000-000000000000"}, guids


def test_real_error_accuracy(diagnoser: Diagnoser, report: dict[str, Any]) -> None:
    right, misses = _accuracy(diagnoser, REAL)
    report["real"] = (right, len(REAL))
    assert right / len(REAL) >= REAL_MINIMUM, "\n".join(misses)


def test_canonical_accuracy(diagnoser: Diagnoser, report: dict[str, Any]) -> None:
    right, misses = _accuracy(diagnoser, CANONICAL)
    report["canonical"] = (right, len(CANONICAL))
    assert right / len(CANONICAL) >= CANONICAL_MINIMUM, "\n".join(misses)


@pytest.mark.parametrize("row", CANONICAL, ids=lambda row: row["text"][:40])
def test_each_canonical_string(diagnoser: Diagnoser, row: dict[str, Any]) -> None:
    diagnosis = diagnoser.diagnose(row["text"])
    assert is_right(diagnosis, tuning_row(row)), diagnosis
    assert diagnosis.candidates and all(c.evidence for c in diagnosis.candidates)


def test_speed_over_the_corpus(diagnoser: Diagnoser, report: dict[str, Any]) -> None:
    texts = [row["text"] for row in REAL + CANONICAL]
    for text in texts:
        diagnoser.diagnose(text)
    rounds = 10
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            diagnoser.diagnose(text)
    per_second = rounds * len(texts) / (time.perf_counter() - started)
    report["speed"] = per_second
    # The goal is 5,000/s on one core; the assertion leaves room for slow CI machines.
    assert per_second > 500
