"""The quality gates: ruff (lint), mypy (types) and import-linter (architecture contracts).

Each tool reads its configuration from ``pyproject.toml`` (``[tool.ruff]``,
``[tool.mypy]``, ``[tool.importlinter]``). This prints how many violations
each finds and where:

    .venv/bin/python -m tools.gates            # the summary; exit 0 whatever it finds
    .venv/bin/python -m tools.gates --strict   # exit 1 on any violation (what make test runs)
    .venv/bin/python -m tools.gates --verbose  # each tool's own report too
    .venv/bin/python -m tools.gates --root DIR # another tree, with its own pyproject.toml

``make gates`` runs the first form; ``make test`` runs ``--strict`` before the tests, so a
violation fails the build.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINTED: tuple[str, ...] = ("app.py", "bot", "dialogs", "checks", "tools", "tests", "bench")
_MYPY_ERROR = re.compile(r"^(?P<path>[^:\s]+):\d+(?::\d+)?: error: .*\[(?P<code>[\w-]+)\]$")
_BROKEN = re.compile(r"(\d+) broken")
_KEPT = re.compile(r"(\d+) kept")


@dataclass(slots=True)
class GateResult:
    """What one gate found.

    Attributes:
        gate: the tool's name.
        violations: how many.
        by_kind: violations per rule / error code / contract.
        by_place: violations per top-level folder.
        report: the tool's own output.
        failed_to_run: why the tool could not run, if it could not.
    """

    gate: str
    violations: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_place: Counter[str] = field(default_factory=Counter)
    report: str = ""
    failed_to_run: str = ""


def _run(command: Sequence[str], root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), cwd=root, capture_output=True, text=True,  # noqa: S603 - our own tools
                          check=False, timeout=600)


def _place(path: str, root: Path = ROOT) -> str:
    relative = Path(path)
    if relative.is_absolute():
        relative = relative.resolve().relative_to(root.resolve())
    return relative.parts[0] if relative.parts else path


def ruff(root: Path = ROOT) -> GateResult:
    """``ruff check`` over the product, the tools, the tests and the bench (those present)."""
    result = GateResult("ruff")
    linted = [name for name in LINTED if (root / name).exists()]
    done = _run([sys.executable, "-m", "ruff", "check", "--output-format", "json", *linted], root)
    try:
        found = json.loads(done.stdout)
    except ValueError:
        result.failed_to_run = (done.stderr or done.stdout).strip()[:500] or "no output"
        return result
    result.violations = len(found)
    for item in found:
        result.by_kind[str(item.get("code"))] += 1
        result.by_place[_place(str(item.get("filename", "")), root)] += 1
    result.report = _run([sys.executable, "-m", "ruff", "check", "--output-format", "concise",
                          *linted], root).stdout
    return result


def mypy(root: Path = ROOT) -> GateResult:
    """``mypy`` with the files and per-package strictness of ``[tool.mypy]``."""
    result = GateResult("mypy")
    done = _run([sys.executable, "-m", "mypy", "--no-error-summary", "--show-error-codes"], root)
    result.report = done.stdout + done.stderr
    if done.returncode not in (0, 1):
        result.failed_to_run = result.report.strip()[-500:] or f"exit status {done.returncode}"
        return result
    for line in done.stdout.splitlines():
        match = _MYPY_ERROR.match(line)
        if match:
            result.violations += 1
            result.by_kind[match["code"]] += 1
            result.by_place[_place(match["path"], root)] += 1
    return result


def import_contracts(root: Path = ROOT) -> GateResult:
    """``lint-imports``: each import chain that breaks a contract of ``[tool.importlinter]``.

    ``by_kind`` counts the chains per broken contract; a cycle counts the
    dependencies whose removal would break it.
    """
    result = GateResult("import-linter")
    done = _run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], root)
    result.report = done.stdout + done.stderr
    broken, kept = _BROKEN.search(result.report), _KEPT.search(result.report)
    if broken is None and kept is None:
        result.failed_to_run = result.report.strip()[-500:] or f"exit status {done.returncode}"
        return result
    lines = result.report.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Broken contracts"),
                 len(lines))
    contract = ""
    for index in range(start + 2, len(lines)):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and following.startswith("---") and set(following.strip()) == {"-"}:
            contract = line.strip()
        elif contract and re.match(r"^-\s+\S", line):
            result.by_kind[contract] += 1
            result.violations += 1
    if broken and not result.violations:  # a report this parser does not know: count contracts
        result.violations = int(broken.group(1))
    return result


def render(results: Sequence[GateResult]) -> str:
    """A short summary: the count per gate, then the commonest kinds and places."""
    lines = []
    for r in results:
        if r.failed_to_run:
            lines.append(f"{r.gate:<14} could not run: {r.failed_to_run}")
            continue
        lines.append(f"{r.gate:<14} {r.violations:>4} violation{'s' if r.violations != 1 else ''}")
        if r.by_place:
            lines.append("    by place: " + ", ".join(f"{p} {n}" for p, n in
                                                      r.by_place.most_common()))
        if r.by_kind:
            lines.append("    by kind:  " + ", ".join(f"{k} {n}" for k, n in
                                                      r.by_kind.most_common(12)))
    lines.append(f"total          {sum(r.violations for r in results):>4}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every gate and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit 1 on any violation")
    parser.add_argument("--verbose", action="store_true", help="print each tool's report")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the tree to check, with its pyproject.toml (default: this project)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    results = [ruff(root), mypy(root), import_contracts(root)]
    if args.verbose:
        for r in results:
            print(f"===== {r.gate}\n{r.report.rstrip()}\n")
    print(render(results))
    broken = any(r.violations or r.failed_to_run for r in results)
    return 1 if args.strict and broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
