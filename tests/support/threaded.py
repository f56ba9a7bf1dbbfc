"""Serve aiohttp applications on loopback from a background thread with its own event loop.

The Bot Framework SDK fetches OpenID metadata and signing keys with blocking
``requests`` calls, and MSAL gets the bot's own token the same way, both on
the bot's event loop. A local server that answers like Microsoft's services
therefore cannot live on the same loop as an in-process bot: it would never
get to answer. These servers run in a thread of their own, so blocking calls
from the test's loop reach them, and so do the bot subprocesses.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Coroutine
from typing import Any, Self, TypeVar

from aiohttp import web

T = TypeVar("T")


class ThreadedServers:
    """Background event loop hosting any number of aiohttp apps; use as a context manager."""

    def __init__(self) -> None:
        """Create the loop; nothing listens until :meth:`serve`."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="local-servers",
                                        daemon=True)
        self._runners: list[web.AppRunner] = []
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the servers' loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def serve(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> str:
        """Serve ``app`` on 127.0.0.1 on a free port; return its base URL (no trailing slash)."""

        async def start() -> str:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
            await site.start()
            self._runners.append(runner)
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            return f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

        return self.run(start())

    def close(self) -> None:
        """Stop every app and the loop."""

        async def stop() -> None:
            for runner in reversed(self._runners):
                await runner.cleanup()

        try:
            self.run(stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> Self:
        """Return the running servers."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop everything."""
        self.close()
