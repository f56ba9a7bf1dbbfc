"""Every third-party import must be a declared distribution (pyproject.toml).

Reads every ``import``/``from … import`` (at any depth: inside functions and
``TYPE_CHECKING`` blocks too) of the product (``app.py``, ``bot/``,
``dialogs/``, ``checks/``, ``tools/``) and of the tests and the bench, maps
each top-level module to the distribution that provides it in the running
environment (``importlib.metadata.packages_distributions``), and compares
with ``[project] dependencies`` and ``[project.optional-dependencies]``:

* product code may import what ``dependencies`` or an extra other than
  ``test`` declares (an extra only for a path that needs it, e.g. ``asyncpg``
  for PostgreSQL);
* tests and the bench may also import what the ``test`` extra declares
  (with the extras it names, ``mail-setup-assistant[postgres,…]``).

    .venv/bin/python -m tools.deps      # the table; exit 1 when something is undeclared

A module that arrives only as a dependency of a dependency (msrest with
botbuilder, yarl with aiohttp) still counts as undeclared: the project would
break the day that dependency stops bringing it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "mail-setup-assistant"
PRODUCT: tuple[str, ...] = ("app.py", "bot", "dialogs", "checks", "tools")
TESTING: tuple[str, ...] = ("tests", "bench")
TEST_EXTRA = "test"
FIRST_PARTY = frozenset({"app", "bot", "dialogs", "checks", "tools", "tests", "bench"})


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them (``PyJWT`` → ``pyjwt``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> tuple[str, tuple[str, ...]]:
    """The distribution and the extras a requirement string names."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", requirement)
    if match is None:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    extras = tuple(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
    return normalise(match.group(1)), extras


@dataclass(frozen=True, slots=True)
class Declared:
    """What pyproject.toml declares.

    Attributes:
        base: the distributions of ``[project] dependencies``.
        extras: extra name → its distributions (with the project's own extras it
            names folded in).
    """

    base: frozenset[str]
    extras: Mapping[str, frozenset[str]]

    def groups_of(self, distribution: str) -> list[str]:
        """Where ``distribution`` is declared: ``"dependencies"`` and/or extra names."""
        found = ["dependencies"] if distribution in self.base else []
        found += [name for name, dists in self.extras.items() if distribution in dists]
        return found


def read_declared(pyproject: Path = ROOT / "pyproject.toml") -> Declared:
    """Read the declared distributions from ``pyproject``."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    base = frozenset(requirement_name(r)[0] for r in project.get("dependencies", []))
    raw: dict[str, list[str]] = project.get("optional-dependencies", {})
    direct: dict[str, set[str]] = {}
    includes: dict[str, set[str]] = defaultdict(set)
    for extra, requirements in raw.items():
        direct[extra] = set()
        for requirement in requirements:
            name, named_extras = requirement_name(requirement)
            if name == normalise(PROJECT):
                includes[extra].update(named_extras)
            else:
                direct[extra].add(name)
    extras: dict[str, frozenset[str]] = {}
    for extra in raw:
        seen, todo, dists = {extra}, [extra], set()
        while todo:
            current = todo.pop()
            dists |= direct.get(current, set())
            for nested in includes.get(current, set()) - seen:
                seen.add(nested)
                todo.append(nested)
        extras[extra] = frozenset(dists)
    return Declared(base, extras)


def python_files(parts: Iterable[str], root: Path = ROOT) -> list[Path]:
    """The ``.py`` files of ``parts`` (files or folders under ``root``)."""
    files: list[Path] = []
    for part in parts:
        path = root / part
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(p for p in path.rglob("*.py")
                            if not {"__pycache__", "node_modules"} & set(p.parts))
    return files


def _catches_import_error(node: ast.Try) -> bool:
    """Whether a ``try`` has an ``except ImportError`` (or ModuleNotFoundError) clause."""
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(k, ast.Name) and k.id in {"ImportError", "ModuleNotFoundError"}
               for k in kinds):
            return True
    return False


def imported_modules(path: Path) -> tuple[set[str], set[str]]:
    """The dotted names of every absolute import in ``path`` (``botbuilder.core``…).

    Returns:
        ``(required, optional)``: optional imports sit in a ``try`` that catches
        ImportError, so the code runs without them.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    optional_nodes = {id(inner) for node in ast.walk(tree)
                      if isinstance(node, ast.Try) and _catches_import_error(node)
                      for statement in node.body for inner in ast.walk(statement)}
    required: set[str] = set()
    optional: set[str] = set()
    for node in ast.walk(tree):
        names: set[str] = set()
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if "." not in node.module:  # "from botbuilder import schema" imports a package
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        (optional if id(node) in optional_nodes else required).update(names)
    return required, optional - required


def third_party(modules: Iterable[str]) -> set[str]:
    """``modules`` without the standard library and this project's own packages."""
    return {m for m in modules
            if (top := m.partition(".")[0]) not in sys.stdlib_module_names
            and top not in FIRST_PARTY and top != "__future__"}


class Providers:
    """Which installed distribution provides a module, namespace packages included.

    ``botbuilder`` is a namespace shared by botbuilder-core, -schema,
    -integration-aiohttp…: ``botbuilder.schema`` is provided by the one
    distribution that ships files under ``botbuilder/schema/``.
    """

    def __init__(self) -> None:
        """Read the environment's distributions once."""
        self._top = metadata.packages_distributions()
        self._files: dict[str, frozenset[str]] = {}

    def _folders(self, distribution: str) -> frozenset[str]:
        if distribution not in self._files:
            files = metadata.distribution(distribution).files or []
            self._files[distribution] = frozenset(
                str(f.parent).replace("\\", "/") for f in files if f.suffix == ".py")
        return self._files[distribution]

    def of(self, module: str) -> tuple[str, ...]:
        """The distributions providing ``module`` (empty when none is installed)."""
        parts = module.split(".")
        candidates = sorted(set(self._top.get(parts[0], [])))
        if len(candidates) > 1:
            for depth in range(len(parts), 1, -1):
                folder = "/".join(parts[:depth])
                found = [d for d in candidates
                         if any(f == folder or f.startswith(folder + "/")
                                for f in self._folders(d))]
                if found:
                    candidates = found
                    break
        return tuple(sorted({normalise(d) for d in candidates}))


@dataclass(frozen=True, slots=True)
class Finding:
    """One imported third-party module and whether its distribution is declared.

    Attributes:
        module: the top-level module name.
        distributions: the distributions that provide it here (empty: not installed).
        users: the files importing it (relative paths).
        declared_in: where its distribution is declared (empty: nowhere it may be).
        allowed: the groups this code may import from.
    """

    module: str
    distributions: tuple[str, ...]
    users: tuple[str, ...]
    declared_in: tuple[str, ...]
    allowed: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when some providing distribution is declared in an allowed group."""
        return bool(set(self.declared_in) & set(self.allowed))


def check(root: Path = ROOT, providers: Providers | None = None) -> list[Finding]:
    """Every third-party module the product and the tests import, with its declaration."""
    declared = read_declared(root / "pyproject.toml")
    providers = providers if providers is not None else Providers()
    product_groups = ("dependencies", *(e for e in declared.extras if e != TEST_EXTRA))
    testing_groups = ("dependencies", TEST_EXTRA)
    users: dict[str, set[str]] = defaultdict(set)
    allowed: dict[str, set[str]] = defaultdict(set)
    required_somewhere: set[str] = set()
    for parts, groups in ((TESTING, testing_groups), (PRODUCT, product_groups)):
        for path in python_files(parts, root):
            required, optional = imported_modules(path)
            for module in third_party(required | optional):
                users[module].add(str(path.relative_to(root)))
                if module in required:
                    required_somewhere.add(module)
                    # Product code (read last) may use fewer groups than the tests.
                    if parts is PRODUCT or module not in allowed:
                        allowed[module] = set(groups)
    # A module only ever imported optionally (try/except ImportError) may come from anywhere.
    any_group = {"dependencies", *declared.extras}
    for module in users:
        if module not in required_somewhere:
            allowed[module] = any_group
    by_distribution: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for module in users:
        dists = providers.of(module)
        if len(dists) > 1 and any(m.startswith(module + ".") for m in users):
            continue  # a namespace ("from botbuilder import schema"): its parts are rows
        by_distribution[dists].add(module)
    findings = []
    for dists, modules in sorted(by_distribution.items(),
                                 key=lambda item: min(item[1]).lower()):
        # One row per providing distribution: botbuilder.core and botbuilder.core.teams
        # are one fact; so are every submodule of an undeclared one.
        declared_in = sorted({g for d in dists for g in declared.groups_of(d)})
        files = {u for m in modules for u in users[m]}
        # Declared where every importer may take it from (product code: not the tests').
        may_use = sorted(set.intersection(*(allowed[m] for m in modules)))
        findings.append(Finding(min(modules, key=len), dists, tuple(sorted(files)),
                                tuple(declared_in), tuple(may_use)))
    return findings


def render(findings: Sequence[Finding]) -> str:
    """The findings as a text table, undeclared ones marked."""
    rows = []
    for f in findings:
        mark = "ok " if f.ok else "!! "
        where = ", ".join(f.declared_in) or "UNDECLARED"
        dists = ", ".join(f.distributions) or "not installed"
        example = f.users[0] + (f" (+{len(f.users) - 1})" if len(f.users) > 1 else "")
        rows.append(f"{mark}{f.module:<31} {dists:<31} {where:<24} {example}")
    bad = [f for f in findings if not f.ok]
    rows.append(f"{len(findings)} third-party modules imported, {len(bad)} undeclared")
    return "\n".join(rows)


def main() -> int:
    """Print the table; exit 1 when an import's distribution is not declared."""
    findings = check()
    print(render(findings))
    return 0 if all(f.ok for f in findings) else 1


if __name__ == "__main__":
    raise SystemExit(main())
