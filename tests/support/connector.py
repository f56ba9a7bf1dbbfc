"""A local Bot Connector: catches the bot's replies the way Teams' connector would.

It serves the Bot Connector REST routes the bot uses (send to conversation,
reply to activity, update activity, create conversation) on loopback and
records every activity it receives, so tests read exactly what a Teams user
would see.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ReceivedActivity:
    """One activity the bot posted."""

    conversation_id: str
    method: str
    path: str
    body: dict[str, Any]
    authorization: str | None
    raw_path: str = ""  # as sent, percent-encoding included
    raw_body: bytes = b""  # the exact bytes, to compare serializations
    user_agent: str | None = None
    cookie: str | None = None  # the Cookie header, if the bot sent one


@dataclass
class LocalConnector:
    """Records activities; ``url`` is the serviceUrl to put in incoming activities."""

    received: list[ReceivedActivity] = field(default_factory=list)
    url: str = ""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _event: asyncio.Event = field(default_factory=asyncio.Event)
    fail_next: int = 0
    fail_status: int = 503  # what the next ``fail_next`` calls answer
    retry_after: str | None = None  # a Retry-After header on those failures
    # Fail only calls to conversations whose id starts with this (e.g. one customer's chat).
    fail_only: str | None = None
    fail_creates: int = 0  # the next N POST /v3/conversations (new threads) fail with fail_status
    delay_seconds: float = 0.0  # every send waits this long before it is recorded and answered
    set_cookie: str | None = None  # a Set-Cookie header to answer every send with

    def app(self) -> web.Application:
        """Return the aiohttp application implementing the connector routes."""
        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_delete("/v3/conversations/{cid}/activities/{aid}", self._delete)
        app.router.add_post("/v3/conversations", self._create)
        return app

    async def _record(self, request: web.Request, cid: str) -> dict[str, Any]:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        self.received.append(ReceivedActivity(
            cid, request.method, request.path, body, request.headers.get("Authorization"),
            raw_path=request.raw_path, raw_body=raw,
            user_agent=request.headers.get("User-Agent"), cookie=request.headers.get("Cookie")))
        self._event.set()
        return body

    def _failure(self, conversation_id: str = "") -> web.Response | None:
        if self.fail_only is not None and not conversation_id.startswith(self.fail_only):
            return None
        if self.fail_next > 0:
            self.fail_next -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else None
            return web.json_response({"error": {"code": "ServiceError", "message": "unavailable"}},
                                     status=self.fail_status, headers=headers)
        return None

    async def _send(self, request: web.Request) -> web.Response:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        failure = self._failure(request.match_info["cid"])
        if failure is not None:
            return failure
        await self._record(request, request.match_info["cid"])
        response = web.json_response({"id": f"act-{next(self._ids)}"})
        if self.set_cookie is not None:
            response.headers["Set-Cookie"] = self.set_cookie
        return response

    async def _delete(self, request: web.Request) -> web.Response:
        failure = self._failure()
        if failure is not None:
            return failure
        await self._record(request, request.match_info["cid"])
        return web.Response(status=200)

    async def _create(self, request: web.Request) -> web.Response:
        if self.fail_creates > 0:
            self.fail_creates -= 1
            return web.json_response({"error": {"code": "ServiceError", "message": "unavailable"}},
                                     status=self.fail_status)
        body = await request.json()
        new_id = f"{(body.get('channelData') or {}).get('channel', {}).get('id', 'conv')};messageid={next(self._ids)}"
        activity = body.get("activity")
        if isinstance(activity, dict):
            self.received.append(ReceivedActivity(new_id, "POST", request.path, activity,
                                                  request.headers.get("Authorization")))
            self._event.set()
        return web.json_response({"id": new_id, "activityId": f"act-{next(self._ids)}"})

    def for_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        """Return the bodies posted to one conversation, in order."""
        return [r.body for r in self.received if r.conversation_id == conversation_id]

    def clear(self) -> None:
        """Forget what was received so far."""
        self.received.clear()

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` activities arrived (for proactive sends)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"expected {count} activities, got {len(self.received)}")
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                pass
