"""Product lines per top-level part, and the edge's share (issue 18: ``bot/`` under 45 %).

The product is ``app.py``, ``bot/``, ``dialogs/`` and ``checks/``; a line is a
physical line of a ``.py`` file (what ``wc -l`` counts), so the figure is the
same whoever measures it. Data files (``knowledge.json``), tests, the bench and
the tools are not product code.

    python -m tools.lines            # the table
    python -m tools.lines --json     # the same figures for scripts
    python -m tools.lines --max-edge-share 45   # exit 1 when bot/ is 45 % or more
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS: tuple[str, ...] = ("app.py", "bot", "dialogs", "checks")
EDGE = "bot"


@dataclass(frozen=True, slots=True)
class PartLines:
    """The lines of one top-level part.

    Attributes:
        part: ``app.py`` or a package folder.
        files: how many ``.py`` files it has.
        lines: their physical lines.
        largest: ``(path, lines)`` of its longest file.
    """

    part: str
    files: int
    lines: int
    largest: tuple[str, int]


def _python_files(root: Path, part: str) -> list[Path]:
    path = root / part
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


def _count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def measure(root: Path = ROOT, parts: Sequence[str] = PARTS) -> list[PartLines]:
    """Count the lines of each part under ``root``."""
    measured = []
    for part in parts:
        counts = {str(p.relative_to(root)): _count(p) for p in _python_files(root, part)}
        largest = max(counts.items(), key=lambda item: item[1], default=("", 0))
        measured.append(PartLines(part, len(counts), sum(counts.values()), largest))
    return measured


def edge_share(measured: Sequence[PartLines], edge: str = EDGE) -> float:
    """The edge's lines as a percentage of all product lines."""
    total = sum(p.lines for p in measured)
    edge_lines = sum(p.lines for p in measured if p.part == edge)
    return 100.0 * edge_lines / total if total else 0.0


def render(measured: Sequence[PartLines]) -> str:
    """The figures as a small text table."""
    total = sum(p.lines for p in measured)
    rows = [f"{'part':<10}{'files':>7}{'lines':>9}{'share':>8}  largest file"]
    for p in measured:
        share = 100.0 * p.lines / total if total else 0.0
        rows.append(f"{p.part:<10}{p.files:>7}{p.lines:>9}{share:>7.1f}%  "
                    f"{p.largest[0]} ({p.largest[1]})")
    rows.append(f"{'total':<10}{sum(p.files for p in measured):>7}{total:>9}")
    rows.append(f"{EDGE}/ share of product lines: {edge_share(measured):.1f} %")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures; with ``--max-edge-share``, fail when the edge is that big or bigger."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--max-edge-share", type=float, default=None,
                        help="exit 1 when bot/'s share (percent) is this or more")
    args = parser.parse_args(argv)
    measured = measure()
    share = edge_share(measured)
    if args.json:
        print(json.dumps({"parts": {p.part: {"files": p.files, "lines": p.lines}
                                    for p in measured},
                          "total": sum(p.lines for p in measured),
                          "edge_share_percent": round(share, 1)}, indent=2))
    else:
        print(render(measured))
    if args.max_edge_share is not None and share >= args.max_edge_share:
        print(f"{EDGE}/ is {share:.1f} % of the product, not under {args.max_edge_share:g} %",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
