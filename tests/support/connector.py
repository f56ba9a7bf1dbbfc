"""A local Bot Connector: catches the bot's replies the way Teams' connector would.

It serves the Bot Connector REST routes the bot uses (send to conversation,
reply to activity, update activity, create conversation) on loopback and
records every activity it receives, so tests read exactly what a Teams user
would see.

It also answers the roster as Teams does (Microsoft Learn, "Get Teams specific
context for your bot", *Get single member details*):
``GET /v3/conversations/{id}/members/{userId}`` returns the member's entry
with ``userRole`` ("user", "guest" or "anonymous") and their own ``tenantId``;
``403 BotNotInConversationRoster`` for a conversation the bot is not part of;
404 for someone who is not a member. Members are added per test
(:meth:`LocalConnector.add_member`, or by the harness for whoever posts), and
the roster can be told to fail or to be slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
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
class RosterRequest:
    """One roster call the bot made (GET a member, or POST a one-to-one chat to find it)."""

    method: str
    conversation_id: str
    member_id: str
    authorization: str | None


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
    # The roster: user id -> the entry Teams returns for them (see add_member).
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Conversations (id prefixes) the bot is not part of: their roster answers 403.
    outside: set[str] = field(default_factory=set)
    # Users who have not installed the app personally: their one-to-one chat cannot be made.
    not_installed: set[str] = field(default_factory=set)
    roster_requests: list[RosterRequest] = field(default_factory=list)
    roster_fail_next: int = 0  # the next N roster calls answer roster_fail_status
    roster_fail_status: int = 503
    roster_delay_seconds: float = 0.0  # every roster call waits this long first

    def app(self) -> web.Application:
        """Return the aiohttp application implementing the connector routes."""
        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_delete("/v3/conversations/{cid}/activities/{aid}", self._delete)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        return app

    # ----- the roster ------------------------------------------------------------------------
    def add_member(self, user_id: str, tenant_id: str, *, name: str = "Someone",
                   role: str = "user", object_id: str | None = None,
                   replace: bool = True) -> dict[str, Any]:
        """Put a person in the roster as Teams describes them; return their entry.

        Args:
            user_id: their Teams id (``29:…``).
            tenant_id: their own tenant (a B2B guest's is the host's; a shared channel's
                external user's is their home tenant's).
            name: their display name.
            role: ``userRole``: "user", "guest" or "anonymous".
            object_id: their Entra object id (none for anonymous users).
            replace: False keeps an entry the test already set up.
        """
        if not replace and user_id in self.members:
            return self.members[user_id]
        entry: dict[str, Any] = {"id": user_id, "name": name, "tenantId": tenant_id,
                                 "userRole": role}
        if role != "anonymous":
            given, _, surname = name.partition(" ")
            login = "".join(c for c in name.lower() if c.isalnum()) or "user"
            upn = f"{login}@cloudex.example" if role == "user" else (
                f"{login}_partner.example#EXT#@cloudex.onmicrosoft.com")
            entry.update({"objectId": object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, user_id)),
                          "givenName": given, "surname": surname,
                          "email": f"{login}@{'cloudex' if role == 'user' else 'partner'}.example",
                          "userPrincipalName": upn})
        self.members[user_id] = entry
        return entry

    def join(self, activity: Any, role: str = "user") -> None:
        """Make the sender of ``activity`` a member (keeping an entry the test set up).

        Bodies the bad-input tests break on purpose are left alone.
        """
        def part(value: Any, key: str) -> dict[str, Any]:
            found = value.get(key) if isinstance(value, dict) else None
            return found if isinstance(found, dict) else {}

        sender = part(activity, "from")
        tenant = part(activity, "conversation").get("tenantId") or part(
            part(activity, "channelData"), "tenant").get("id")
        if isinstance(sender.get("id"), str) and sender["id"] and isinstance(tenant, str) \
                and tenant:
            name = sender.get("name") if isinstance(sender.get("name"), str) else ""
            object_id = sender.get("aadObjectId")
            object_id = object_id if isinstance(object_id, str) and object_id else None
            entry = self.add_member(sender["id"], tenant, name=name or "Someone", role=role,
                                    object_id=object_id, replace=False)
            if "objectId" in entry and object_id:
                entry["objectId"] = object_id  # the same person, as Teams knows them

    def lookups_of(self, member_id: str) -> list[RosterRequest]:
        """The roster calls the bot made for one person (member GETs only)."""
        return [r for r in self.roster_requests if r.method == "GET" and r.member_id == member_id]

    async def _member(self, request: web.Request) -> web.Response:
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        self.roster_requests.append(RosterRequest("GET", cid, mid,
                                                  request.headers.get("Authorization")))
        if self.roster_delay_seconds:
            await asyncio.sleep(self.roster_delay_seconds)
        if self.roster_fail_next > 0:
            self.roster_fail_next -= 1
            return web.json_response({"error": {"code": "ServiceError", "message": "unavailable"}},
                                     status=self.roster_fail_status)
        if any(cid.startswith(prefix) for prefix in self.outside):
            return web.json_response({"error": {
                "code": "BotNotInConversationRoster",
                "message": "The bot is not part of the conversation roster."}}, status=403)
        if mid not in self.members:
            return web.json_response({"error": {
                "code": "NotFound", "message": "The member was not found."}}, status=404)
        return web.json_response(self.members[mid])

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
        if not (body.get("channelData") or {}).get("channel") and body.get("members"):
            return self._personal_chat(request, body)
        channel = (body.get("channelData") or {}).get("channel", {}).get("id", "conv")
        new_id = f"{channel};messageid={next(self._ids)}"
        activity = body.get("activity")
        if isinstance(activity, dict):
            self.received.append(ReceivedActivity(new_id, "POST", request.path, activity,
                                                  request.headers.get("Authorization")))
            self._event.set()
        return web.json_response({"id": new_id, "activityId": f"act-{next(self._ids)}"})

    def _personal_chat(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        """A one-to-one chat with the bot, as for a proactive message: Teams returns its id."""
        member = str((body["members"][0] or {}).get("id") or "")
        self.roster_requests.append(RosterRequest("POST", "", member,
                                                  request.headers.get("Authorization")))
        if member in self.not_installed or member not in self.members:
            return web.json_response({"error": {
                "code": "Forbidden",
                "message": "The bot is not installed in the user's personal scope."}},
                status=403)
        return web.json_response({"id": f"a:personal-{member}"})

    def for_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        """Return the bodies posted to one conversation, in order."""
        return [r.body for r in self.received if r.conversation_id == conversation_id]

    def clear(self) -> None:
        """Forget what was received so far."""
        self.received.clear()

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - its error says what arrived
        """Wait until at least ``count`` activities arrived (for proactive sends)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"expected {count} activities, got {len(self.received)}")
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)
