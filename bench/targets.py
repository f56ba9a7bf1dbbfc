"""The servers under test, each its own process on 127.0.0.1.

(a) ``floor``: ``python -m bench.floor``; (b) ``sdk``: ``python -m bench.echo_sdk``;
(c) ``bot``: ``python app.py`` on SQLite; (d) ``bot-pg``: ``python app.py`` on
PostgreSQL. Each is started once, driven in every round, and stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 30.0
# Settings the bot would otherwise inherit from the shell; the bench runs it in local mode.
BOT_ENV_CLEARED = ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppType",
                   "MicrosoftAppTenantId", "BOT_OPENID_METADATA", "HOST", "PORT", "STORAGE_URL")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Target:
    """One server to benchmark."""

    key: str
    label: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    ready_path: str | None = "/healthz"
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The target's /api/messages URL."""
        return f"http://127.0.0.1:{self.port}/api/messages"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self.process.pid if self.process is not None else None

    async def start(self, log_dir: Path) -> None:
        """Start the process and wait until it accepts requests."""
        self.log_path = log_dir / f"{self.key}.log"
        self._log = self.log_path.open("wb")
        env = {k: v for k, v in os.environ.items() if k not in BOT_ENV_CLEARED}
        env.update(self.env)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        argv = [arg.replace("{port}", str(self.port)) for arg in self.argv]
        # Popen returns at once (it does not wait for the child): fine on the event loop.
        self.process = subprocess.Popen(  # noqa: ASYNC220
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT)
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.label} exited at start:\n{self.log_tail()}")
                try:
                    if self.ready_path is None:
                        _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                        writer.close()
                        await writer.wait_closed()
                        return
                    async with session.get(f"http://127.0.0.1:{self.port}{self.ready_path}") \
                            as response:
                        if response.status == 200:
                            return
                except (OSError, aiohttp.ClientError):
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.label} did not start in {START_TIMEOUT_SECONDS:.0f} s:\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """The end of the process's output (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 5 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


def floor_target(fail: bool = False) -> Target:
    """(a) the bare aiohttp handler; ``fail`` makes it answer 500 to everything."""
    argv = [sys.executable, "-m", "bench.floor", "{port}"] + (["--fail"] if fail else [])
    return Target("floor", "(a) floor: bare aiohttp handler", argv, port=free_port())


def sdk_target() -> Target:
    """(b) the SDK echo bot as the samples build it."""
    return Target("sdk", "(b) SDK echo bot (CloudAdapter sample)",
                  [sys.executable, "-m", "bench.echo_sdk", "{port}"], port=free_port(),
                  ready_path=None)


def fast_echo_target() -> Target:
    """(b′) the same echo bot on this bot's turn path."""
    return Target("sdk-fast", "(b′) the same echo bot on this bot's turn path",
                  [sys.executable, "-m", "bench.echo_sdk", "{port}", "--fast"], port=free_port(),
                  ready_path=None)


def bot_target(storage_url: str, key: str = "bot", label: str = "(c) this bot, SQLite",
               log_level: str = "INFO") -> Target:
    """(c)/(d) this bot, ``python app.py``, in local mode on ``storage_url``."""
    port = free_port()
    return Target(key, label, [sys.executable, "app.py"], port=port,
                  env={"HOST": "127.0.0.1", "PORT": str(port), "STORAGE_URL": storage_url,
                       "LOG_LEVEL": log_level})
