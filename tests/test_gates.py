"""tools/gates.py counts what ruff, mypy and import-linter report (canned reports, no tools run)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tools import gates

IMPORT_LINTER_REPORT = """\
Contracts
---------

The domain does not import the checks BROKEN
No import cycles between the modules of a package BROKEN
Features do not import each other KEPT

Contracts: 1 kept, 2 broken.


----------------
Broken contracts
----------------

The domain does not import the checks
-------------------------------------

dialogs is not allowed to import checks:

-   dialogs.check_cards -> checks (l.15)

-   dialogs.live -> checks (l.16)
    checks -> checks.runner (l.30)


No import cycles between the modules of a package
-------------------------------------------------

No cycles are allowed in bot.
It could be made acyclic by removing 1 dependencies:

- .handoff -> .features (1 import)
"""

MYPY_REPORT = """\
bot/adapter.py:12: error: Unused "type: ignore" comment  [unused-ignore]
dialogs/engine.py:40:5: error: Argument 2 has incompatible type "str | None"  [arg-type]
dialogs/engine.py:41: note: see the docs
app.py:28: error: Unused "type: ignore" comment  [unused-ignore]
"""


def canned(stdout: str, returncode: int = 1) -> object:
    def run(command: Sequence[str], root: Path = gates.ROOT) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(command), returncode, stdout, "")
    return run


def test_import_linter_chains_are_counted_per_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gates, "_run", canned(IMPORT_LINTER_REPORT))
    result = gates.import_contracts()
    assert result.violations == 3
    assert dict(result.by_kind) == {"The domain does not import the checks": 2,
                                    "No import cycles between the modules of a package": 1}


def test_mypy_errors_are_counted_by_code_and_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gates, "_run", canned(MYPY_REPORT))
    result = gates.mypy()
    assert result.violations == 3
    assert dict(result.by_kind) == {"unused-ignore": 2, "arg-type": 1}
    assert dict(result.by_place) == {"bot": 1, "dialogs": 1, "app.py": 1}


def test_a_tool_that_cannot_run_is_not_a_clean_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gates, "_run", canned("", returncode=2))
    assert gates.mypy().failed_to_run
    assert gates.import_contracts().failed_to_run
    assert gates.ruff().failed_to_run
    assert "could not run" in gates.render([gates.mypy()])


def test_strict_fails_on_a_violation_and_the_default_does_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = gates.GateResult("mypy", violations=1)
    for name in ("ruff", "mypy", "import_contracts"):
        monkeypatch.setattr(gates, name, lambda root, found=found: found)
    assert gates.main([]) == 0
    assert gates.main(["--strict"]) == 1
    assert "mypy" in capsys.readouterr().out


# ----- the real tools, on a tree of our own with this project's pyproject.toml -------------

EDGE_MODULES = ("handoff", "live_checks", "staff", "handler", "features")  # named by contracts


def small_tree(root: Path) -> Path:
    """A tree the gates pass: the three packages (and the modules the contracts name), app.py."""
    root.mkdir()
    shutil.copy(gates.ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "app.py").write_text('"""The composition root."""\n', encoding="utf-8")
    for package in ("bot", "dialogs", "checks"):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text(f'"""The {package} package."""\n',
                                                    encoding="utf-8")
    for name in EDGE_MODULES:
        (root / "bot" / f"{name}.py").write_text(f'"""bot.{name}."""\n', encoding="utf-8")
    return root


def test_the_gates_pass_a_clean_tree_and_fail_one_violation_of_each_kind(tmp_path: Path) -> None:
    clean = small_tree(tmp_path / "clean")
    assert gates.main(["--strict", "--root", str(clean)]) == 0, "a clean tree must pass"

    broken = small_tree(tmp_path / "broken")
    # Lint (ruff): an unused import.
    (broken / "bot" / "unused.py").write_text('"""Unused."""\n\nimport os\n', encoding="utf-8")
    # Types (mypy): the same unannotated function is an error under --strict (dialogs/, checks/) and
    # fine by mypy's defaults (bot/).
    untyped = '"""Untyped."""\n\n\ndef double(x):\n    return x * 2\n'
    for package in ("bot", "dialogs", "checks"):
        (broken / package / "untyped.py").write_text(untyped, encoding="utf-8")
    # Import contracts (import-linter): the domain importing the edge.
    (broken / "dialogs" / "edge.py").write_text('"""Edge."""\n\nimport bot\n\nEDGE = bot\n',
                                                encoding="utf-8")

    ruff, mypy, contracts = (gates.ruff(broken), gates.mypy(broken),
                             gates.import_contracts(broken))
    assert not (ruff.failed_to_run or mypy.failed_to_run or contracts.failed_to_run)
    assert dict(ruff.by_kind) == {"F401": 1} and dict(ruff.by_place) == {"bot": 1}
    assert dict(mypy.by_kind) == {"no-untyped-def": 2}
    assert dict(mypy.by_place) == {"dialogs": 1, "checks": 1}  # strict there, not in bot/
    assert contracts.violations >= 1
    assert any("dialogs" in contract for contract in contracts.by_kind), contracts.by_kind
    assert gates.main(["--strict", "--root", str(broken)]) == 1


def test_make_test_runs_the_strict_gates_before_the_tests() -> None:
    makefile = (gates.ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    commands = [line.strip() for line in recipe if line.startswith("\t")]
    assert commands[0] == "$(PY) -m tools.gates --strict", commands
    assert any("-m pytest" in command for command in commands[1:]), commands
