"""A small client for the Bot Framework token service (the Azure Bot "OAuth connection").

In Teams the sign-in card and the magic code of ``signin/verifyState`` go
through this service: it keeps the user's token for the connection, and the
bot asks for it with ``GetToken``. The SDK's own client builds msrest
clients per call and sends with ``requests`` in a thread pool (platform.md
§11); this one uses the shared aiohttp session, and takes the service's base
URL from the settings (``OAUTH_API_URL``) so the tests can serve it locally,
and it trusts what the shared session trusts (the one ``TLS_CA_FILE`` setting).

Calls are authenticated with the bot's own app token (client credentials,
through MSAL off the event loop); in local mode there is no app id, so no
token is sent, exactly like the SDK does with authentication off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from botbuilder.schema import Activity
from botframework.connector.auth.user_token_client import UserTokenClient

from bot.auth import SignInFailed
from checks.base import certificate_problem
from dialogs.live import phrases

_LOGGER = logging.getLogger(__name__)
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
TIMEOUT_S = 10.0

AppTokenSource = Callable[[], Awaitable[str | None]]
"""Returns the bot's own access token for the token service, or None in local mode."""


class TokenServiceError(Exception):
    """The token service could not be reached or answered with an error (no secrets inside)."""


@dataclass(frozen=True)
class SignInResource:
    """What the sign-in card needs: the link, and the SSO exchange resource Teams uses."""

    sign_in_link: str
    exchange_id: str | None = None
    exchange_uri: str | None = None
    provider_id: str | None = None


class BotTokenService:
    """``GetToken``, ``GetSignInResource`` and ``SignOut`` against one token service."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        app_id: str,
        app_token: AppTokenSource,
    ) -> None:
        """Create the client.

        Args:
            session: The shared HTTP session (owned by the app).
            base_url: The service, e.g. ``https://api.botframework.com``.
            app_id: The bot's app id (goes into the sign-in state).
            app_token: Supplies the bot's token for the service.
        """
        self._session = session
        self._base = base_url.rstrip("/")
        self._app_id = app_id
        self._app_token = app_token

    async def _request(
        self, method: str, path: str, params: dict[str, str]
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        try:
            token = await self._app_token()
        except SignInFailed as exc:  # the bot's own sign-in failed; its message is safe to show
            raise TokenServiceError(str(exc)) from None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with asyncio.timeout(TIMEOUT_S):
                async with self._session.request(
                    method, f"{self._base}{path}", params=params, headers=headers
                ) as response:
                    body: Any = None
                    if response.content_type == "application/json":
                        body = await response.json()
                    return response.status, body
        except (aiohttp.ClientError, TimeoutError) as exc:
            # A certificate the CA setting does not trust is said as such, not as "no answer".
            problem = certificate_problem(exc)
            if problem:
                raise TokenServiceError(phrases.CERTIFICATE_NOT_TRUSTED.format(
                    service="the Bot Framework token service", reason=problem)) from None
            raise TokenServiceError(
                f"the Bot Framework token service did not answer ({type(exc).__name__})"
            ) from None

    async def get_token(
        self, user_id: str, connection_name: str, channel_id: str, code: str = ""
    ) -> str | None:
        """Return the user's token for the connection, or None when there is none (yet).

        Args:
            user_id: The channel user id (``activity.from.id``).
            connection_name: The OAuth connection's name.
            channel_id: The channel, e.g. "msteams".
            code: The magic code from ``signin/verifyState``, if any.

        Returns:
            The token, or None.

        Raises:
            TokenServiceError: The service failed (not: "no token").
        """
        params = {"userId": user_id, "connectionName": connection_name, "channelId": channel_id}
        if code:
            params["code"] = code
        status, body = await self._request("GET", "/api/usertoken/GetToken", params)
        if status == 404 or (status == 200 and not isinstance(body, dict)):
            return None
        if status != 200:
            raise TokenServiceError(f"the Bot Framework token service answered {status}")
        token = body.get("token")
        return token if isinstance(token, str) and token else None

    async def get_sign_in_resource(
        self, connection_name: str, activity: Activity
    ) -> SignInResource:
        """Ask for the sign-in link (and the Teams SSO exchange resource) of a connection.

        Args:
            connection_name: The OAuth connection's name.
            activity: The activity the sign-in answers (its conversation goes into the state).

        Returns:
            The link and the exchange resource.

        Raises:
            TokenServiceError: The service failed.
        """
        state = UserTokenClient.create_token_exchange_state(
            self._app_id, connection_name, activity
        )
        status, body = await self._request(
            "GET", "/api/botsignin/GetSignInResource", {"state": state}
        )
        if status != 200 or not isinstance(body, dict) or not body.get("signInLink"):
            raise TokenServiceError(f"no sign-in link from the token service ({status})")
        exchange = body.get("tokenExchangeResource") or {}
        return SignInResource(
            sign_in_link=str(body["signInLink"]),
            exchange_id=exchange.get("id"),
            exchange_uri=exchange.get("uri"),
            provider_id=exchange.get("providerId"),
        )

    async def sign_out(self, user_id: str, connection_name: str, channel_id: str) -> None:
        """Forget the user's token for the connection.

        Args:
            user_id: The channel user id.
            connection_name: The OAuth connection's name.
            channel_id: The channel.

        Raises:
            TokenServiceError: The service failed.
        """
        params = {"userId": user_id, "connectionName": connection_name, "channelId": channel_id}
        status, _ = await self._request("DELETE", "/api/usertoken/SignOut", params)
        if status not in (200, 204, 404):
            raise TokenServiceError(f"the Bot Framework token service answered {status}")
