"""The held-out sets of issue 20: real error texts the diagnosis was never tuned on.

``heldout.jsonl`` (set A, the first round), ``heldout_b.jsonl`` (set B, the
second round) and ``heldout_c.jsonl`` (set C, the third round) hold error texts
pasted in public threads that the tuning corpus does not use — set B's threads
are used by neither the tuning corpus nor set A, set C's by none of the three —
labelled from the text and the thread (``accepted``, and ``ambiguous`` when the
text alone cannot tell). The protocol and the scoring are in
``dialogs/diagnosis_eval.py`` and ``tests/diagnosis/README.md``. The patterns
must never be tuned on these texts: the guard tests below fail when a held-out
text, or a distinctive fragment of one, turns up in the patterns or in the
tuning corpus.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest

from dialogs.diagnosis import Diagnoser
from dialogs.diagnosis_eval import (
    HELDOUT_B_FILE,
    HELDOUT_C_FILE,
    HELDOUT_FILE,
    heldout_row,
    read_jsonl,
    recorded_scores,
    score,
)
from tests.diagnosis.heldout_guard import (
    HERE,
    copied_into_patterns,
    copied_into_texts,
    norm,
    read,
    shared_allowed,
)

HELDOUT = read_jsonl(HELDOUT_FILE)
HELDOUT_B = read_jsonl(HELDOUT_B_FILE)
HELDOUT_C = read_jsonl(HELDOUT_C_FILE)
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
# The same for set B: literals of the patterns as they were when set B was collected
# (b283495), so written before anyone had read a set-B text.
KNOWN_ELSEWHERE_B = {
    "authentication credentials invalid": "pattern at b283495 (RFC 4954's 535 5.7.8 wording)",
    "greeting never received": "pattern at 57f55ce",
    "could not connect to smtp host": "pattern at b283495",
    "handshake failed due to an unexpected packet format": "pattern at b283495",
    "maximum mailbox size": "pattern at b283495",
    # Added in round 2 from documentation, not from a set-B text:
    "errormissingemailaddress":
        "EWS ResponseCode reference (learn.microsoft.com): the account has no mailbox",
    'the following authenticators: "':
        "Symfony Mailer's EsmtpTransport message format (its source code)",
}
# The same for set C: literals of the patterns as they were when set C was collected
# (fea5b19), so written before anyone had read a set-C text.
KNOWN_ELSEWHERE_C = {
    "username and password not accepted": "pattern at 57f55ce (Gmail's 535 5.7.8 wording)",
    "authenticationinvalidcredentials": "domain.md section 2 names it as a password sign-in",
    "unsupported protocol": "pattern at fea5b19 (OpenSSL's protocol-version alert)",
    # Added in round 3 from library source code, not from a set-C text:
    "no authentication mechan": ("JavaMail SMTPTransport's AuthenticationFailedException text "
                                 "(source code; spelled 'mechansims' in JavaMail 1.4)"),
    "supported by both server and client": "the same JavaMail SMTPTransport message",
}
SETS = {"A": HELDOUT, "B": HELDOUT_B, "C": HELDOUT_C}
SHARED = {"A": HERE / "heldout_shared.json", "B": HERE / "heldout_b_shared.json",
          "C": HERE / "heldout_c_shared.json"}
ELSEWHERE = {"A": KNOWN_ELSEWHERE, "B": KNOWN_ELSEWHERE_B, "C": KNOWN_ELSEWHERE_C}


def _is_address(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:  # "504.5.7.4" is a reply code, not an address
        return False
    return True


@pytest.mark.parametrize("name", sorted(SETS))
def test_rows_are_well_formed(name: str, diagnosis_knowledge: Any) -> None:
    cause_ids = {cause.id for cause in diagnosis_knowledge.causes}
    for row in SETS[name]:
        assert set(row) == KEYS, row
        assert row["text"].strip() and row["note"].strip() and row["class"].strip(), row
        assert row["accepted"] and set(row["accepted"]) <= cause_ids, row
        assert isinstance(row["ambiguous"], bool), row
        if row["ambiguous"]:
            assert len(row["accepted"]) >= 2, row
        assert re.match(r"https://", row["source"]), row


def test_set_a_is_large_enough_and_from_other_sources() -> None:
    assert len(HELDOUT) >= 80
    assert len({row["source"] for row in HELDOUT}) >= 80
    assert not {row["source"] for row in HELDOUT} & {row["source"] for row in TUNING}


def test_set_b_is_large_enough_and_from_sources_neither_a_nor_the_corpus_uses() -> None:
    sources = {row["source"] for row in HELDOUT_B}
    assert len(HELDOUT_B) >= 80 and len(sources) == len(HELDOUT_B)
    assert not sources & {row["source"] for row in TUNING}
    assert not sources & {row["source"] for row in HELDOUT}
    # Nor the same paste posted again elsewhere: no B text holds a whole A text, or
    # the other way round (texts shorter than a line are Microsoft's bare messages).
    a_texts = [norm(row["text"]) for row in HELDOUT]
    for row in HELDOUT_B:
        text = norm(row["text"])
        assert not [a for a in a_texts if len(min(a, text, key=len)) >= 80
                    and (a in text or text in a)], row["source"]


def test_set_c_is_large_enough_and_from_sources_no_other_set_uses() -> None:
    sources = {row["source"] for row in HELDOUT_C}
    assert len(HELDOUT_C) >= 80 and len(sources) == len(HELDOUT_C)
    for other in (TUNING, HELDOUT, HELDOUT_B):
        assert not sources & {row["source"] for row in other}
    # Nor the same paste posted again elsewhere (a thread moved to another repository).
    others = [norm(row["text"]) for row in (*TUNING, *HELDOUT, *HELDOUT_B)]
    for row in HELDOUT_C:
        text = norm(row["text"])
        assert not [o for o in others if len(min(o, text, key=len)) >= 80
                    and (o in text or text in o)], row["source"]


@pytest.mark.parametrize("name", sorted(SETS))
def test_the_set_is_redacted(name: str) -> None:
    for row in SETS[name]:
        text = row["text"]
        emails = set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text))
        assert emails <= {"user@example.com"}, emails
        ips = {ip for ip in re.findall(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])", text)
               if _is_address(ip)}
        assert ips <= {"192.0.2.1", "127.0.0.1"}, ips
        guids = set(re.findall(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b", text))
        assert guids <= {"00000000-0000-0000-0000-000000000000"}, guids


@pytest.mark.parametrize("name", sorted(SETS))
def test_no_heldout_text_is_in_the_tuning_corpus(name: str) -> None:
    copied = copied_into_texts([row["text"] for row in SETS[name]],
                               [row["text"] for row in TUNING], shared_allowed(SHARED[name]))
    assert copied == [], f"set {name} text found in corpus.jsonl:\n" + "\n".join(copied)


@pytest.mark.parametrize("name", sorted(SETS))
def test_no_heldout_text_is_in_the_patterns(name: str, diagnosis_knowledge: Any) -> None:
    regexes = [p.regex for cause in diagnosis_knowledge.causes for p in cause.patterns]
    copied = copied_into_patterns([row["text"] for row in SETS[name]], regexes,
                                  [row["text"] for row in TUNING], ELSEWHERE[name])
    assert copied == [], (f"pattern literal known only from set {name} texts:\n"
                          + "\n".join(copied))


@pytest.mark.parametrize(("name", "whole_marker", "fragment_marker"), [
    ("A", "NoPermissionsInAccessToken", "forcibly closed"),
    ("B", "Lifetime validation failed", "MailboxConcurrency"),
    ("C", "Invalid audience", "WASCL UserAction"),
])
def test_the_guard_finds_a_copied_text_or_fragment(name: str, whole_marker: str,
                                                   fragment_marker: str) -> None:
    # The guard must be able to fail: copy one held-out text, then a fragment of
    # another, into the tuning corpus, and one into a pattern.
    texts = [row["text"] for row in SETS[name]]
    allowed = shared_allowed(SHARED[name])
    whole = next(t for t in texts if whole_marker in t)
    fragment = next(t for t in texts if fragment_marker in t)[3:70]
    tuning = [row["text"] for row in TUNING]
    assert copied_into_texts(texts, [*tuning, whole], allowed)
    assert copied_into_texts(texts, [*tuning, "see: " + fragment], allowed)
    regex = "(?i)" + re.escape(fragment)
    assert copied_into_patterns(texts, [regex], tuning, ELSEWHERE[name])


# Issue 20 asks for 95 %. These floors are the scores measured at the end of round 3
# (scores.json "after", tests/diagnosis/README.md), rounded down to the percent; they
# only catch a regression: A 92.1 % (93/101, seen), B 87.8 % (86/98, seen), C 97.8 %
# (91/93; 77.4 %, 72/93, before round 3).
HELDOUT_FLOOR = 0.92
HELDOUT_B_FLOOR = 0.87
HELDOUT_C_FLOOR = 0.97
REPORT_KEYS = {"A": "heldout", "B": "heldout_b", "C": "heldout_c"}


@pytest.mark.parametrize(("name", "key", "floor"), [
    ("A", "held-out", HELDOUT_FLOOR),
    ("B", "held-out B", HELDOUT_B_FLOOR),
    ("C", "held-out C", HELDOUT_C_FLOOR),
])
def test_heldout_score(name: str, key: str, floor: float, diagnoser: Diagnoser,
                       report: dict[str, Any]) -> None:
    rows = SETS[name]
    result = score(diagnoser, map(heldout_row, rows))
    report[REPORT_KEYS[name]] = (result.right, result.total)
    before = recorded_scores()[key]
    # The score before the changes is on record, measured on this same set.
    assert before["total"] == len(rows) and result.right >= before["right"]
    assert result.ratio >= floor, "\n".join(result.misses)
    after = recorded_scores()["after"].get(key)
    if after is not None:
        assert after["total"] == len(rows) and floor <= after["right"] / after["total"]


def test_bench_prints_every_score_before_and_now(tmp_path: Path) -> None:
    from bench.run import Report, diagnosis_accuracy, table
    from tests.test_bench_smoke import tiny

    lines = diagnosis_accuracy()
    assert [line.split(":")[0] for line in lines] == [
        "held-out A (seen)", "held-out B (seen)", "held-out C (fresh)", "tuning corpus"]
    assert all(" before " in line and " now " in line for line in lines)
    assert "before 53.5 % (54/101)" in lines[0]
    assert "before 67.3 % (66/98)" in lines[1]
    assert "before 77.4 % (72/93)" in lines[2]
    report = Report(options=tiny(tmp_path), diagnoses_per_second=1.0, diagnosis_accuracy=lines)
    assert "- diagnosis accuracy, held-out C (fresh): before 77.4 %" in table(report)
