"""``app.py diagnose``: human text, ``--json`` and ``--jsonl`` (through a real subprocess)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from dialogs.diagnosis_cli import main

ROOT = Path(__file__).resolve().parents[2]
TENANT = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
          "the Tenant.")


def _run(argv: list[str], stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, io.StringIO(stdin), out)
    return code, out.getvalue()


def test_human_output_names_the_cause_and_the_fix() -> None:
    code, out = _run([TENANT])
    assert code == 0
    assert "[smtp_auth_disabled_tenant]" in out
    assert "Confidence: 9" in out
    assert "Evidence:   SmtpClientAuthentication is disabled for the Tenant" in out
    assert "Fix:\n  1. " in out


def test_text_is_read_from_stdin_when_omitted() -> None:
    code, out = _run(["--json"], stdin="AADSTS53003: Access has been blocked by Conditional Access")
    result = json.loads(out)
    assert code == 0 and result["cause"] == "conditional_access"
    assert result["evidence"].startswith("AADSTS53003")


def test_json_output_carries_the_follow_up_question() -> None:
    _, out = _run(["--json", "535 5.7.3 Authentication unsuccessful"])
    result = json.loads(out)
    # Nothing in the text says password or OAuth: no leading cause, the two candidates
    # and the question that separates them.
    assert result["cause"] == "unknown" and result["ambiguous"] is True
    assert set(result["candidates"]) == {"oauth_token", "wrong_credentials"}
    assert {cause for _, cause in result["follow_up"]["options"]} == set(result["candidates"])
    _, out = _run(["--json", ("Error: Invalid login: 535 5.7.3 Authentication unsuccessful\n"
                              "code: 'EAUTH', response: '535 5.7.3 Authentication unsuccessful', "
                              "command: 'AUTH LOGIN'")])
    result = json.loads(out)
    assert result["cause"] == "wrong_credentials" and result["ambiguous"] is False
    assert "candidates" not in result and "follow_up" not in result


def test_a_bare_code_asks_for_the_whole_line() -> None:
    _, out = _run(["--json", "we get an error 535"])
    result = json.loads(out)
    assert result["cause"] == "unknown" and result["ambiguous"] is True
    assert {"wrong_credentials", "oauth_token"} <= set(result["candidates"])
    assert result["follow_up"]["options"] == []
    assert "whole error line" in result["follow_up"]["question"]
    _, out = _run(["we get an error 535"])
    assert "Ambiguous:" in out and "whole error line" in out


def test_unknown_text() -> None:
    _, out = _run(["--json", "hello"])
    assert json.loads(out)["cause"] == "unknown"
    _, out = _run(["hello"])
    assert "[unknown]" in out and "Confidence: 0%" in out


def test_bad_arguments_exit_2() -> None:
    assert _run(["--json", "--jsonl"])[0] == 2
    assert _run(["--jsonl", "text"])[0] == 2


def test_jsonl_subprocess_answers_every_line_in_order() -> None:
    lines = [
        json.dumps({"text": TENANT}),
        "this is not json",
        json.dumps({"text": "AADSTS50126: Error validating credentials"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"message": "no text key"}),
        "",
        json.dumps({"text": "nothing to see here"}),
        json.dumps({"text": "\u9519\u8bef: 504 5.7.4 Unrecognized authentication type"}),
        json.dumps({"text": "535 5.7.3 Authentication unsuccessful"}),
    ]
    completed = subprocess.run(
        [sys.executable, "-m", "dialogs.diagnosis_cli", "--jsonl"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=ROOT, timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(results) == len(lines)
    assert results[0]["cause"] == "smtp_auth_disabled_tenant"
    assert results[1]["line"] == 2 and "error" in results[1]
    assert results[2]["cause"] == "wrong_credentials"
    assert "error" in results[3] and "error" in results[4] and "error" in results[5]
    assert results[6] == {"cause": "unknown", "confidence": 0.0, "evidence": "", "alternatives": [],
                          "ambiguous": False}
    assert results[7]["cause"] == "auth_mechanism"
    for result in (results[0], results[2], results[7]):
        assert set(result) == {"cause", "confidence", "evidence", "alternatives", "ambiguous"}
        assert 0.0 <= result["confidence"] <= 1.0
    # Ambiguous without a leading candidate: the cause stays "unknown", the candidates are listed.
    assert results[8]["cause"] == "unknown" and results[8]["ambiguous"] is True
    assert set(results[8]["candidates"]) == {"wrong_credentials", "oauth_token"}
