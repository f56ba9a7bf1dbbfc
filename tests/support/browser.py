"""Skip or fail the tests that need Node.js, npm and Chromium.

Outside CI a machine without them skips those tests with the reason. In CI
(``CI=true``) a missing tool or a failed ``npm ci`` fails the test instead:
CI installs Chromium and the npm packages itself, so a skip there would hide
that the end-to-end test never ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.node import ToolMissing, ensure_node_modules, missing_tools

IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run in CI)", pytrace=False)
    pytest.skip(reason)


def require_browser_tooling(*node_folders: Path) -> None:
    """Skip (fail in CI) unless node, npm and Chromium exist and each folder's packages install.

    Args:
        node_folders: Folders whose locked npm packages the test needs.
    """
    problems = missing_tools()
    if problems:
        _unavailable("needs Node.js, npm and Chromium: " + "; ".join(problems))
    for folder in node_folders:
        try:
            ensure_node_modules(folder)
        except (ToolMissing, RuntimeError) as exc:
            _unavailable(f"cannot install the npm packages in {folder}: {exc}")
