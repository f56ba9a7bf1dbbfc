"""Bot Framework channel authentication: which requests the bot accepts, and its own reply token.

Inbound, the SDK's JWT validation decides (signature against the keys in
the OpenID metadata, issuer ``https://api.botframework.com``, audience = the
app id, expiry, the channel's endorsement on the key and the ``serviceurl``
claim equal to the activity's ``serviceUrl``). :func:`authenticate` only
puts a fence around it:

* any failure, whatever the SDK raises (``PermissionError``, PyJWT's
  errors, an ``IndexError`` for an unknown key id), becomes
  :class:`Unauthorized`, so ``/api/messages`` answers 401 and never 500;
* a token that is not a channel token (another issuer: skill or Emulator
  tokens) is refused before the SDK would fetch Microsoft's other metadata
  documents on the event loop because of it — this bot is a Teams bot;
* in local mode (no app id) the header is ignored: authentication is off
  and only loopback can reach the bot (``Settings.validate``).

Outbound, :class:`ChannelCredentialsFactory` gives the SDK credentials that
get the bot's token from the configured authority (``BOT_LOGIN_URL``,
``https://login.microsoftonline.com/<tenant>`` by default) with MSAL, one
credentials object per audience, so the token is cached for its lifetime
instead of fetched on every turn.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import jwt
import msal
from botbuilder.integration.aiohttp import ConfigurationServiceClientCredentialFactory
from botbuilder.schema import Activity
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from msrest.authentication import Authentication

from bot.settings import Settings
from bot.tls import requests_session

_LOGGER = logging.getLogger(__name__)
CHANNEL_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
PUBLIC_LOGIN_PREFIX = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
BOT_LOGIN_TIMEOUT_S = 10.0


class Unauthorized(Exception):
    """The request does not carry a valid Bot Framework channel token."""


def bot_login_url(settings: Settings) -> str:
    """Return the authority the bot gets its own token from.

    ``BOT_LOGIN_URL`` when set; otherwise Microsoft Entra's public cloud, in
    the bot's tenant for a single-tenant bot and in ``botframework.com`` for a
    multi-tenant one (what the SDK itself uses).
    """
    if settings.bot_login_url:
        return settings.bot_login_url
    tenant = settings.app_tenant_id if settings.app_type == "SingleTenant" else ""
    default_tenant = str(AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT)
    return str(PUBLIC_LOGIN_PREFIX) + (tenant or default_tenant)


class AuthorityAppCredentials(MicrosoftAppCredentials):
    """The bot's client-credentials token from an explicit authority, cached by MSAL.

    The SDK's own credentials build their MSAL app with authority validation,
    which asks ``login.microsoftonline.com`` about any other host; an
    authority the operator configured explicitly needs no such discovery.
    """

    def __init__(self, app_id: str, password: str, tenant_id: str, oauth_scope: str,
                 authority: str, http_client: Any = None) -> None:
        """Describe the credentials; MSAL is created on the first token request.

        ``http_client`` is the ``requests`` session MSAL uses (the one CA setting's, bot/tls.py).
        """
        super().__init__(app_id, password, tenant_id or None, oauth_scope)
        self.oauth_endpoint = authority
        self._http_client = http_client
        self._lock = threading.Lock()
        self._msal: msal.ConfidentialClientApplication | None = None

    def _app(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._msal is None:
                self._msal = msal.ConfidentialClientApplication(
                    client_id=self.microsoft_app_id,
                    client_credential=self.microsoft_app_password,
                    authority=self.oauth_endpoint,
                    instance_discovery=False,
                    **({"http_client": self._http_client} if self._http_client else {}),
                )
            return self._msal

    def get_access_token(self, force_refresh: bool = False) -> str:
        """Return the bot's access token (from MSAL's in-memory cache while it is valid).

        Raises:
            PermissionError: The authority refused; the message names the error
                code only, never the secret.
        """
        scope = self.oauth_scope if self.oauth_scope.endswith("/.default") \
            else f"{self.oauth_scope}/.default"
        result: dict[str, Any] = self._app().acquire_token_for_client(scopes=[scope])
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        raise PermissionError(f"the bot could not get its token: {result.get('error', 'unknown')}")


class ChannelCredentialsFactory(ServiceClientCredentialsFactory):
    """The SDK's credentials factory, with the bot's token from :func:`bot_login_url`."""

    def __init__(self, settings: Settings, inner: ServiceClientCredentialsFactory) -> None:
        """Wrap ``inner`` (the SDK's factory for these settings)."""
        self.settings = settings
        self.inner = inner
        self._credentials: dict[tuple[str, str], AuthorityAppCredentials] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        """Delegate: the token's audience must be our app id."""
        return bool(await self.inner.is_valid_app_id(app_id))

    async def is_authentication_disabled(self) -> bool:
        """Delegate: no app id means local mode."""
        return bool(await self.inner.is_authentication_disabled())

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> Authentication:
        """Return credentials for replies to ``oauth_scope`` (one object per audience)."""
        if await self.is_authentication_disabled() or self.settings.app_type == "UserAssignedMSI":
            sdk_credentials: Authentication = await self.inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority)
            return sdk_credentials
        if not await self.is_valid_app_id(app_id):
            raise PermissionError("Invalid app_id")
        scope = oauth_scope or AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        authority = bot_login_url(self.settings)
        key = (scope, authority)
        credentials = self._credentials.get(key)
        if credentials is None:
            credentials = self._credentials.setdefault(key, AuthorityAppCredentials(
                app_id, self.settings.app_password, self.settings.app_tenant_id, scope, authority,
                requests_session(self.settings, BOT_LOGIN_TIMEOUT_S)))
        return credentials


def channel_credentials_factory(
    settings: Settings, configuration: Any
) -> ChannelCredentialsFactory:
    """Build the credentials factory for ``ConfigurationBotFrameworkAuthentication``.

    Args:
        settings: the bot's settings.
        configuration: the SDK configuration object built from them.
    """
    return ChannelCredentialsFactory(settings,
                                     ConfigurationServiceClientCredentialFactory(configuration))


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token or " " in token:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token


async def authenticate(auth: BotFrameworkAuthentication, activity: Activity, header: str | None,
                       *, local_mode: bool) -> AuthenticateRequestResult:
    """Authenticate one request with the SDK; any failure is :class:`Unauthorized`.

    Args:
        auth: the adapter's ``bot_framework_authentication``.
        activity: the activity the request carries (its ``serviceUrl`` and
            ``channelId`` are checked against the token).
        header: the request's Authorization header, if any.
        local_mode: True without an app id: the header is ignored.

    Returns:
        What ``CloudAdapter.process_activity`` needs to run the turn.

    Raises:
        Unauthorized: The request must be answered with 401.
    """
    if local_mode:
        header = None
    elif not header:
        raise Unauthorized("no Authorization header")
    else:
        try:
            issuer = jwt.decode(_bearer(header), options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise Unauthorized("the token is not a JWT") from exc
        if issuer != CHANNEL_ISSUER:
            raise Unauthorized("the token was not issued by the Bot Framework channel service")
    try:
        result: AuthenticateRequestResult = await auth.authenticate_request(activity, header)
    except Exception as exc:  # the SDK raises PermissionError, PyJWT errors, IndexError, …
        raise Unauthorized(f"{type(exc).__name__}: {exc}") from exc
    if result is None or result.claims_identity is None:
        raise Unauthorized("no identity")
    return result
