"""One CA setting for every outbound TLS connection the bot makes.

``TLS_CA_FILE`` (a PEM bundle) is trusted in addition to the system's CAs by
all of them: the shared aiohttp session (Microsoft Graph, the Exchange admin
endpoint, the Bot Framework token service, replies to the Bot Connector), the
``requests`` sessions MSAL uses (customer sign-in and the bot's own login),
and the SMTP probe. A private PKI, a TLS-inspecting proxy or a test's own CA
therefore needs exactly one setting, and a certificate error is named as one
wherever it happens. The Bot Framework SDK's download of its token-signing
keys uses module-level ``requests`` and only honours ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
import requests
from requests.adapters import HTTPAdapter

from bot.settings import Settings


def client_ssl_context(settings: Settings) -> ssl.SSLContext:
    """A verifying client context: the system's CAs plus ``TLS_CA_FILE``.

    Args:
        settings: Supplies ``tls_ca_file``.

    Returns:
        A new context.
    """
    context = ssl.create_default_context()
    if settings.tls_ca_file:
        context.load_verify_locations(settings.tls_ca_file)
    return context


def smtp_ssl_context_factory(settings: Settings) -> Callable[[], ssl.SSLContext]:
    """The SMTP probe's context factory (``SMTP_TLS_VERIFY=false`` switches checking off there).

    Args:
        settings: Supplies the CA file and ``smtp_tls_verify``.

    Returns:
        A function building a new context per probe.
    """

    def build() -> ssl.SSLContext:
        context = client_ssl_context(settings)
        if not settings.smtp_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    return build


def http_session(settings: Settings) -> aiohttp.ClientSession:
    """The process's shared HTTP session: TLS per the CA setting, and no cookies.

    No cookie jar: the session serves every customer's tenant, so a cookie one
    tenant's endpoint sets must never ride along on another's request.

    Args:
        settings: Supplies the CA file.

    Returns:
        A new session (the caller closes it).
    """
    connector = aiohttp.TCPConnector(ssl=client_ssl_context(settings))
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class _ContextAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections use one given SSL context."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)


class _TimedSession(requests.Session):
    """A ``requests`` session with a default timeout (MSAL passes none of its own)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: Any, url: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, **kwargs)


def requests_session(settings: Settings, timeout: float) -> requests.Session:
    """A ``requests`` session for MSAL: TLS per the CA setting, a default timeout.

    Args:
        settings: Supplies the CA file.
        timeout: Seconds per request.

    Returns:
        The session.
    """
    session = _TimedSession(timeout)
    session.mount("https://", _ContextAdapter(client_ssl_context(settings)))
    return session

