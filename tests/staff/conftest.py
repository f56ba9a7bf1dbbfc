"""Fixtures for the staff tools, and the search figures in the terminal summary.

The relevance and speed tests leave their figures in ``config.stash``; the
summary prints them, so ``pytest -q -ra`` shows for example::

    staff search recall@3: 98.3% (59/60 queries)
    staff search speed: 3,700 queries/s (one core)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings

STAFF_TENANT = "11111111-2222-3333-4444-555555555555"
CUSTOMER_TENANT = "8d6a7f2c-1b3e-4c5d-9e8f-0a1b2c3d4e5f"
REPORT_KEY = pytest.StashKey[dict[str, Any]]()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Local-mode settings whose staff are the users of ``STAFF_TENANT``."""
    return Settings(storage_url=f"sqlite:///{tmp_path}/bot.db", staff_tenant_ids=(STAFF_TENANT,))


@pytest.fixture
def report(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where the search tests leave their figures for the terminal summary."""
    return request.config.stash.setdefault(REPORT_KEY, {})


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the search recall@3 and speed measured during this run."""
    figures = config.stash.get(REPORT_KEY, {})
    if "recall" in figures:
        hits, total = figures["recall"]
        terminalreporter.write_line(
            f"staff search recall@3: {hits / total:.1%} ({hits}/{total} queries)")
    if "speed" in figures:
        terminalreporter.write_line(
            f"staff search speed: {figures['speed']:,.0f} queries/s (one core)")
