"""Keep the held-out set held out: find its texts in the tuning corpus or the patterns.

A held-out text shares some words with the tuning corpus by nature: Microsoft's
own replies, the stack frames of the same mail library, a .NET wrapper sentence.
Those shared fragments were listed, with the reason, when the held-out set was
collected (``heldout_shared.json``). Anything else of at least :data:`WINDOW`
characters that a held-out text has in common with the tuning corpus, and any
long literal of a pattern that only a held-out text contains, means a held-out
text (or a distinctive part of it) was copied where the diagnosis is tuned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED_FILE = HERE / "heldout_shared.json"
WINDOW = 40
# A pattern literal this long is distinctive enough to have come from somewhere.
LITERAL = 20
_SPACE = re.compile(r"\s+")


def norm(text: str) -> str:
    """Lower case, one space for any run of white space."""
    return _SPACE.sub(" ", text.lower()).strip()


def windows(text: str, size: int = WINDOW) -> Iterator[str]:
    """Every ``size``-character slice of ``text`` (already normalised)."""
    return (text[i:i + size] for i in range(max(0, len(text) - size + 1)))


def background_texts() -> list[str]:
    """Microsoft's canonical strings (canonical.jsonl, from domain.md), free to be anywhere."""
    return [norm(row["text"]) for row in read(HERE / "canonical.jsonl")]


def read(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON Lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def shared_allowed(path: Path = SHARED_FILE) -> list[str]:
    """The fragments held-out and tuning texts were found to share at collection time."""
    with path.open(encoding="utf-8") as handle:
        return [norm(item["fragment"]) for item in json.load(handle)]


def shared_fragments(heldout: str, targets: set[str], background: Iterable[str]) -> list[str]:
    """The maximal parts of ``heldout`` whose every window is in ``targets`` but not background.

    Args:
        heldout: one held-out text, normalised.
        targets: the windows of the texts it must not be copied into.
        background: normalised texts whose content may appear anywhere.

    Returns:
        The shared fragments, in text order.
    """
    blob = "\n".join(background)
    fragments: list[str] = []
    start = end = -1
    for i, window in enumerate(windows(heldout)):
        if window in targets and window not in blob:
            if i <= end:
                end = i + WINDOW
                continue
            if start >= 0:
                fragments.append(heldout[start:end])
            start, end = i, i + WINDOW
    if start >= 0:
        fragments.append(heldout[start:end])
    return fragments


def copied_into_texts(heldout: Iterable[str], targets: Iterable[str],
                      allowed: Iterable[str]) -> list[str]:
    """Shared fragments of held-out texts with ``targets`` that the allow-list does not cover."""
    target_windows = {w for text in targets for w in windows(norm(text))}
    background = background_texts()
    allowed = list(allowed)
    found = []
    for text in heldout:
        for fragment in shared_fragments(norm(text), target_windows, background):
            fragment = fragment.strip()
            if not any(fragment in known for known in allowed):
                found.append(fragment)
    return found


def literal_runs(regex: str) -> list[str]:
    """The literal character runs of a regex at every nesting level, lower case."""
    from re import _constants as constants  # type: ignore[attr-defined]
    from re import _parser as parser  # type: ignore[attr-defined]

    runs: list[str] = []

    def walk(items: Any) -> None:
        run: list[str] = []
        for op, arg in items:
            if op is constants.LITERAL:
                run.append(chr(arg))
                continue
            runs.append("".join(run))
            run = []
            if op is constants.SUBPATTERN:
                walk(arg[-1])
            elif op is constants.BRANCH:
                for branch in arg[1]:
                    walk(branch)
            elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
                walk(arg[2])
            elif op in (constants.ASSERT, constants.ASSERT_NOT):
                walk(arg[1])
        runs.append("".join(run))

    walk(parser.parse(regex))
    return [norm(run) for run in runs if run.strip()]


def copied_into_patterns(heldout: Iterable[str], regexes: Iterable[str],
                         sources: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """Long pattern literals found in a held-out text but in none of the tuning ``sources``."""
    heldout_blob = "\n".join(norm(text) for text in heldout)
    source_blob = "\n".join([*map(norm, sources), *background_texts()])
    allowed = set(allowed)
    found = []
    for regex in regexes:
        for run in literal_runs(regex):
            if (len(run) >= LITERAL and run in heldout_blob and run not in source_blob
                    and run not in allowed):
                found.append(f"{run!r} in {regex!r}")
    return found
