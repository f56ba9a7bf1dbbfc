"""Delegated sign-in and the tokens the live checks use (MSAL, only here).

Three ways a customer's admin signs in, all ending in a per-user MSAL token
cache and a :class:`DelegatedTokenProvider` the checks call as
``await provider(scope)``:

* **Teams SSO** (``signin/tokenExchange``): Teams hands over a token for the
  bot's own API; :meth:`MsalAuth.sign_in_with_assertion` trades it on behalf
  of the user (OBO, ``ConfidentialClientApplication``, authority = the user's
  tenant) for Microsoft Graph right away, so a failure can be answered with
  412 and Teams falls back to the sign-in card.
* **The sign-in card** (``signin/verifyState``): the Bot Framework token
  service (``bot/token_service.py``) returns the connection's token for the
  magic code; it is the same kind of assertion and goes the same OBO way.
* **Device code** outside Teams (``make chat``): ``PublicClientApplication``
  shows a code, then polls in a worker thread until the user has entered it.

MSAL is synchronous (``requests``), so every MSAL call runs in
``asyncio.to_thread``. Token caches are per user: in memory, and — only when
``TOKEN_CACHE_KEY`` is set — also in the store, encrypted with Fernet. Tokens
never reach the store in clear text, a log line, an exception message or a
reply: errors are turned into short safe sentences here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msal
from cryptography.fernet import Fernet, InvalidToken

from bot.settings import Settings
from bot.store.base import KeyValueRepository
from bot.tls import requests_session
from checks import GRAPH_SCOPE, TokenUnavailable
from checks.base import certificate_problem, redact, shorten
from dialogs import store_keys
from dialogs.live import phrases

_LOGGER = logging.getLogger(__name__)

#: Hosts MSAL knows; any other AUTHORITY (a sovereign proxy, the tests) skips instance discovery.
MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
    }
)
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
#: Scope names shown to people instead of URLs.
SCOPE_NAMES: Mapping[str, str] = {
    GRAPH_SCOPE: "Microsoft Graph",
    "https://outlook.office365.com/.default": "Exchange Online",
    "https://outlook.office.com/SMTP.Send": "SMTP.Send",
}
VAULT_PREFIX = store_keys.TOKEN_CACHE
MAX_USERS_IN_MEMORY = 2000
MSAL_TIMEOUT_S = 10.0
_AADSTS = re.compile(r"AADSTS(\d+)")
# An assertion this close to expiry is not worth an on-behalf-of call.
_ASSERTION_SLACK_S = 60


class SignInFailed(Exception):
    """Sign-in did not work; the message is safe to show (no token, no trace id)."""


def user_key(*parts: str) -> str:
    """A stable, opaque key for one person (tenant + user id), used for caches and limits.

    Args:
        *parts: The identifying parts, e.g. the tenant id and the Entra object id.

    Returns:
        A hex digest; the ids themselves never become storage keys.
    """
    joined = "\x1f".join(p.strip().lower() for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:40]


def token_claims(token: str) -> dict[str, Any]:
    """Read a JWT's claims without verifying it (the issuer already did; this only routes).

    Args:
        token: A JWT access or id token.

    Returns:
        The claims, or an empty dict when the token is not a readable JWT.
    """
    parts = token.split(".")
    if len(parts) < 2:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def unreachable(exc: BaseException, service: str = "the sign-in service") -> str:
    """Why a service could not be used: a certificate problem named as such, else "not reached".

    Args:
        exc: What the connection raised.
        service: Who was called, for the sentence.

    Returns:
        A short, safe sentence fragment.
    """
    problem = certificate_problem(exc)
    if problem:
        return phrases.CERTIFICATE_NOT_TRUSTED.format(service=service, reason=problem)
    return phrases.SERVICE_UNREACHABLE.format(service=service, error=type(exc).__name__)


def describe_error(result: Mapping[str, Any], scope: str | None = None) -> str:
    """Turn an MSAL error result into one short sentence a customer can read.

    Args:
        result: MSAL's answer (``error``, ``error_description``, ``error_codes``).
        scope: The scope that was asked for, named in the sentence.

    Returns:
        e.g. "Exchange Online: the user or administrator has not consented to use the
        application (AADSTS65001)". Trace and correlation ids are dropped; tokens
        are redacted on principle.
    """
    description = str(result.get("error_description") or "")
    codes = [str(c) for c in result.get("error_codes") or []]
    match = _AADSTS.search(description)
    code = f"AADSTS{match.group(1)}" if match else (f"AADSTS{codes[0]}" if codes else "")
    text = _AADSTS.sub("", description).lstrip(": ").split(" Trace ID:")[0]
    text = text.split(". ")[0].strip().rstrip(".")
    if not text:
        text = str(result.get("error") or "sign-in failed").replace("_", " ")
    text = text[0].lower() + text[1:] if text[:1].isupper() and text[1:2].islower() else text
    where = f"{SCOPE_NAMES.get(scope, scope)}: " if scope else ""
    suffix = f" ({code})" if code else ""
    return shorten(redact(f"{where}{text}{suffix}"), 240)


# ----------------------------------------------------------------------------- the vault


class TokenVault:
    """Per-user token records: in memory, plus Fernet-encrypted in the store when keyed.

    A record is a small dict holding the serialized MSAL cache (and, for a
    fresh SSO sign-in, the assertion). Without ``TOKEN_CACHE_KEY`` nothing is
    ever written to the store, so a restart means signing in again.
    """

    def __init__(self, kv: KeyValueRepository | None, key: str = "") -> None:
        """Create the vault.

        Args:
            kv: The store's key-value repository (used only with a key).
            key: A Fernet key; empty keeps everything in memory only.
        """
        self._kv = kv if key else None
        self._fernet = Fernet(key.encode()) if key else None
        self._memory: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @property
    def persistent(self) -> bool:
        """True when records are also kept, encrypted, in the store."""
        return self._fernet is not None

    async def load(self, key: str) -> dict[str, Any] | None:
        """Return the user's record, from memory or (decrypted) from the store.

        Args:
            key: The user's key (see :func:`user_key`).

        Returns:
            The record, or None when the user has not signed in (or it can't be read).
        """
        if key in self._memory:
            self._memory.move_to_end(key)
            return dict(self._memory[key])
        if self._kv is None or self._fernet is None:
            return None
        sealed = await self._kv.get(store_keys.token_cache(key))
        if not isinstance(sealed, dict) or not isinstance(sealed.get("sealed"), str):
            return None
        try:
            record = json.loads(self._fernet.decrypt(sealed["sealed"].encode()))
        except (InvalidToken, ValueError):
            # A rotated key makes old records unreadable: that is a sign-in, not an error.
            _LOGGER.info("token cache record unreadable (key changed?); signing in again")
            return None
        if not isinstance(record, dict):
            return None
        self._remember(key, record)
        return dict(record)

    async def save(self, key: str, record: dict[str, Any]) -> None:
        """Keep the user's record (and store it encrypted when keyed).

        Args:
            key: The user's key.
            record: The record; only JSON values.
        """
        self._remember(key, record)
        if self._kv is not None and self._fernet is not None:
            sealed = self._fernet.encrypt(json.dumps(record).encode()).decode()
            await self._kv.set(store_keys.token_cache(key), {"v": 1, "sealed": sealed})

    async def forget(self, key: str) -> None:
        """Drop the user's record everywhere.

        Args:
            key: The user's key.
        """
        self._memory.pop(key, None)
        if self._kv is not None:
            await self._kv.delete(store_keys.token_cache(key))

    def _remember(self, key: str, record: dict[str, Any]) -> None:
        self._memory[key] = dict(record)
        self._memory.move_to_end(key)
        while len(self._memory) > MAX_USERS_IN_MEMORY:
            self._memory.popitem(last=False)


# -------------------------------------------------------------------------- providers

AcquireFn = Callable[[str], dict[str, Any]]


class DelegatedTokenProvider:
    """The checks' token provider for one signed-in user: ``await provider(scope)``.

    Tokens are memoised per scope for the provider's life (one check run),
    concurrent requests for one scope share a single MSAL call, and every
    failure becomes :class:`checks.TokenUnavailable` with a safe message.
    """

    def __init__(
        self,
        acquire: AcquireFn,
        persist: Callable[[], Any],
        *,
        tenant_id: str | None,
        username: str | None = None,
    ) -> None:
        """Create the provider.

        Args:
            acquire: Blocking MSAL call for one scope (run in a worker thread).
            persist: Coroutine function saving the user's cache after a change.
            tenant_id: The signed-in user's tenant, as far as known yet.
            username: The signed-in user's UPN, as far as known.
        """
        self._acquire = acquire
        self._persist = persist
        self._tokens: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.tenant_id = tenant_id
        self.username = username

    async def __call__(self, scope: str) -> str:
        """Return an access token for ``scope``.

        Args:
            scope: One of the ``checks.*_SCOPE`` constants.

        Returns:
            The token.

        Raises:
            TokenUnavailable: No token for this scope (consent, expiry, outage).
        """
        if scope in self._tokens:
            return self._tokens[scope]
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            if scope in self._tokens:
                return self._tokens[scope]
            try:
                result = await asyncio.to_thread(self._acquire, scope)
            except (ValueError, OSError) as exc:
                # MSAL raises ValueError when the authority cannot be reached or read.
                raise TokenUnavailable(
                    f"{SCOPE_NAMES.get(scope, scope)}: {unreachable(exc)}"
                ) from None
            token = result.get("access_token") if isinstance(result, dict) else None
            if not isinstance(token, str) or not token:
                raise TokenUnavailable(describe_error(result or {}, scope))
            claims = token_claims(token)
            if not self.tenant_id and isinstance(claims.get("tid"), str):
                self.tenant_id = claims["tid"]
            id_claims = result.get("id_token_claims") or {}
            if not self.username:
                self.username = id_claims.get("preferred_username") or claims.get("upn")
            self._tokens[scope] = token
        await self._persist()
        return token

    def token_tenant(self, scope: str = GRAPH_SCOPE) -> str | None:
        """The ``tid`` of the token issued for ``scope`` (the tenant the checks may read).

        Args:
            scope: Which token to read; Graph by default.

        Returns:
            The tenant id, or None before a token was issued.
        """
        token = self._tokens.get(scope)
        if token is None:
            return self.tenant_id
        tid = token_claims(token).get("tid")
        return tid if isinstance(tid, str) else self.tenant_id


@dataclass
class DeviceSignIn:
    """A device code sign-in in progress: show :attr:`message`, then await :meth:`wait`."""

    message: str
    user_code: str
    _flow: dict[str, Any] = field(repr=False)
    _finish: Callable[[], Any] = field(repr=False)

    async def wait(self) -> DelegatedTokenProvider:
        """Poll (in a worker thread) until the user has signed in.

        Returns:
            The user's token provider.

        Raises:
            SignInFailed: Declined, expired or cancelled.
        """
        provider: DelegatedTokenProvider = await self._finish()
        return provider

    def cancel(self) -> None:
        """Stop polling within a second (MSAL's documented way: expire the flow)."""
        self._flow["expires_at"] = 0


# ------------------------------------------------------------------------------ MSAL


class MsalAuth:
    """Builds MSAL apps for a user's cache and turns sign-ins into token providers."""

    def __init__(self, settings: Settings, vault: TokenVault) -> None:
        """Create the helper (nothing touches the network until a sign-in).

        Args:
            settings: Supplies the app id/secret, AUTHORITY and TLS_CA_FILE.
            vault: Where per-user caches live.
        """
        self.settings = settings
        self.vault = vault
        # Tenant discovery answers, shared by every per-user app (MSAL's http_cache).
        self._http_cache: dict[Any, Any] = {}
        self._http_lock = threading.Lock()
        self._bot_app: msal.ConfidentialClientApplication | None = None
        # Device code sign-ins in progress, one per user: a new one replaces the old.
        self._device_sign_ins: dict[str, DeviceSignIn] = {}

    # ----- configuration -------------------------------------------------------
    @property
    def configured(self) -> bool:
        """True when an Entra app for customer sign-in is configured."""
        return bool(self.settings.signin_app_id)

    def authority(self, tenant_id: str | None) -> str:
        """The authority URL for a tenant (``organizations`` when unknown).

        Args:
            tenant_id: The user's tenant id.

        Returns:
            e.g. ``https://login.microsoftonline.com/<tenant>``.
        """
        return f"{self.settings.authority.rstrip('/')}/{tenant_id or 'organizations'}"

    def admin_consent_url(self, tenant_id: str | None) -> str:
        """Where a Global Administrator grants the app's permissions for the whole tenant.

        Args:
            tenant_id: The customer's tenant, or None for "the admin's own".

        Returns:
            The ``/adminconsent`` URL.
        """
        return (
            f"{self.settings.authority.rstrip('/')}/{tenant_id or 'organizations'}"
            f"/adminconsent?client_id={self.settings.signin_app_id}"
        )

    def _app_options(self) -> dict[str, Any]:
        host = urlsplit(self.settings.authority).hostname or ""
        custom = host not in MICROSOFT_AUTHORITY_HOSTS
        options: dict[str, Any] = {
            "http_cache": self._http_cache,
            # A non-Microsoft authority (sovereign proxy, tests) has no instance discovery.
            "validate_authority": not custom,
            "instance_discovery": False if custom else None,
        }
        # The one CA setting (TLS_CA_FILE) applies here as everywhere (bot/tls.py).
        options["http_client"] = requests_session(self.settings, MSAL_TIMEOUT_S)
        return options

    def _confidential(
        self, tenant_id: str | None, cache: msal.SerializableTokenCache
    ) -> msal.ConfidentialClientApplication:
        # Built in a worker thread: the constructor fetches the tenant's OpenID document.
        with self._http_lock:
            return msal.ConfidentialClientApplication(
                self.settings.signin_app_id,
                client_credential=self.settings.signin_app_secret,
                authority=self.authority(tenant_id),
                token_cache=cache,
                **self._app_options(),
            )

    def _public(
        self, tenant_id: str | None, cache: msal.SerializableTokenCache
    ) -> msal.PublicClientApplication:
        with self._http_lock:
            return msal.PublicClientApplication(
                self.settings.signin_app_id,
                authority=self.authority(tenant_id),
                token_cache=cache,
                **self._app_options(),
            )

    # ----- the bot's own token (for the Bot Framework token service) ------------
    async def bot_app_token(self) -> str | None:
        """The bot's client-credentials token for the token service; None in local mode.

        Returns:
            The token, or None without an app id.

        Raises:
            SignInFailed: The bot's own credentials were refused.
        """
        if not self.settings.app_id or not self.settings.app_password:
            return None

        def acquire() -> dict[str, Any]:
            if self._bot_app is None:
                tenant = self.settings.app_tenant_id or "botframework.com"
                with self._http_lock:
                    self._bot_app = msal.ConfidentialClientApplication(
                        self.settings.app_id,
                        client_credential=self.settings.app_password,
                        authority=f"{self.settings.authority.rstrip('/')}/{tenant}",
                        **self._app_options(),
                    )
            return dict(self._bot_app.acquire_token_for_client([BOT_FRAMEWORK_SCOPE]))

        try:
            result = await asyncio.to_thread(acquire)
        except (ValueError, OSError) as exc:
            raise SignInFailed(unreachable(exc, "the bot's own sign-in")) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            raise SignInFailed("the bot's own sign-in failed: " + describe_error(result or {}))
        return str(token)

    # ----- sign-in paths ---------------------------------------------------------
    async def sign_in_with_assertion(
        self, key: str, assertion: str, tenant_id: str | None
    ) -> DelegatedTokenProvider:
        """Sign in with a token for the bot's own API (Teams SSO or the OAuth connection).

        The Graph token is fetched on behalf of the user at once, so a refusal
        (no consent, wrong audience, expired) is known before answering Teams.

        Args:
            key: The user's key.
            assertion: The token Teams or the token service handed over.
            tenant_id: The user's tenant from the activity (the OBO authority).

        Returns:
            A provider that already holds the Graph token.

        Raises:
            SignInFailed: The assertion can't be used; the message says why.
        """
        if not self.configured:
            raise SignInFailed("sign-in is not set up for this bot (no Entra app id)")
        claims = token_claims(assertion)
        # v2 SSO tokens name the app id, v1 ones the URI api://botid-<bot app id>.
        audience = str(claims.get("aud", "")).lower()
        ours = {i.lower() for i in (self.settings.signin_app_id, self.settings.app_id) if i}
        if audience and not any(i in audience for i in ours):
            raise SignInFailed("the sign-in token was issued for a different app")
        expires = claims.get("exp")
        record: dict[str, Any] = {
            "v": 1,
            "kind": "obo",
            "tenant": tenant_id or claims.get("tid"),
            # Cached access tokens are filed under the authority's tenant: keep using it.
            "authority_tenant": tenant_id,
            "assertion": assertion,
            "assertion_exp": int(expires) if isinstance(expires, int | float) else None,
            "cache": None,
        }
        provider = await self._provider(key, record)
        try:
            await provider(GRAPH_SCOPE)
        except TokenUnavailable as exc:
            raise SignInFailed(str(exc)) from None
        return provider

    async def start_device_sign_in(self, key: str, scopes: list[str]) -> DeviceSignIn:
        """Begin a device code sign-in (outside Teams).

        Args:
            key: The user's key.
            scopes: What to consent to first (Graph); the rest come from the refresh token.

        Returns:
            The sign-in: its message tells the user where to enter which code.

        Raises:
            SignInFailed: The authority refused to start one.
        """
        if not self.configured:
            raise SignInFailed("sign-in is not set up for this bot (no Entra app id)")
        cache = msal.SerializableTokenCache()

        def initiate() -> tuple[msal.PublicClientApplication, dict[str, Any]]:
            app = self._public(None, cache)
            return app, app.initiate_device_flow(scopes=scopes)

        try:
            app, flow = await asyncio.to_thread(initiate)
        except (ValueError, OSError) as exc:
            raise SignInFailed(unreachable(exc)) from None
        if "user_code" not in flow:
            raise SignInFailed(describe_error(flow))

        async def finish() -> DelegatedTokenProvider:
            result = await asyncio.to_thread(app.acquire_token_by_device_flow, flow)
            if isinstance(result, dict) and result.get("error") in (
                    "authorization_pending", "expired_token", "slow_down"):
                raise SignInFailed("the code was not entered in time")
            if not isinstance(result, dict) or "access_token" not in result:
                raise SignInFailed(describe_error(result or {}))
            tid = (result.get("id_token_claims") or {}).get("tid") or token_claims(
                str(result["access_token"])
            ).get("tid")
            record = {"v": 1, "kind": "device", "tenant": tid, "authority_tenant": None,
                      "assertion": None, "assertion_exp": None, "cache": cache.serialize()}
            await self.vault.save(key, record)
            provider = await self._provider(key, record)
            await provider(scopes[0])
            return provider

        async def finish_once() -> DelegatedTokenProvider:
            try:
                return await finish()
            finally:
                if self._device_sign_ins.get(key) is sign_in:
                    del self._device_sign_ins[key]

        sign_in = DeviceSignIn(
            message=str(flow.get("message", "")),
            user_code=str(flow["user_code"]),
            _flow=flow,
            _finish=finish_once,
        )
        previous = self._device_sign_ins.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._device_sign_ins[key] = sign_in
        return sign_in

    def cancel_device_sign_ins(self) -> None:
        """Stop every device code sign-in in progress (the app is stopping)."""
        for sign_in in list(self._device_sign_ins.values()):
            sign_in.cancel()

    async def provider_for(self, key: str) -> DelegatedTokenProvider | None:
        """The provider of a user who signed in earlier (this process, or the encrypted cache).

        Args:
            key: The user's key.

        Returns:
            A provider, or None when the user must sign in (again).
        """
        record = await self.vault.load(key)
        if record is None or not self.configured:
            return None
        provider = await self._provider(key, record)
        try:
            await provider(GRAPH_SCOPE)
        except TokenUnavailable:
            return None
        return provider

    async def sign_out(self, key: str) -> None:
        """Forget the user's tokens.

        Args:
            key: The user's key.
        """
        await self.vault.forget(key)

    # ----- internals -------------------------------------------------------------
    async def _provider(self, key: str, record: dict[str, Any]) -> DelegatedTokenProvider:
        cache = msal.SerializableTokenCache()
        if record.get("cache"):
            cache.deserialize(record["cache"])
        tenant = record.get("tenant")
        kind = record.get("kind")
        try:
            app: msal.ClientApplication = await asyncio.to_thread(
                self._confidential if kind == "obo" else self._public,
                record.get("authority_tenant", tenant), cache,
            )
        except (ValueError, OSError) as exc:
            raise SignInFailed(unreachable(exc)) from None
        assertion = record.get("assertion")
        assertion_exp = record.get("assertion_exp")

        def acquire(scope: str) -> dict[str, Any]:
            accounts = app.get_accounts()
            result: dict[str, Any] | None = None
            if accounts:
                result = app.acquire_token_silent_with_error([scope], accounts[0])
                if result and "access_token" in result:
                    return result
            usable = isinstance(assertion, str) and (
                not assertion_exp or assertion_exp - _ASSERTION_SLACK_S > time.time()
            )
            if usable and isinstance(app, msal.ConfidentialClientApplication):
                return dict(app.acquire_token_on_behalf_of(assertion, [scope]))
            return result or {
                "error": "interaction_required",
                "error_description": "The sign-in has expired. Please sign in again.",
            }

        async def persist() -> None:
            if cache.has_state_changed:
                record["cache"] = cache.serialize()
                await self.vault.save(key, record)

        provider = DelegatedTokenProvider(acquire, persist, tenant_id=tenant)
        return provider
