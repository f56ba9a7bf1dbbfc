"""The held-out set of issue 20: real error texts the diagnosis was never tuned on.

``heldout.jsonl`` holds error texts pasted in public threads the tuning corpus
does not use, labelled from the text and the thread (``accepted``, and
``ambiguous`` when the text alone cannot tell). The protocol and the scoring
are in ``dialogs/diagnosis_eval.py`` and ``tests/diagnosis/README.md``. The
patterns must never be tuned on these texts: the guard tests below fail when a
held-out text, or a distinctive fragment of one, turns up in the patterns or in
the tuning corpus.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dialogs.diagnosis import Diagnoser
from dialogs.diagnosis_eval import HELDOUT_FILE, heldout_row, read_jsonl, recorded_scores, score
from tests.diagnosis.heldout_guard import (
    HERE,
    copied_into_patterns,
    copied_into_texts,
    read,
    shared_allowed,
)

HELDOUT = read_jsonl(HELDOUT_FILE)
TUNING = read(HERE / "corpus.jsonl")
KEYS = {"text", "accepted", "ambiguous", "source", "class", "note"}
# Pattern literals that a held-out text contains and the tuning corpus does not, each
# with where the diagnosis knows it from (never from a held-out text).
KNOWN_ELSEWHERE = {
    "errormessagesizeexceeded": "Graph's error code, named in issue 20 itself",
    "mapiexceptionlogonfailed": "Exchange's exception name, named in issue 20 itself",
    "authenticationinvalidcredentials": "domain.md section 2 names it as a password sign-in",
    # Literals of the patterns as they were before the held-out set was collected (57f55ce).
    "username and password not accepted": "pattern at 57f55ce",
    "does not support authentication": "pattern at 57f55ce",
    "greeting never received": "pattern at 57f55ce",
}


def test_rows_are_well_formed(diagnosis_knowledge: Any) -> None:
    cause_ids = {cause.id for cause in diagnosis_knowledge.causes}
    for row in HELDOUT:
        assert set(row) == KEYS, row
        assert row["text"].strip() and row["note"].strip() and row["class"].strip(), row
        assert row["accepted"] and set(row["accepted"]) <= cause_ids, row
        assert isinstance(row["ambiguous"], bool), row
        if row["ambiguous"]:
            assert len(row["accepted"]) >= 2, row
        assert re.match(r"https://", row["source"]), row


def test_the_set_is_large_enough_and_from_other_sources() -> None:
    assert len(HELDOUT) >= 80
    assert len({row["source"] for row in HELDOUT}) >= 80
    assert not {row["source"] for row in HELDOUT} & {row["source"] for row in TUNING}


def test_the_set_is_redacted() -> None:
    for row in HELDOUT:
        text = row["text"]
        emails = set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text))
        assert emails <= {"user@example.com"}, emails
        ips = set(re.findall(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])", text))
        assert ips <= {"192.0.2.1"}, ips
        guids = set(re.findall(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b", text))
        assert guids <= {"00000000-0000-0000-0000-000000000000"}, guids


def test_no_heldout_text_is_in_the_tuning_corpus() -> None:
    copied = copied_into_texts([row["text"] for row in HELDOUT],
                               [row["text"] for row in TUNING], shared_allowed())
    assert copied == [], "held-out text found in corpus.jsonl:\n" + "\n".join(copied)


def test_no_heldout_text_is_in_the_patterns(diagnosis_knowledge: Any) -> None:
    regexes = [p.regex for cause in diagnosis_knowledge.causes for p in cause.patterns]
    copied = copied_into_patterns([row["text"] for row in HELDOUT], regexes,
                                  [row["text"] for row in TUNING], KNOWN_ELSEWHERE)
    assert copied == [], "pattern literal known only from held-out texts:\n" + "\n".join(copied)


def test_the_guard_finds_a_copied_text_or_fragment() -> None:
    # The guard must be able to fail: copy one held-out text, then a fragment of
    # another, into the tuning corpus, and one into a pattern.
    texts = [row["text"] for row in HELDOUT]
    whole = next(t for t in texts if "NoPermissionsInAccessToken" not in t and len(t) > 120)
    fragment = next(t for t in texts if "Spamhaus" in t)[3:70]
    tuning = [row["text"] for row in TUNING]
    assert copied_into_texts(texts, [*tuning, whole], shared_allowed())
    assert copied_into_texts(texts, [*tuning, "see: " + fragment], shared_allowed())
    regex = "(?i)" + re.escape(fragment)
    assert copied_into_patterns(texts, [regex], tuning, KNOWN_ELSEWHERE)


# Issue 20 asks for 95 %; the fixes reached 88.1 % (89/101) without tuning on these
# texts (tests/diagnosis/README.md). This floor only catches a regression.
HELDOUT_FLOOR = 0.88


def test_heldout_score(diagnoser: Diagnoser, report: dict[str, Any]) -> None:
    result = score(diagnoser, map(heldout_row, HELDOUT))
    report["heldout"] = (result.right, result.total)
    before = recorded_scores()["held-out"]
    # The score before the issue-20 changes is on record, measured on this same set.
    assert before["total"] == len(HELDOUT) and result.right > before["right"]
    assert result.ratio >= HELDOUT_FLOOR, "\n".join(result.misses)


def test_bench_prints_both_scores_before_and_now(tmp_path: Path) -> None:
    from bench.run import Report, diagnosis_accuracy, table
    from tests.test_bench_smoke import tiny

    lines = diagnosis_accuracy()
    assert [line.split(":")[0] for line in lines] == ["held-out", "tuning corpus"]
    assert all(" before " in line and " now " in line for line in lines)
    assert "before 53.5 % (54/101)" in lines[0]
    report = Report(options=tiny(tmp_path), diagnoses_per_second=1.0, diagnosis_accuracy=lines)
    assert "- diagnosis accuracy, held-out: before 53.5 %" in table(report)
