"""``python app.py diagnose``: diagnose pasted error texts from the command line.

Usage::

    python app.py diagnose [--json] [TEXT ...]   # TEXT omitted: read stdin
    python app.py diagnose --jsonl               # one {"text": ...} per stdin line

``--jsonl`` answers every input line, in order, with one JSON object per
output line: ``{"cause", "confidence", "evidence", "alternatives", "ambiguous"}``,
with ``"unknown"`` when nothing fits or when the text is ambiguous and no
candidate leads; an ambiguous answer also lists ``"candidates"``. A line that
is not such an object gets ``{"error": ..., "line": n}`` in its place, so the
output stays aligned with the input and one bad line never stops the run.

The module is runnable on its own (``python -m dialogs.diagnosis_cli``) until
``app.py`` wires the ``diagnose`` subcommand to :func:`main`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from dialogs.diagnosis import Diagnoser, Diagnosis, diagnoser_for

# A JSONL line larger than this is refused rather than read into the
# diagnosis (which only looks at the first and last few thousand characters
# anyway); it keeps a runaway input from exhausting memory line by line.
MAX_LINE_CHARS = 2_000_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="app.py diagnose",
        description="Name the cause of a pasted SMTP / Entra / Graph error and its fix.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print the diagnosis as one JSON object")
    mode.add_argument(
        "--jsonl", action="store_true",
        help='read one {"text": ...} object per stdin line, write one result per line',
    )
    parser.add_argument("text", nargs="*", help="the error text (stdin when omitted)")
    return parser


def _load_knowledge() -> Any:
    from dialogs.knowledge import default_knowledge

    return default_knowledge()


def _cause(knowledge: Any, cause_id: str) -> Any:
    for cause in getattr(knowledge, "causes", ()):
        if getattr(cause, "id", None) == cause_id:
            return cause
    return None


def render_human(diagnosis: Diagnosis, knowledge: Any) -> str:
    """The readable answer: cause title, confidence, evidence, fix summary.

    Args:
        diagnosis: the result to show.
        knowledge: the knowledge base (titles, summaries, fix steps).

    Returns:
        Text for a terminal, ending with a newline.
    """
    best = diagnosis.best
    cause = _cause(knowledge, diagnosis.cause_id)
    title = getattr(cause, "title", "") or diagnosis.cause_id
    lines = [f"Cause:      {title} [{diagnosis.cause_id}]"]
    if diagnosis.is_ambiguous:
        lines.append("Ambiguous:  the text fits " + ", ".join(diagnosis.contenders))
    if best is None:
        lines.append("Confidence: 0% (no known error code or phrase found)")
    else:
        lines.append(f"Confidence: {best.confidence:.0%}")
        meaning = f"  ({best.label})" if best.label and best.label != best.evidence else ""
        lines.append(f"Evidence:   {best.evidence}{meaning}")
    if cause is not None:
        summary = getattr(cause, "summary", "")
        if summary:
            lines.append(f"Why:        {summary}")
        steps = getattr(getattr(cause, "fix", None), "steps", ()) or ()
        if steps:
            lines.append("Fix:")
            lines.extend(f"  {number}. {step}" for number, step in enumerate(steps, 1))
    if diagnosis.follow_up is not None:
        lines.append(f"Question:   {diagnosis.follow_up.question}")
        options = diagnosis.follow_up.options
        lines.extend(f"  - {label} -> {cause_id}" for label, cause_id in options)
    if diagnosis.alternatives:
        lines.append("Also possible: " + ", ".join(diagnosis.alternatives))
    return "\n".join(lines) + "\n"


def _json_line(diagnoser: Diagnoser, line: str, number: int) -> dict[str, Any]:
    if len(line) > MAX_LINE_CHARS:
        return {"error": f"line longer than {MAX_LINE_CHARS} characters", "line": number}
    try:
        item = json.loads(line)
    except ValueError as error:
        return {"error": f"not valid JSON: {error}", "line": number}
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return {"error": 'expected an object like {"text": "..."}', "line": number}
    try:
        return diagnoser.diagnose(item["text"]).as_dict()
    except Exception as error:  # noqa: BLE001 - one bad line must never end the run
        return {"error": f"diagnosis failed: {type(error).__name__}", "line": number}


def run_jsonl(diagnoser: Diagnoser, stdin: TextIO, stdout: TextIO) -> int:
    """Answer each ``{"text": ...}`` line of ``stdin`` with one JSON line, in order.

    Args:
        diagnoser: the compiled patterns.
        stdin: input lines.
        stdout: where the result lines go.

    Returns:
        0; per-line problems are reported in the output, not by the exit code.
    """
    for number, line in enumerate(stdin, 1):
        line = line.rstrip("\r\n")
        result = (
            {"error": "empty line", "line": number} if not line.strip()
            else _json_line(diagnoser, line, number)
        )
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None,
         stdout: TextIO | None = None) -> int:
    """Run ``app.py diagnose``.

    Args:
        argv: the arguments after ``diagnose`` (``sys.argv[1:]`` when None).
        stdin: where to read text (``sys.stdin`` when None).
        stdout: where to write (``sys.stdout`` when None).

    Returns:
        The exit code: 0 on success, 2 for bad arguments.
    """
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    try:
        args = _parser().parse_args(list(argv) if argv is not None else sys.argv[1:])
    except SystemExit as exit_:
        return int(exit_.code or 0)
    knowledge = _load_knowledge()
    diagnoser = diagnoser_for(knowledge)
    if args.jsonl:
        if args.text:
            stdout.write("--jsonl reads stdin; do not pass TEXT\n")
            return 2
        return run_jsonl(diagnoser, stdin, stdout)
    text = " ".join(args.text) if args.text else stdin.read()
    diagnosis = diagnoser.diagnose(text)
    if args.json:
        result = diagnosis.as_dict()
        result["label"] = diagnosis.best.label if diagnosis.best else ""
        if diagnosis.follow_up is not None:
            result["follow_up"] = {
                "question": diagnosis.follow_up.question,
                "options": [list(option) for option in diagnosis.follow_up.options],
            }
        stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    else:
        stdout.write(render_human(diagnosis, knowledge))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
