"""Run the bot as a real ``python app.py`` process, to kill it, restart it or run two of them.

:class:`BotProcess` starts the server with the environment given (nothing
else from the test's environment leaks in except ``PATH`` and the like), waits
until ``/healthz`` answers, and keeps its stdout/stderr (the JSON logs) in a
file. :func:`http_session` gives a client that a
:class:`tests.support.harness.Chat` can drive it with over a real socket.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
# Only these are taken from the test's environment; every bot setting is explicit.
PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """One ``python app.py`` serving on 127.0.0.1."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        """Describe the process; :meth:`start` runs it.

        Args:
            env: bot settings (STORAGE_URL, LOG_LEVEL, MicrosoftAppId, …).
            log_path: where its stdout and stderr go (appended across restarts).
            port: the port to serve on (a free one by default; keep it to restart in place).
        """
        self.port = port or free_port()
        self.env = {k: v for k, v in os.environ.items() if k in PASS_THROUGH}
        self.env.update({"HOST": "127.0.0.1", "PORT": str(self.port),
                         "PYTHONUNBUFFERED": "1", **env})
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 30.0) -> BotProcess:  # noqa: ASYNC109 - its error shows the app's log
        """Start the process and wait until ``/healthz`` says 200."""
        self.process = self._spawn()
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"app.py exited with {self.process.returncode}:\n"
                                       + self.logs()[-3000:])
                try:
                    async with session.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError("app.py did not become healthy:\n" + self.logs()[-3000:])
                await asyncio.sleep(0.05)

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=self.env,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (SIGKILL by default) and wait for the process to end."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        self.process.wait(15)

    def stop(self) -> None:
        """End the process gracefully (SIGINT, as Ctrl+C), or kill it if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def logs(self) -> str:
        """Everything the process wrote so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


def http_session(bot: BotProcess) -> aiohttp.ClientSession:
    """A client session whose relative paths go to ``bot`` (it quacks like aiohttp's TestClient)."""
    return aiohttp.ClientSession(base_url=bot.url)
