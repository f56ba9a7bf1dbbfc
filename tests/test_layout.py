"""The architecture rule: only bot/ (and app.py's wiring) may import the frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("botbuilder", "botframework", "msal", "aiohttp.web")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            if node.module == "aiohttp":
                names.extend(f"aiohttp.{alias.name}" for alias in node.names)
    return names


def _forbidden_in(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_dialogs_and_checks_stay_framework_free() -> None:
    assert _forbidden_in("dialogs") == []
    assert _forbidden_in("checks") == []


def test_the_rule_is_enforced_by_a_check_that_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from aiohttp import web\nimport msal\nfrom botbuilder.core import X\n")
    assert _imports(sample) == ["aiohttp", "aiohttp.web", "msal", "botbuilder.core"]


def test_every_module_has_a_docstring() -> None:
    missing = []
    for package in ("bot", "dialogs", "checks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))):
                missing.append(str(path.relative_to(ROOT)))
    if not ast.get_docstring(ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))):
        missing.append("app.py")
    assert missing == []


def test_the_required_layout_exists() -> None:
    for name in ("pyproject.toml", "app.py", "bot", "dialogs", "checks", "manifest", "tests",
                 "README.md", "Makefile", ".ci/run", ".env.example"):
        assert (ROOT / name).exists(), name
