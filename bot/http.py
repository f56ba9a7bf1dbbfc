"""HTTP routes: ``/api/messages`` with strict input checks, ``/healthz`` and ``/metrics``.

The SDK's own ``CloudAdapter.process`` answers a malformed body with a 500
(platform.md §11); here every request is checked first, so a bad request
gets a 4xx with a short reason and never reaches the bot.

Turns of one conversation run one at a time in an instance (a lock per
conversation id), each within a 10 s budget (Teams waits 15 s), and a turn
whose state could not be stored is answered 503 — Teams delivers it again —
never 200; so is one still running after 12 s (a database that stopped
answering), which is left to finish rather than cut off mid-write.
``/healthz`` is 503 when the store cannot take a write (a small
upsert, checked at most once a second), not only when it cannot be read.
``/metrics`` with authentication on answers only a bearer ``METRICS_TOKEN``
(and nobody while it is unset); in local mode, where the bot only listens on
loopback, it is open. Its ``msa_turns_total`` counts made-up activity types
as ``other``, so no caller can grow it without bound.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable
from typing import Any

from aiohttp import web
from botbuilder.schema import ActivityTypes

from bot import budget
from bot.channel_auth import Unauthorized, authenticate
from bot.keys import ADAPTER_KEY, BOT_KEY, METRICS_KEY, SETTINGS_KEY, STORE_KEY
from bot.store.base import is_store_failure
from bot.store.codec import parse_json
from bot.wire import activity_from_json

_LOGGER = logging.getLogger(__name__)
# The activity types the Bot Framework defines. Any other type a caller makes up is
# counted as "other": a label value is a series in /metrics, and callers must not be
# able to add series without bound.
ACTIVITY_TYPES = frozenset(kind.value for kind in ActivityTypes)
OTHER_TYPE = "other"


def type_label(activity_type: object) -> str:
    """The ``type`` label of ``msa_turns_total``: a known activity type, or ``other``."""
    return activity_type if isinstance(activity_type, str) and activity_type in ACTIVITY_TYPES \
        else OTHER_TYPE


def bad_request(reason: str, status: int = 400) -> web.Response:
    """Return a short JSON error the caller can read."""
    return web.json_response({"error": reason}, status=status)


def check_activity_shape(body: Any) -> str | None:
    """Return why ``body`` is not an activity the bot can answer, or None when it is."""
    if not isinstance(body, dict):
        return "the body must be a JSON object (a Bot Framework activity)"
    if not isinstance(body.get("type"), str) or not body["type"]:
        return "the activity needs a 'type'"
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str) \
            or not conversation["id"]:
        return "the activity needs 'conversation.id'"
    if not isinstance(body.get("serviceUrl"), str) or not body["serviceUrl"].startswith("http"):
        return "the activity needs a 'serviceUrl'"
    for name in ("from", "recipient"):
        value = body.get(name)
        if value is not None and not isinstance(value, dict):
            return f"'{name}' must be an object"
    for name in ("text", "channelId", "id", "name", "locale", "textFormat"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            return f"'{name}' must be a string"
    for name in ("entities", "attachments", "membersAdded", "membersRemoved"):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, dict) for v in value)
        ):
            return f"'{name}' must be a list of objects"
    channel_data = body.get("channelData")
    if channel_data is not None and not isinstance(channel_data, dict):
        return "'channelData' must be an object"
    return None


async def messages(request: web.Request) -> web.Response:
    """Receive one activity from the Bot Connector (or a test harness)."""
    if request.content_type != "application/json":
        return bad_request("Content-Type must be application/json", status=415)
    try:
        raw = await request.read()
        body = parse_json(raw.decode("utf-8"))  # json.loads, at a third of its cost
    except web.HTTPRequestEntityTooLarge:
        return bad_request("the request is too large", status=413)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return bad_request("the body is not valid UTF-8 JSON")
    reason = check_activity_shape(body)
    if reason:
        return bad_request(reason)
    try:
        activity = activity_from_json(body)  # == Activity().deserialize(body), ~5x cheaper
    except Exception:  # noqa: BLE001 - msrest raises many kinds on wrong types; all are a 400
        return bad_request("the activity could not be read")
    adapter = request.app[ADAPTER_KEY]
    try:
        # The SDK's own checks, but every way they can fail is a 401 (some raise jwt errors).
        authenticated = await authenticate(
            adapter.bot_framework_authentication, activity,
            request.headers.get("Authorization"),
            local_mode=request.app[SETTINGS_KEY].local_mode,
        )
    except Unauthorized as exc:
        _LOGGER.info("request refused: %s", exc,
                     extra={"conversation_id": activity.conversation.id})
        return bad_request("unauthorized", status=401)
    started = time.perf_counter()

    async def turn() -> Any:
        with budget.turn_budget():
            async with request.app[TURN_LOCKS].hold(activity.conversation.id):
                return await adapter.process_activity(
                    authenticated, activity, request.app[BOT_KEY].on_turn
                )

    try:
        running = asyncio.get_running_loop().create_task(turn())  # ensure_future, less its checks
        await budget.done_or_timeout(running, budget.ANSWER_WITHIN_SECONDS)
        if not running.done():
            # Something the turn waits for does not answer (a stalled database). Teams must
            # hear back within 15 s: not done is not stored, so 503, and Teams delivers it
            # again. The turn is not cut off mid-write; if it lands after all, the redelivery
            # finds it processed (and waits for it, as a turn of the same conversation).
            request.app[LATE_TURNS].keep(running, activity.conversation.id)
            _LOGGER.warning("turn not finished in %.0f s, answered 503",
                            budget.ANSWER_WITHIN_SECONDS,
                            extra={"conversation_id": activity.conversation.id})
            return web.json_response({"error": "the bot could not finish this turn in time; "
                                      "try again"}, status=503, headers={"Retry-After": "1"})
        invoke_response = running.result()
    except PermissionError:
        return bad_request("unauthorized", status=401)
    except Exception as error:
        if not is_store_failure(error):
            raise
        # Not stored, so not acknowledged: Teams delivers it again on a failure status.
        _LOGGER.warning("turn not stored, answered 503: %s", error,
                        extra={"conversation_id": activity.conversation.id})
        return web.json_response({"error": "the bot could not store this turn; try again"},
                                 status=503, headers={"Retry-After": "1"})
    finally:
        registry = request.app[METRICS_KEY]
        registry.inc("msa_turns_total", type=type_label(activity.type))
        registry.observe("msa_turn_seconds", time.perf_counter() - started)
    if invoke_response is None:
        return web.Response(status=200)
    status = int(invoke_response.status or 200)
    if status == 501:
        # An invoke this bot does not implement is the caller's mistake, not a server error.
        return bad_request(f"unsupported invoke '{activity.name}'")
    body_out = invoke_response.body
    if body_out is None:
        return web.Response(status=status)
    if hasattr(body_out, "serialize"):
        body_out = body_out.serialize()
    elif not isinstance(body_out, (dict, list, str, int, float, bool)):
        from botbuilder.core import serializer_helper

        body_out = serializer_helper(body_out)
    return web.json_response(body_out, status=status)


class ConversationLocks:
    """One lock per conversation id, held while a turn of that conversation runs here."""

    def __init__(self) -> None:
        """Start with none; a lock lives while someone holds or waits for it."""
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def hold(self, conversation_id: str) -> _Held:
        """Wait for the conversation's earlier turns (within the turn's budget), then run.

        ``async with locks.hold(conversation_id): …``
        """
        return _Held(self, conversation_id)

    async def _acquire(self, conversation_id: str) -> asyncio.Lock:
        lock, users = self._locks.get(conversation_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[conversation_id] = (lock, users + 1)
        try:
            if users == 0:
                # Nobody holds or waits for this conversation here (the usual case): the
                # lock is free and taken at once, without wait_for's task and timer.
                await lock.acquire()
            else:
                try:
                    await asyncio.wait_for(lock.acquire(), budget.remaining(10.0))
                except TimeoutError as error:
                    from bot.conversation import TurnNotStored

                    raise TurnNotStored("earlier turns of this conversation took the whole "
                                        "budget") from error
        except BaseException:
            self._leave(conversation_id, lock)
            raise
        return lock

    def _release(self, conversation_id: str, lock: asyncio.Lock) -> None:
        try:
            lock.release()
        finally:
            self._leave(conversation_id, lock)

    def _leave(self, conversation_id: str, lock: asyncio.Lock) -> None:
        _, users = self._locks[conversation_id]
        if users <= 1:
            del self._locks[conversation_id]
        else:
            self._locks[conversation_id] = (lock, users - 1)


class _Held:
    """``ConversationLocks.hold``'s context: a class, since it wraps every turn and an
    ``@asynccontextmanager`` generator costs several times as much to enter and leave."""

    __slots__ = ("_conversation_id", "_lock", "_locks")

    def __init__(self, locks: ConversationLocks, conversation_id: str) -> None:
        self._locks = locks
        self._conversation_id = conversation_id
        self._lock: asyncio.Lock | None = None

    async def __aenter__(self) -> None:
        self._lock = await self._locks._acquire(self._conversation_id)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._lock is not None:
            lock, self._lock = self._lock, None
            self._locks._release(self._conversation_id, lock)


class LateTurns:
    """Turns answered 503 because they ran past the answer deadline, left to finish."""

    def __init__(self) -> None:
        """Start with none."""
        self.tasks: set[asyncio.Task[Any]] = set()

    def keep(self, task: asyncio.Task[Any], conversation_id: str) -> None:
        """Hold ``task`` until it ends, then log how it ended."""
        self.tasks.add(task)

        def ended(finished: asyncio.Task[Any]) -> None:
            self.tasks.discard(finished)
            error = None if finished.cancelled() else finished.exception()
            if error is None:
                _LOGGER.info("late turn finished", extra={"conversation_id": conversation_id})
            elif is_store_failure(error):
                _LOGGER.info("late turn not stored: %s", error,
                             extra={"conversation_id": conversation_id})
            else:
                _LOGGER.warning("late turn failed", exc_info=error,
                                extra={"conversation_id": conversation_id})

        task.add_done_callback(ended)

    async def close(self, app: web.Application) -> None:
        """At shutdown: give late turns a moment, then stop them (nothing of theirs was acked)."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=5)
        for task in list(self.tasks):
            task.cancel()


TURN_LOCKS: web.AppKey[ConversationLocks] = web.AppKey("turn_locks")
LATE_TURNS: web.AppKey[LateTurns] = web.AppKey("late_turns")
LATE_PROBES: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("late_probes")
HEALTH_TIMEOUT_SECONDS = 2.0
HEALTH_CACHE: web.AppKey[dict[str, Any]] = web.AppKey("health_cache")
HEALTH_TTL_SECONDS = 1.0


async def answered_within(request: web.Request, check: Awaitable[bool], seconds: float) -> bool:
    """``check``'s answer, or False if it has none within ``seconds``.

    A check that is late is not cancelled and waited for (cancelling a statement
    on a connection that no longer answers can itself take seconds): it ends on
    its driver's own timeout, in the background.
    """
    task = asyncio.ensure_future(check)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if done:
        return bool(task.result())
    probes = request.app[LATE_PROBES]
    probes.add(task)
    task.add_done_callback(probes.discard)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved, not logged
    return False


async def healthz(request: web.Request) -> web.Response:
    """Report whether the store takes a write (for load balancers and probes)."""
    store = request.app[STORE_KEY]
    # A read on every probe (cheap: an unreachable or closed store shows at once), and a
    # write at most once a second (a locked, read-only or deleted store shows within one).
    # A database that stopped answering is unhealthy now, not when its driver gives up.
    ok = await answered_within(request, store.ping(), HEALTH_TIMEOUT_SECONDS)
    cache = request.app[HEALTH_CACHE]
    if ok and time.monotonic() - cache.get("at", -1e9) > HEALTH_TTL_SECONDS:
        wrote = await answered_within(request, store.can_write(), HEALTH_TIMEOUT_SECONDS)
        cache.update(at=time.monotonic(), ok=wrote)
    ok = ok and bool(cache.get("ok", True))
    return web.json_response({"status": "ok" if ok else "store unreachable"},
                             status=200 if ok else 503)


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme in any case)."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def metrics(request: web.Request) -> web.Response:
    """Expose counters and latencies (Prometheus text, or OpenMetrics when asked for)."""
    settings = request.app[SETTINGS_KEY]
    if not settings.local_mode:
        # Authentication on: the counters tell who uses the bot; a token, or nothing.
        given = bearer_token(request.headers.get("Authorization", ""))
        wanted = settings.metrics_token
        if not wanted or given is None or not hmac.compare_digest(given.encode(), wanted.encode()):
            return bad_request("unauthorized", status=401)
    body, content_type = request.app[METRICS_KEY].exposition(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type})


def setup_routes(app: web.Application) -> None:
    """Register the bot's routes."""
    app[TURN_LOCKS] = ConversationLocks()
    app[LATE_TURNS] = LateTurns()
    app[LATE_PROBES] = set()
    app.on_shutdown.append(app[LATE_TURNS].close)
    app[HEALTH_CACHE] = {}
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
