"""Fixtures for the diagnosis tests, and the accuracy/speed line in the summary.

The corpus tests put their figures into ``config.stash``; the terminal
summary prints them so ``pytest -q -ra`` shows, for example::

    diagnosis accuracy: real 97.5% (78/80), canonical 100% (60/60), heldout 96.0% (97/101), ...
    diagnosis speed: 8,000 diagnoses/s over the corpus (one core)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dialogs.diagnosis import Diagnoser, diagnoser_for

HERE = Path(__file__).resolve().parent
REPORT_KEY = pytest.StashKey[dict[str, Any]]()


def load_rows(name: str) -> list[dict[str, Any]]:
    """Read one of the JSONL corpora next to this file."""
    with (HERE / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="session")
def diagnosis_knowledge() -> Any:
    """The packaged knowledge base, with the patterns the diagnosis uses."""
    from dialogs.knowledge import default_knowledge

    return default_knowledge()


@pytest.fixture(scope="session")
def diagnoser(diagnosis_knowledge: Any) -> Diagnoser:
    """The compiled diagnoser for the packaged knowledge."""
    return diagnoser_for(diagnosis_knowledge)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where the corpus tests leave their figures for the terminal summary."""
    return request.config.stash.setdefault(REPORT_KEY, {})


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the corpus accuracy and speed measured during this run."""
    figures = config.stash.get(REPORT_KEY, {})
    parts = []
    for kind in ("real", "canonical", "heldout", "heldout_b", "heldout_c"):
        if kind in figures:
            right, total = figures[kind]
            parts.append(f"{kind} {right / total:.1%} ({right}/{total})")
    if parts:
        terminalreporter.write_line("diagnosis accuracy: " + ", ".join(parts))
    if "speed" in figures:
        terminalreporter.write_line(
            f"diagnosis speed: {figures['speed']:,.0f} diagnoses/s over the corpus (one core)")
