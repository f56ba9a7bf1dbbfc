"""Node.js and Chromium for the tooling: find them and install a folder's npm packages.

The npm packages (the Adaptive Cards renderer, Playwright, the Agents
Playground) are never committed. Each Node folder commits a ``package.json``
and a ``package-lock.json``; :func:`ensure_node_modules` runs ``npm ci`` there
when ``node_modules`` is missing or was installed from another lockfile, and
otherwise leaves it alone, so the gitignored ``node_modules`` is the cache that
keeps repeated runs fast.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

DEFAULT_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALL_HINT = "apt-get install -y chromium chromium-driver"
# Written into node_modules after a successful install: the digest of the lockfile.
_STAMP = ".msa-lock-sha256"


class ToolMissing(RuntimeError):
    """A program the tooling needs (node, npm, Chromium) is not installed."""


def chromium_path() -> Path:
    """Return Debian's Chromium, the browser every tool here drives.

    Raises:
        ToolMissing: When no Chromium is installed.
    """
    found = shutil.which("chromium")
    path = Path(found) if found else DEFAULT_CHROMIUM
    if not path.exists():
        raise ToolMissing(f"Chromium is not installed (/usr/bin/chromium); {CHROMIUM_INSTALL_HINT}")
    return path


def node_path() -> Path:
    """Return the ``node`` program.

    Raises:
        ToolMissing: When Node.js is not on PATH.
    """
    found = shutil.which("node")
    if not found:
        raise ToolMissing(
            "Node.js is not installed (no `node` on PATH); apt-get install -y nodejs npm")
    return Path(found)


def missing_tools() -> list[str]:
    """Return why the browser tooling cannot run here; empty when node, npm and Chromium exist."""
    problems = []
    for check in (node_path, chromium_path):
        try:
            check()
        except ToolMissing as exc:
            problems.append(str(exc))
    if not shutil.which("npm"):
        problems.append("npm is not installed (no `npm` on PATH); apt-get install -y npm")
    return problems


def _lock_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def ensure_node_modules(folder: Path, timeout: float = 600) -> Path:
    """Install ``folder``'s locked npm packages unless they are already there.

    Concurrent callers (two test processes) are serialised with a lock on the
    lockfile, so ``npm ci`` never runs twice at once in one folder.

    Args:
        folder: A folder with ``package.json`` and ``package-lock.json``.
        timeout: Seconds ``npm ci`` may take.

    Returns:
        The ``node_modules`` folder.

    Raises:
        ToolMissing: When npm is not installed.
        RuntimeError: When ``npm ci`` fails.
    """
    npm = shutil.which("npm")
    if not npm:
        raise ToolMissing("npm is not installed (no `npm` on PATH); apt-get install -y npm")
    modules = folder / "node_modules"
    wanted = _lock_digest(folder)
    with open(folder / "package-lock.json", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = modules / _STAMP
        if stamp.exists() and stamp.read_text(encoding="utf-8").strip() == wanted:
            return modules
        # No install scripts: none of the packages needs one, and Playwright's
        # would try to download a browser of its own (we use Debian's).
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1",
                   npm_config_update_notifier="false", npm_config_fund="false",
                   npm_config_audit="false")
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"npm ci in {folder} failed ({result.returncode}):\n"
                               f"{result.stdout[-2000:]}{result.stderr[-4000:]}")
        stamp.write_text(wanted + "\n", encoding="utf-8")
    return modules
