"""tools/gates.py counts what ruff, mypy and import-linter report (canned reports, no tools run)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

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
    def run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
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
        monkeypatch.setattr(gates, name, lambda found=found: found)
    assert gates.main([]) == 0
    assert gates.main(["--strict"]) == 1
    assert "mypy" in capsys.readouterr().out
