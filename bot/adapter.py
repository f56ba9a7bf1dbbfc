"""The Bot Framework adapter: CloudAdapter, single-tenant auth, a fast turn path, calm errors.

The SDK's ``CloudAdapter`` builds a new msrest ``ConnectorClient`` and a new
``TokenApiClient`` on every turn and sends replies with ``requests`` in a
thread pool; that is most of a turn's CPU (platform.md §11). Here:

* :class:`PooledBotFrameworkAuthentication` wraps the SDK's authentication and
  hands out connector and user-token clients reused per app id, service URL
  and audience (inbound authentication is still the SDK's, unchanged);
* :class:`FastCloudAdapter` sends, updates and deletes activities over one
  shared ``aiohttp.ClientSession`` with the same URLs, body (the SDK's
  serializer), headers and errors as the SDK's connector, attaching the
  outgoing Bot Framework token from the SDK's own credentials, cached until
  shortly before it expires.

Everything else (``process_activity``, ``continue_conversation``,
``create_conversation``, TeamsInfo calls) is the SDK's code running on the
pooled clients; without a session, or for a connector the SDK wired to
another transport (streaming), sends go through the SDK's path.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import functools
import json
import logging
import random
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    CallerIdConstants,
    ConversationReference,
    DeliveryModes,
    ResourceResponse,
)
from botframework.connector import Channels, models
from botframework.connector.about import __version__ as connector_version
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from msrest import Deserializer
from msrest.exceptions import ClientRequestError
from msrest.serialization import Model
from msrest.universal_http import ClientRequest, HTTPClientResponse
from multidict import CIMultiDict
from yarl import URL

from bot import budget
from bot.settings import Settings
from bot.store.codec import parse_json
from bot.wire import encode_body, model_from_json, to_json

_LOGGER = logging.getLogger(__name__)
SORRY = (
    "Sorry, something went wrong on my side. Your answers are kept; please try again, "
    "or say \"talk to a person\"."
)
# The SDK's connector identifies itself like this
# (botframework/connector/auth/_connector_factory_impl.py).
USER_AGENT = f"Microsoft-BotFramework/3.1 (BotBuilder Python/{connector_version})"
# One connector request may take this long before it counts as failed. A turn does
# not wait for it past its own budget (bot/budget.py): the send goes on after the
# answer to Teams, so a slow connector delays the reply, not Teams' request.
CONNECTOR_TIMEOUT_SECONDS = 60.0
# Refresh an outgoing token this long before it expires.
TOKEN_REFRESH_MARGIN_SECONDS = 300.0
# How long to keep a token whose expiry cannot be read (MSAL keeps its own cache behind it).
TOKEN_FALLBACK_TTL_SECONDS = 300.0
# Distinct (app id, service URL, audience) clients kept; Teams uses a handful of service URLs.
MAX_POOLED_CLIENTS = 256
# When to try a connector call again (platform.md §12). 429 and a connection that
# never reached the connector: always, after Retry-After or a backoff. A 5xx, 408
# or timeout is ambiguous for POST (the connector may have delivered it, and the
# call has no idempotency key): once. PUT and DELETE are idempotent: like msrest,
# up to three times on 408 and on 5xx other than 501 and 505.
RETRIES = 3
THROTTLE_RETRIES = 4
AMBIGUOUS_POST_RETRIES = 1
BACKOFF_FACTOR = 0.8
SAFE_STATUSES = frozenset({*range(500), 501, 505}) - {408}
# Outside a turn, the longest Retry-After honoured in place; longer waits go back to
# the caller (the outbox schedules the message for then).
MAX_INLINE_RETRY_AFTER_SECONDS = 5.0


def retry_after_seconds(headers: Any) -> float | None:
    """Read ``Retry-After`` (seconds, or an HTTP date) from response headers; None if absent."""
    raw = str(headers.get("Retry-After", "") or "").strip() if headers is not None else ""
    if not raw:
        return None
    if raw.isdigit():
        return float(raw)
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def failure_of(error: BaseException) -> tuple[int | None, float | None]:
    """The HTTP status of a failed connector call and its Retry-After, as far as known."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return (int(status) if isinstance(status, int) else None,
            retry_after_seconds(getattr(response, "headers", None)))


@dataclass(frozen=True)
class SdkConfiguration:
    """The attribute names botbuilder's configuration classes look for."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str | None = None
    # Set only together with the metadata override (tests): with any one of these the
    # SDK switches to its "parameterized" authentication, which leaves every value it
    # is not given empty; spelling out the public cloud's values keeps it equivalent.
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str | None = None
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str | None = None
    TO_CHANNEL_FROM_BOT_LOGIN_URL: str | None = None
    OAUTH_URL: str | None = None
    CALLER_ID: str | None = None


def sdk_configuration(settings: Settings) -> SdkConfiguration:
    """Translate our settings into what ConfigurationBotFrameworkAuthentication reads."""
    public_cloud: dict[str, Any] = {}
    if settings.openid_metadata_url:
        public_cloud = {
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER":
                AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
            "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE":
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
            "TO_CHANNEL_FROM_BOT_LOGIN_URL":
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
            "OAUTH_URL": AuthenticationConstants.OAUTH_URL,
            "CALLER_ID": CallerIdConstants.public_azure_channel,
        }
    return SdkConfiguration(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password,
        # The SDK insists on credentials for SingleTenant; with no app id at all
        # (local mode) its MultiTenant path is the one that means "auth off".
        APP_TYPE=settings.app_type if settings.app_id else "MultiTenant",
        APP_TENANTID=settings.app_tenant_id,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.openid_metadata_url or None,
        **public_cloud,
    )


def _app_id_of(claims_identity: ClaimsIdentity) -> str | None:
    """The bot's app id as the SDK reads it from a claims identity (audience, else appid)."""
    app_id = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return app_id


class ClientPool:
    """Connector and user-token clients built once and reused, least recently used evicted."""

    def __init__(self, max_entries: int = MAX_POOLED_CLIENTS) -> None:
        """Keep at most ``max_entries`` clients of each kind."""
        self.max_entries = max_entries
        self._connectors: OrderedDict[tuple[Any, ...], ConnectorClient] = OrderedDict()
        self._token_clients: OrderedDict[tuple[Any, ...], UserTokenClient] = OrderedDict()
        self.built = 0  # how many clients were actually built (for tests and diagnostics)

    async def connector(
        self, key: tuple[Any, ...], build: Callable[[], Awaitable[ConnectorClient]]
    ) -> ConnectorClient:
        """Return the connector client for ``key``, building it with ``build`` once."""
        return await self._get(self._connectors, key, build)

    async def user_token_client(
        self, key: tuple[Any, ...], build: Callable[[], Awaitable[UserTokenClient]]
    ) -> UserTokenClient:
        """Return the user-token client for ``key``, building it with ``build`` once."""
        return await self._get(self._token_clients, key, build)

    async def _get(self, cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...],
                   build: Callable[[], Awaitable[Any]]) -> Any:
        client = cache.get(key)
        if client is not None:
            cache.move_to_end(key)
            return client
        client = await build()
        # Two turns may have built one concurrently; keep the first so both share it.
        existing = cache.setdefault(key, client)
        if existing is client:
            self.built += 1
            while len(cache) > self.max_entries:
                cache.popitem(last=False)
        return existing


class PooledConnectorFactory(ConnectorFactory):
    """The SDK's connector factory, remembering what it built per service URL and audience."""

    def __init__(self, inner: ConnectorFactory, pool: ClientPool, app_id: str | None,
                 default_audience: str | None) -> None:
        """Wrap ``inner`` (the SDK's factory for ``app_id``) around ``pool``.

        Args:
            inner: the factory the SDK built for this request or proactive turn.
            pool: where clients are kept.
            app_id: the bot's app id from the claims (None in local mode).
            default_audience: the audience ``inner`` uses when none is given, so a
                proactive turn (no audience) shares the client of a reactive one.
        """
        self.inner = inner
        self.pool = pool
        self.app_id = app_id or None
        self.default_audience = default_audience

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        """Return the pooled client for ``service_url`` and ``audience``."""
        return await self.pool.connector(
            ("connector", self.app_id, service_url, audience or self.default_audience),
            lambda: self.inner.create(service_url, audience),
        )


class PooledBotFrameworkAuthentication(BotFrameworkAuthentication):
    """The SDK's authentication, with connector and user-token clients pooled."""

    def __init__(self, inner: BotFrameworkAuthentication, pool: ClientPool | None = None) -> None:
        """Wrap ``inner``; every request and proactive turn still authenticates through it."""
        self.inner = inner
        self.pool = pool or ClientPool()

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        """Authenticate with the SDK, then hand out the pooled connector factory."""
        result = await self.inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = PooledConnectorFactory(
                result.connector_factory, self.pool, _app_id_of(result.claims_identity),
                self.inner.get_originating_audience())
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        """Streaming connections get their own transport from the SDK; nothing to pool."""
        return await self.inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        """Return the pooled factory for proactive turns (continue/create conversation)."""
        return PooledConnectorFactory(self.inner.create_connector_factory(claims_identity),
                                      self.pool, _app_id_of(claims_identity),
                                      self.inner.get_originating_audience())

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        """Return the user-token client for the claims' app id, built once."""
        return await self.pool.user_token_client(
            ("user-token", _app_id_of(claims_identity) or None,
             self.inner.get_originating_audience()),
            lambda: self.inner.create_user_token_client(claims_identity),
        )

    def create_bot_framework_client(self) -> Any:
        """Delegate (skills)."""
        return self.inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        """Delegate."""
        return self.inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        """Delegate (skill callbacks)."""
        return await self.inner.authenticate_channel_request(auth_header)


class TokenCache:
    """Outgoing Bot Framework tokens from the SDK's credentials, kept until near expiry.

    The credentials' ``get_access_token`` is synchronous (MSAL over ``requests``),
    so it runs in a worker thread, once per key however many turns wait for it.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._tokens: dict[tuple[Any, ...], tuple[str, float]] = {}
        self._locks: dict[tuple[Any, ...], asyncio.Lock] = {}

    @staticmethod
    def wants_token(credentials: Any) -> bool:
        """Mirror AppCredentials._should_set_token: no app id (local mode) means no header."""
        app_id = getattr(credentials, "microsoft_app_id", None)
        return bool(app_id) and app_id != AuthenticationConstants.ANONYMOUS_SKILL_APP_ID

    @staticmethod
    def _key(credentials: Any) -> tuple[Any, ...]:
        # Equal credentials share a token even when the SDK built two objects for them.
        return (type(credentials).__name__, getattr(credentials, "microsoft_app_id", None),
                getattr(credentials, "oauth_scope", None),
                getattr(credentials, "oauth_endpoint", None))

    async def token(self, credentials: Any) -> str:
        """Return a valid access token for ``credentials``."""
        key = self._key(credentials)
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            token = await asyncio.to_thread(credentials.get_access_token)
            self._tokens[key] = (token, time.monotonic() + self._lifetime(token))
            return token

    def forget(self, credentials: Any) -> None:
        """Drop the cached token (the connector refused it)."""
        self._tokens.pop(self._key(credentials), None)

    @staticmethod
    def _lifetime(token: str) -> float:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            expires = float(claims["exp"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return TOKEN_FALLBACK_TTL_SECONDS
        return max(0.0, expires - time.time() - TOKEN_REFRESH_MARGIN_SECONDS)


@dataclass
class ConnectorHttpResponse:
    """A finished connector response; ``ErrorResponseException.response`` is one of these.

    It answers both the ``requests`` spelling the SDK's own transport exposes
    (``status_code``, ``text``, ``content``, ``json()``) and aiohttp's (``status``).
    """

    status_code: int
    reason: str
    headers: CIMultiDict[str]
    content: bytes
    url: str

    @property
    def status(self) -> int:
        """The HTTP status (aiohttp's name)."""
        return self.status_code

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        """Raise for a 4xx/5xx status, as ``requests`` does."""
        if self.status_code >= 400:
            raise ClientRequestError(f"{self.status_code} {self.reason} for url: {self.url}")


class _LoadedResponse(HTTPClientResponse):
    """A read response in the shape msrest's deserializer and errors expect."""

    def __init__(self, response: aiohttp.ClientResponse, body: bytes) -> None:
        headers = CIMultiDict(response.headers)
        super().__init__(ClientRequest(response.method, str(response.url)),
                         ConnectorHttpResponse(response.status, response.reason or "", headers,
                                               body, str(response.url)))
        self.status_code = response.status
        self.headers = headers
        self.reason = response.reason
        self._body = body

    def body(self) -> bytes:
        return self._body

    def raise_for_status(self) -> None:
        self.internal_response.raise_for_status()


# An ASCII character ``quote(..., safe="")`` escapes, and each one's escape.
_ESCAPED = re.compile(r"[^A-Za-z0-9_.~-]")
_ESCAPES = {chr(code): f"%{code:02X}" for code in range(128)}


def _escape(character: re.Match[str]) -> str:
    return _ESCAPES[character.group()]


def quote_segment(text: str) -> str:
    """``urllib.parse.quote(text, safe="")``: a URL path segment with nothing left safe.

    For ASCII text (every Teams id) a regex finds the few characters to escape
    (the ``:`` of ``a:1...``, ``19:...@thread``); ``quote`` escapes any id with
    one of them byte by byte in Python, several times slower. Other text is
    ``quote``'s (it encodes to UTF-8 first, or raises as it does).
    """
    if text.isascii():
        return _ESCAPED.sub(_escape, text)
    return quote(text, safe="")


class ConnectorSender:
    """The Bot Connector calls the turn path makes, over one shared aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, tokens: TokenCache) -> None:
        """Send with ``session``; take outgoing tokens from ``tokens``."""
        self.session = session
        self.tokens = tokens
        client_models = {k: v for k, v in models.__dict__.items() if isinstance(v, type)}
        # The deserializer the SDK's ConnectorClient reads errors (and odd responses) with.
        self.deserialize = Deserializer(client_models)
        self.timeout = aiohttp.ClientTimeout(total=CONNECTOR_TIMEOUT_SECONDS)

    @staticmethod
    def url(base_url: str, conversation_id: str, activity_id: str | None = None) -> str:
        """The connector URL msrest would build (ids quoted with nothing left safe)."""
        url = f"{base_url.rstrip('/')}/v3/conversations/{quote_segment(str(conversation_id))}"
        url += "/activities"
        if activity_id is not None:
            url += "/" + quote_segment(str(activity_id))
        return url

    async def call(
        self,
        client: ConnectorClient,
        method: str,
        url: str,
        activity: Activity | Model | dict[str, Any] | None,
        ok: tuple[int, ...],
        result_type: str = "ResourceResponse",
    ) -> Any:
        """Make one connector call, retrying as the module's policy says.

        Args:
            client: The pooled connector client (its credentials sign the call).
            method: ``POST``, ``PUT`` or ``DELETE``.
            url: The full URL.
            activity: The body: an Activity, another schema model, or its JSON already.
            ok: The statuses that mean success.
            result_type: The schema name of a successful response.

        Raises:
            ErrorResponseException: the connector answered with another status (as the SDK).
            ClientRequestError: no answer (as the SDK).
        """
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        data: bytes | None = None
        if activity is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
            if isinstance(activity, dict):
                data = encode_body(activity)
            else:
                data = encode_body(to_json(activity, type(activity).__name__))
        credentials = client.config.credentials
        if self.tokens.wants_token(credentials):
            headers["Authorization"] = f"Bearer {await self.tokens.token(credentials)}"
        idempotent = method in ("PUT", "DELETE")
        attempt = 0
        throttled = 0
        ambiguous = 0
        while True:
            try:
                async with self.session.request(method, URL(url, encoded=True), data=data,
                                                headers=headers, timeout=self.timeout) as response:
                    body = await response.read()
                    status = response.status
                    if status in ok:
                        return self._resource_response(response, body, result_type)
                    if status == 401:
                        self.tokens.forget(credentials)
                    if status == 429 and throttled < THROTTLE_RETRIES:
                        # Not processed: try again, as Teams asks, if the wait fits.
                        wait = retry_after_seconds(response.headers)
                        wait = self._backoff(throttled + 2, None) if wait is None else wait
                        if wait <= budget.remaining(MAX_INLINE_RETRY_AFTER_SECONDS):
                            throttled += 1
                            await asyncio.sleep(wait)
                            continue
                    elif status >= 500 or status == 408:
                        if idempotent and status not in SAFE_STATUSES and attempt < RETRIES:
                            attempt += 1
                            await asyncio.sleep(self._backoff(attempt, response))
                            continue
                        if not idempotent and ambiguous < AMBIGUOUS_POST_RETRIES:
                            ambiguous += 1
                            await asyncio.sleep(self._backoff(1, response))
                            continue
                    raise models.ErrorResponseException(self.deserialize,
                                                        _LoadedResponse(response, body))
            except aiohttp.ClientConnectorError as error:
                # Nothing reached the connector, so even a POST may go again (as urllib3 does).
                if attempt < RETRIES:
                    attempt += 1
                    await asyncio.sleep(self._backoff(attempt, None))
                    continue
                raise ClientRequestError(f"Error occurred in request., {error!r}", error) from error
            except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                    aiohttp.ClientPayloadError) as error:
                # The request went out and no answer came: it may or may not have arrived.
                if idempotent and attempt < RETRIES:
                    attempt += 1
                    await asyncio.sleep(self._backoff(attempt, None))
                    continue
                if not idempotent and ambiguous < AMBIGUOUS_POST_RETRIES:
                    ambiguous += 1
                    await asyncio.sleep(self._backoff(1, None))
                    continue
                raise ClientRequestError(f"Error occurred in request., {error!r}", error) from error

    def _resource_response(self, response: aiohttp.ClientResponse, body: bytes,
                           result_type: str = "ResourceResponse") -> Any:
        if not body:
            return None
        if response.content_type == "application/json":
            try:
                parsed = parse_json(body)  # json.loads(body), at a fraction of its cost
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                return model_from_json(result_type, parsed)
        # Anything unusual: msrest's own reading of the response.
        return self.deserialize(result_type, _LoadedResponse(response, body))

    @staticmethod
    def _backoff(attempt: int, response: aiohttp.ClientResponse | None) -> float:
        if response is not None and response.status == 503:
            retry_after = retry_after_seconds(response.headers)
            if retry_after is not None:
                return min(retry_after, budget.remaining(MAX_INLINE_RETRY_AFTER_SECONDS))
        if attempt <= 1:
            return 0.0
        # Jittered, so instances that failed together do not retry together.
        return BACKOFF_FACTOR * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


_IMMUTABLE = (str, int, float, bool, type(None), bytes, datetime.datetime, datetime.date,
              datetime.timedelta, Enum)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _copy_value(value: Any, memo: dict[int, Any]) -> Any:
    """copy.deepcopy for what activities hold: schema models, dicts, lists and immutables."""
    if type(value) in _SCALARS or isinstance(value, _IMMUTABLE):
        return value  # deepcopy keeps these (or makes an equal immutable copy)
    found = memo.get(id(value))
    if found is not None:
        return found
    kind: type = type(value)
    if kind is dict:
        new_dict: dict[Any, Any] = {}
        memo[id(value)] = new_dict
        for key, item in value.items():
            new_dict[_copy_value(key, memo)] = _copy_value(item, memo)
        return new_dict
    if kind is list:
        new_list: list[Any] = []
        memo[id(value)] = new_list
        new_list.extend(_copy_value(item, memo) for item in value)
        return new_list
    if isinstance(value, Model) and _plain_model(kind):
        # What deepcopy does for a plain object: a bare instance, then its __dict__ copied.
        new: Any = object.__new__(kind)  # kind.__new__ is object's (see _plain_model)
        memo[id(value)] = new
        # Most attributes of an outgoing activity are None or str: kept without a call.
        new.__dict__.update({k: v if type(v) in _SCALARS else _copy_value(v, memo)
                             for k, v in value.__dict__.items()})
        return new
    return copy.deepcopy(value, memo)


@functools.cache
def _plain_model(kind: type) -> bool:
    """True when deepcopy would copy instances of ``kind`` through their __dict__ alone."""
    return all(getattr(kind, name, None) is getattr(object, name, None)
               for name in ("__new__", "__deepcopy__", "__reduce_ex__", "__reduce__",
                            "__getstate__", "__setstate__")) and not hasattr(kind, "__slots__")


def copy_for_sending(activity: Activity) -> Activity:
    """Deep-copy an outgoing activity as TurnContext does, sharing its attachments' content.

    The SDK deep-copies every outgoing activity so later changes to the
    caller's object cannot alter what is sent; for a card that copies every
    node of its JSON. The content is plain JSON the bot built for this one
    message and never changes afterwards, so it is shared instead; the rest
    is copied as deepcopy would, with a copier that knows the schema models.
    """
    memo: dict[int, Any] = {}
    for attachment in activity.attachments or ():
        content = getattr(attachment, "content", None)
        if isinstance(content, (dict, list)):
            memo[id(content)] = content
    copied: Activity = _copy_value(activity, memo)
    return copied


@functools.cache
def _copied_plainly(kind: type) -> bool:
    """True when copy.copy of a ``kind`` is a bare instance with the same __dict__."""
    # (_plain_model first: mypy cannot see that a narrowed type[Model] is hashable.)
    return _plain_model(kind) and issubclass(kind, Model) and not hasattr(kind, "__copy__")


def _shallow_copy(value: Any) -> Any:
    """copy.copy, without its generic protocol for the plain schema models."""
    kind: type = type(value)
    if _copied_plainly(kind):
        new: Any = object.__new__(kind)  # what copy.copy's __reduce_ex__ path does for them
        new.__dict__.update(value.__dict__)
        return new
    return copy.copy(value)


def _same(value: Any) -> Any:
    return value


def conversation_reference(activity: Activity, *, copy_parts: bool = True) -> ConversationReference:
    """``TurnContext.get_conversation_reference`` (botbuilder-core 4.17.1), with cheaper copies.

    Args:
        activity: the incoming activity.
        copy_parts: copy ``from``, ``recipient`` and ``conversation``, as the
            SDK does so that later changes to the activity cannot reach a kept
            reference; False for a reference serialized at once.
    """
    part = _shallow_copy if copy_parts else _same
    return ConversationReference(
        activity_id=(
            activity.id
            if activity.type != ActivityTypes.conversation_update
            and activity.channel_id != Channels.direct_line
            and activity.channel_id != Channels.webchat
            else None
        ),
        user=part(activity.from_property),
        bot=part(activity.recipient),
        conversation=part(activity.conversation),
        channel_id=activity.channel_id,
        locale=activity.locale,
        service_url=activity.service_url,
    )


class FastTurnContext(TurnContext):
    """TurnContext that sends with :func:`copy_for_sending` instead of a full deepcopy
    (or, for replies handed over by :func:`send_replies`, without a copy)."""

    async def send_activities(self, activities: list[Activity], *,
                              handed_over: bool = False) -> list[ResourceResponse]:
        """TurnContext.send_activities (botbuilder-core 4.17.1), with the cheaper copy.

        Args:
            activities: what to send.
            handed_over: the caller built these activities for this call and
                keeps no reference to them, so they are sent as they are
                instead of as copies (see :func:`send_replies`).
        """
        sent_non_trace_activity = False
        ref = conversation_reference(self.activity)

        def activity_validator(activity: Activity) -> Activity:
            if not getattr(activity, "type", None):
                activity.type = ActivityTypes.message
            if activity.type != ActivityTypes.trace:
                nonlocal sent_non_trace_activity
                sent_non_trace_activity = True
            if not activity.input_hint:
                activity.input_hint = "acceptingInput"
            activity.id = None
            return activity

        output = [activity_validator(TurnContext.apply_conversation_reference(
            act if handed_over else copy_for_sending(act), ref)) for act in activities]

        async def logic() -> list[ResourceResponse]:
            nonlocal sent_non_trace_activity
            if self.activity.delivery_mode == DeliveryModes.expect_replies:
                responses = []
                for activity in output:
                    self.buffered_reply_activities.append(activity)
                    if activity.type == ActivityTypes.invoke_response:
                        self.turn_state[TurnContext._INVOKE_RESPONSE_KEY] = activity
                    responses.append(ResourceResponse())
                if sent_non_trace_activity:
                    self.responded = True
                return responses
            responses = await self.adapter.send_activities(self, output)
            if sent_non_trace_activity:
                self.responded = True
            return responses

        return await self._emit(self._on_send_activities, output, logic())

    async def _emit(self, plugins: list[Any], arg: Any, logic: Any) -> Any:
        """TurnContext._emit (botbuilder-core 4.17.1) without its reference cycle.

        The SDK's version chains the handlers through a closure that refers to
        itself, so every send and every update made a cycle holding the turn
        context, and with it the turn's activities, claims, connector factory
        and clients: about 50 objects a turn that only the garbage collector's
        full passes could free (measured under the bench load: 727 turn
        contexts among the garbage of one round). Here each handler's ``next``
        calls a module-level function instead. The same order, the same
        arguments, and ``logic`` awaited after the handlers, as there.
        """
        await _emit_from(self, list(plugins), 0, arg)
        return await logic


async def _emit_from(context: TurnContext, handlers: list[Any], index: int, arg: Any) -> None:
    """Call ``handlers[index]``, whose ``next`` calls the one after it."""
    if index < len(handlers):
        async def next_handler() -> None:
            await _emit_from(context, handlers, index + 1, arg)

        await handlers[index](context, arg, next_handler)


async def send_replies(turn_context: TurnContext,
                       activities: list[Activity]) -> list[ResourceResponse]:
    """Send activities built for this one call, which nobody else holds.

    The SDK copies every outgoing activity so that what the caller does with
    its object afterwards cannot change what was sent; a turn's rendered
    replies are never touched again, so on the fast path they go without the
    copy. Any other turn context sends them as usual.
    """
    if isinstance(turn_context, FastTurnContext):
        return await turn_context.send_activities(activities, handed_over=True)
    return await turn_context.send_activities(activities)


class FastCloudAdapter(CloudAdapter):
    """CloudAdapter on pooled clients, sending over a shared aiohttp session."""

    def __init__(self, bot_framework_authentication: BotFrameworkAuthentication,
                 app_id: str = "") -> None:
        """Wrap ``bot_framework_authentication`` so its clients are pooled.

        Args:
            bot_framework_authentication: The SDK's authentication.
            app_id: The bot's app id, for messages it starts itself (proactive).
        """
        self.pooled_authentication = PooledBotFrameworkAuthentication(bot_framework_authentication)
        super().__init__(self.pooled_authentication)
        self.app_id = app_id
        self.tokens = TokenCache()
        self.sender: ConnectorSender | None = None

    @property
    def pool(self) -> ClientPool:
        """The connector and user-token clients in use."""
        return self.pooled_authentication.pool

    def use_http_session(self, session: aiohttp.ClientSession | None) -> None:
        """Send replies over ``session`` from now on (None: back to the SDK's transport)."""
        self.sender = ConnectorSender(session, self.tokens) if session is not None else None

    def _sender_for(self, client: Any) -> ConnectorSender | None:
        sender = self.sender
        if sender is None or sender.session.closed or not isinstance(client, ConnectorClient):
            return None
        config = client.config
        # A connector the SDK wired to another transport (streaming) keeps it.
        if getattr(config, "driver", None) is not None or getattr(config, "sender", None) \
                is not None or getattr(config, "custom_pipeline", None) is not None:
            return None
        return sender

    def _create_turn_context(
        self,
        activity: Activity,
        claims_identity: ClaimsIdentity,
        oauth_scope: str,
        connector_client: ConnectorClient,
        user_token_client: UserTokenClient,
        logic: Callable[[TurnContext], Awaitable[Any]],
        connector_factory: ConnectorFactory,
    ) -> TurnContext:
        """CloudAdapterBase._create_turn_context, building a :class:`FastTurnContext`."""
        context = FastTurnContext(self, activity)
        context.turn_state[self.BOT_IDENTITY_KEY] = claims_identity
        context.turn_state[self.BOT_CONNECTOR_CLIENT_KEY] = connector_client
        context.turn_state[self.USER_TOKEN_CLIENT_KEY] = user_token_client
        context.turn_state[self.BOT_CALLBACK_HANDLER_KEY] = logic
        context.turn_state[self.CONNECTOR_FACTORY_KEY] = connector_factory
        context.turn_state[self.BOT_OAUTH_SCOPE_KEY] = oauth_scope
        return context

    def _connector(self, context: TurnContext) -> ConnectorClient:
        client = context.turn_state.get(self.BOT_CONNECTOR_CLIENT_KEY)
        if not client:
            raise RuntimeError("Unable to extract ConnectorClient from turn context.")
        return client

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        """Send like CloudAdapterBase.send_activities, over the shared session."""
        if not context:
            raise TypeError("Expected TurnContext but got None instead")
        if activities is None:
            raise TypeError("Expected Activities list but got None instead")
        if len(activities) == 0:
            raise TypeError("Expecting one or more activities, but the list was empty.")
        responses: list[ResourceResponse] = []
        for activity in activities:
            activity.id = None
            response: ResourceResponse | None = ResourceResponse()
            if activity.type == "delay":
                await asyncio.sleep(int((activity.value or 1000) / 1000))
            elif activity.type == ActivityTypes.invoke_response:
                context.turn_state[self._INVOKE_RESPONSE_KEY] = activity
            elif activity.type == ActivityTypes.trace and activity.channel_id != Channels.emulator:
                pass
            else:
                client = self._connector(context)
                sender = self._sender_for(client)
                conversation_id = activity.conversation.id
                if sender is None:
                    if activity.reply_to_id:
                        response = await client.conversations.reply_to_activity(
                            conversation_id, activity.reply_to_id, activity)
                    else:
                        response = await client.conversations.send_to_conversation(
                            conversation_id, activity)
                else:
                    url = sender.url(client.config.base_url, conversation_id,
                                     activity.reply_to_id or None)
                    response = await sender.call(client, "POST", url, activity, (200, 201, 202))
            responses.append(response or ResourceResponse(id=activity.id or ""))
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> Any:
        """Update like CloudAdapterBase.update_activity, over the shared session."""
        if not context:
            raise TypeError("Expected TurnContext but got None instead")
        if activity is None:
            raise TypeError("Expected Activity but got None instead")
        client = self._connector(context)
        sender = self._sender_for(client)
        if sender is None:
            return await super().update_activity(context, activity)
        response = await sender.call(
            client, "PUT",
            sender.url(client.config.base_url, activity.conversation.id, activity.id),
            activity, (200, 201, 202))
        response_id = response.id if response and response.id else None
        return ResourceResponse(id=response_id) if response_id else None

    # ----- messages the bot starts itself (the outbox, the sweep): straight to the connector --
    async def _proactive_client(self, service_url: str) -> tuple[ConnectorClient, ConnectorSender]:
        """The pooled connector client for ``service_url``, as a proactive turn would build it."""
        sender = self.sender
        if sender is None or sender.session.closed:
            raise RuntimeError("the adapter has no HTTP session to send with")
        claims = self.create_claims_identity(self.app_id)
        claims.claims[AuthenticationConstants.SERVICE_URL_CLAIM] = service_url
        factory = self.bot_framework_authentication.create_connector_factory(claims)
        return await factory.create(service_url, None), sender

    async def send_to(self, reference: dict[str, Any],
                      activities: list[dict[str, Any]]) -> list[str | None]:
        """Post activities (JSON) to a stored conversation, in order; return their new ids.

        Unlike ``continue_conversation``, a failure is raised to the caller (the SDK's
        proactive turn hands it to the turn error handler, which swallows it).
        """
        service_url = str(reference.get("serviceUrl") or "")
        conversation = reference.get("conversation") or {}
        client, sender = await self._proactive_client(service_url)
        ids: list[str | None] = []
        for activity in activities:
            body = {**activity, "conversation": conversation,
                    "from": reference.get("bot"), "recipient": reference.get("user"),
                    "channelId": reference.get("channelId"), "serviceUrl": service_url}
            body.pop("id", None)
            body.setdefault("type", "message")
            response = await sender.call(
                client, "POST", sender.url(client.config.base_url, str(conversation.get("id"))),
                {k: v for k, v in body.items() if v is not None}, (200, 201, 202))
            ids.append(getattr(response, "id", None))
        return ids

    async def update_in(self, reference: dict[str, Any], activity: dict[str, Any]) -> None:
        """Replace the message ``reference["activityId"]`` of a stored conversation (PUT)."""
        service_url = str(reference.get("serviceUrl") or "")
        conversation = reference.get("conversation") or {}
        activity_id = str(reference.get("activityId") or "")
        client, sender = await self._proactive_client(service_url)
        body = {**activity, "id": activity_id, "conversation": conversation,
                "from": reference.get("bot"), "channelId": reference.get("channelId"),
                "serviceUrl": service_url}
        body.setdefault("type", "message")
        await sender.call(
            client, "PUT",
            sender.url(client.config.base_url, str(conversation.get("id")), activity_id),
            {k: v for k, v in body.items() if v is not None}, (200, 201, 202))

    async def create_thread(self, channel: dict[str, Any],
                            activity: dict[str, Any]) -> dict[str, Any]:
        """Start a thread in a Teams channel with ``activity``; return the thread's reference."""
        service_url = str(channel.get("serviceUrl") or "")
        conversation = channel.get("conversation") or {}
        bot = channel.get("bot") or {}
        client, sender = await self._proactive_client(service_url)
        parameters = {"isGroup": True, "bot": {"id": bot.get("id"), "name": bot.get("name")},
                      "channelData": {"channel": {"id": conversation.get("id")}},
                      "activity": {"type": "message", **activity}}
        if conversation.get("tenantId"):
            parameters["tenantId"] = conversation["tenantId"]
        created = await sender.call(
            client, "POST", f"{client.config.base_url.rstrip('/')}/v3/conversations",
            parameters, (200, 201, 202), "ConversationResourceResponse")
        thread_id = str(getattr(created, "id", "") or "")
        if not thread_id:
            raise ClientRequestError("the connector created no conversation for the thread")
        return {"activityId": getattr(created, "activity_id", None), "bot": bot,
                "channelId": channel.get("channelId") or Channels.ms_teams,
                "conversation": {"id": thread_id, "isGroup": True,
                                 "conversationType": "channel",
                                 "tenantId": conversation.get("tenantId")},
                "serviceUrl": getattr(created, "service_url", None) or service_url}

    async def delete_activity(self, context: TurnContext, reference: ConversationReference) -> None:
        """Delete like CloudAdapterBase.delete_activity, over the shared session."""
        if not context:
            raise TypeError("Expected TurnContext but got None instead")
        if not reference:
            raise TypeError("Expected ConversationReference but got None instead")
        client = self._connector(context)
        sender = self._sender_for(client)
        if sender is None:
            await super().delete_activity(context, reference)
            return
        await sender.call(
            client, "DELETE",
            sender.url(client.config.base_url, reference.conversation.id, reference.activity_id),
            None, (200, 202))


def build_adapter(settings: Settings) -> FastCloudAdapter:
    """Create the adapter; an empty app id turns authentication off (local mode).

    Call :meth:`FastCloudAdapter.use_http_session` once the app's shared
    ClientSession exists; until then replies go through the SDK's transport.
    """
    from bot.channel_auth import channel_credentials_factory

    configuration = sdk_configuration(settings)
    # The bot's reply token comes from BOT_LOGIN_URL, one MSAL cache per audience.
    adapter = FastCloudAdapter(ConfigurationBotFrameworkAuthentication(
        configuration, credentials_factory=channel_credentials_factory(settings, configuration)),
        app_id=settings.app_id)

    async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
        from bot.store.base import is_store_failure

        if is_store_failure(error):
            # Not stored, so not answered: the HTTP layer says 503 and Teams delivers it again.
            raise error
        # Logged with the stack for us; the customer gets one calm sentence, never the trace.
        _LOGGER.exception(
            "turn failed", exc_info=error,
            extra={"conversation_id": getattr(turn_context.activity.conversation, "id", None)},
        )
        if turn_context.activity.type == "message":
            try:
                await turn_context.send_activity(SORRY)
            except Exception:  # noqa: BLE001 - the connector itself may be what failed
                _LOGGER.warning("could not send the error notice")

    adapter.on_turn_error = on_turn_error
    return adapter
