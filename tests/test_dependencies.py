"""Every third-party import is a declared distribution (``tools/deps.py``), in the right group."""

from __future__ import annotations

from pathlib import Path

from tools.deps import Providers, check, read_declared, render


def test_every_import_of_the_product_and_the_tests_is_declared() -> None:
    findings = check()
    assert {f.module.partition(".")[0] for f in findings} >= {"aiohttp", "botbuilder", "msal"}
    undeclared = [f for f in findings if not f.ok]
    assert undeclared == [], "\n" + render(undeclared)


def write_project(root: Path, dependencies: list[str], extras: dict[str, list[str]],
                  files: dict[str, str]) -> None:
    lines = ["[project]", 'name = "mail-setup-assistant"', f"dependencies = {dependencies!r}",
             "[project.optional-dependencies]"]
    lines += [f"{name} = {requirements!r}" for name, requirements in extras.items()]
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_an_import_that_only_comes_with_another_package_is_flagged(tmp_path: Path) -> None:
    write_project(tmp_path, ["aiohttp>=3"], {"test": ["pytest"]}, {
        "bot/edge.py": "import aiohttp\nfrom yarl import URL\n",
        "tests/test_x.py": "import pytest\n",
    })
    verdict = {f.module: f.ok for f in check(tmp_path)}
    assert verdict == {"aiohttp": True, "yarl": False, "pytest": True}


def test_product_code_may_not_lean_on_the_test_extra(tmp_path: Path) -> None:
    write_project(tmp_path, [], {"postgres": ["asyncpg"], "test": ["pytest", "jsonschema"]}, {
        "bot/store.py": "def open():\n    import asyncpg\n",  # an extra, imported lazily
        "bot/package.py": "from jsonschema import Draft6Validator\n",
        # Used when present, skipped when not: fine from any group.
        "bot/codec.py": "try:\n    import pytest\nexcept ImportError:\n    pytest = None\n",
        "tests/test_x.py": "import jsonschema\n",
    })
    verdict = {f.module: f.ok for f in check(tmp_path)}
    assert verdict == {"asyncpg": True, "jsonschema": False, "pytest": True}


def test_a_distribution_the_tests_may_use_is_not_enough_for_the_product(tmp_path: Path) -> None:
    write_project(tmp_path, [], {"test": ["botbuilder-core==4.17.1"]}, {
        "tests/test_x.py": "from botbuilder.core import TurnContext\n",
        "bot/edge.py": "from botbuilder.core.teams import TeamsInfo\n",
    })
    (finding,) = check(tmp_path)
    assert finding.distributions == ("botbuilder-core",) and not finding.ok


def test_namespace_packages_resolve_to_the_distribution_of_each_part(tmp_path: Path) -> None:
    providers = Providers()
    assert providers.of("botbuilder.schema.teams") == ("botbuilder-schema",)
    assert providers.of("botbuilder.core") == ("botbuilder-core",)
    assert providers.of("botframework.connector.auth") == ("botframework-connector",)
    write_project(tmp_path, ["botbuilder-core==4.17.1"], {}, {
        "bot/a.py": "from botbuilder.core import TurnContext\nfrom botbuilder import schema\n"})
    verdict = {f.module: f.ok for f in check(tmp_path)}
    assert verdict == {"botbuilder.core": True, "botbuilder.schema": False}


def test_the_test_extra_brings_the_product_extras_it_names(tmp_path: Path) -> None:
    write_project(tmp_path, [], {"postgres": ["asyncpg>=0.29"],
                                 "test": ["mail-setup-assistant[postgres]", "pytest"]}, {})
    declared = read_declared(tmp_path / "pyproject.toml")
    assert declared.groups_of("asyncpg") == ["postgres", "test"]
