"""Local stand-ins for Microsoft Entra (as MSAL talks to it) and the Bot Framework token service.

:class:`FakeIdentity` serves, on 127.0.0.1:

* over HTTPS (MSAL accepts only https authorities), with the fake tenant's CA:
  ``/common/discovery/instance``, ``/{tenant}/v2.0/.well-known/openid-configuration``,
  ``/{tenant}/oauth2/v2.0/token`` (grants: on-behalf-of
  ``urn:ietf:params:oauth:grant-type:jwt-bearer``, ``refresh_token``, device code,
  client credentials for the bot's own token) and ``/{tenant}/oauth2/v2.0/devicecode``;
* over HTTPS too (the same private CA), the token service of an Azure Bot OAuth connection:
  ``/api/usertoken/GetToken``, ``/api/botsignin/GetSignInResource``,
  ``/api/usertoken/SignOut``.

The access tokens it issues are exactly the ones the fake Graph, Exchange and
SMTP servers of a :class:`tests.checks.fakes.FakeTenant` accept, so a check
only passes when the bot got its token through MSAL from here. Every secret it
hands out (SSO tokens, refresh and id tokens, the access tokens) is listed by
:meth:`FakeIdentity.all_secrets` for leak scans. Errors are shaped like
Entra's (``error``, ``error_description`` with an AADSTS code, ``error_codes``).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from checks import EXCHANGE_SCOPE, GRAPH_SCOPE, SMTP_SCOPE
from tests.checks.fakes import FakeTenant, TlsMaterial

CLIENT_ID = "3f2b8c1d-7a6e-4d5c-9b8a-0c1d2e3f4a5b"
CLIENT_SECRET = "Fk8Q~local.test.secret.only." + "x" * 8
OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_RESOURCE_SCOPES = (GRAPH_SCOPE, EXCHANGE_SCOPE, SMTP_SCOPE)
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"


def _b64url(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token with a random signature (recognisable in leak scans)."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "fake-entra"}
    return f"{_b64url(header)}.{_b64url(claims)}.{secrets.token_urlsafe(32)}"


def aad_error(status: int, error: str, code: int, text: str, **extra: Any) -> web.Response:
    """An Entra token-endpoint error body."""
    trace = str(uuid.uuid4())
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: "
                             f"{uuid.uuid4()} Timestamp: 2026-11-28 20:15:04Z",
        "error_codes": [code],
        "timestamp": "2026-11-28 20:15:04Z",
        "trace_id": trace,
        "correlation_id": str(uuid.uuid4()),
        **extra,
    }
    return web.json_response(body, status=status)


@dataclass
class _User:
    upn: str
    oid: str
    tid: str


@dataclass
class FakeIdentity:
    """Entra authority + Bot Framework token service for one fake tenant (see module doc)."""

    tenant: FakeTenant
    tls: TlsMaterial
    folder: Path
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    device_pending_polls: int = 1
    token_requests: list[dict[str, str]] = field(default_factory=list)
    service_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    app_tokens: list[str] = field(default_factory=list)
    _sso: dict[str, _User] = field(default_factory=dict)
    _refresh: dict[str, _User] = field(default_factory=dict)
    _devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    _codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    _user_tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    _runners: list[web.AppRunner] = field(default_factory=list)
    authority: str = ""
    token_service_url: str = ""
    ca_file: Path | None = None

    # ----- lifecycle -------------------------------------------------------------
    async def start(self) -> FakeIdentity:
        """Serve Entra and the token service over HTTPS on free ports."""
        entra = web.Application()
        entra.router.add_get("/common/discovery/instance", self._instance)
        entra.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid)
        entra.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        entra.router.add_post("/{tenant}/oauth2/v2.0/devicecode", self._devicecode)
        port = await self._serve(entra, self.tls.server_context())
        self.authority = f"https://127.0.0.1:{port}"
        service = web.Application()
        service.router.add_get("/api/usertoken/GetToken", self._get_token)
        service.router.add_get("/api/botsignin/GetSignInResource", self._sign_in_resource)
        service.router.add_delete("/api/usertoken/SignOut", self._sign_out)
        port = await self._serve(service, self.tls.server_context())
        self.token_service_url = f"https://127.0.0.1:{port}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.folder / "fake-ca.pem"
        self.ca_file.write_bytes(self.tls.ca_pem)
        return self

    async def _serve(self, app: web.Application, ssl_context: Any) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop both servers."""
        for runner in self._runners:
            await runner.cleanup()

    # ----- what a test does as the customer ------------------------------------------
    @property
    def signed_in_user(self) -> _User:
        """Who signs in: the fake tenant's admin (its tokens are issued for that user)."""
        s = self.tenant.scenario
        return _User(s.admin_upn, s.admin_id, s.tenant_id)

    def sso_token(self, *, tid: str | None = None, audience: str | None = None,
                  expires_in: int = 3600) -> str:
        """The token Teams hands the bot in ``signin/tokenExchange`` (for the bot's own API).

        Args:
            tid: The ``tid`` claim; the fake tenant's by default.
            audience: The ``aud`` claim; ``api://botid-<client id>`` by default.
            expires_in: Seconds until ``exp``.

        Returns:
            The token; the authority accepts it as an on-behalf-of assertion.
        """
        user = self.signed_in_user
        user = _User(user.upn, user.oid, tid or user.tid)
        token = unsigned_jwt({
            "aud": audience or f"api://botid-{self.client_id}",
            "iss": f"https://login.microsoftonline.com/{user.tid}/v2.0",
            "tid": user.tid, "oid": user.oid, "upn": user.upn, "preferred_username": user.upn,
            "scp": "access_as_user", "exp": int(time.time()) + expires_in,
        })
        self._sso[token] = user
        self.issued.append(token)
        return token

    def complete_card_sign_in(self, user_id: str, connection: str) -> str:
        """The user finishes the sign-in card's web sign-in; returns the magic code Teams sends.

        Args:
            user_id: The Teams user id (``from.id``).
            connection: The OAuth connection name.

        Returns:
            The code that ``signin/verifyState`` carries in ``value.state``.
        """
        code = f"{secrets.randbelow(10**6):06d}"
        self._codes[code] = (user_id, connection)
        return code

    def all_secrets(self) -> list[str]:
        """Every token this identity and the tenant handed out, and their signatures."""
        found = [*self.issued, *self.tenant.tokens.all_secrets(), self.client_secret]
        found += [t.rsplit(".", 1)[1] for t in self.issued if t.count(".") == 2]
        return [s for s in found if s]

    def grants(self) -> list[str]:
        """The grant types MSAL sent to the token endpoint, in order."""
        return [r.get("grant_type", "") for r in self.token_requests]

    # ----- Entra -------------------------------------------------------------------
    async def _instance(self, request: web.Request) -> web.Response:
        authorize = request.query.get("authorization_endpoint", "")
        tenant = authorize.split("/")[3] if authorize.count("/") > 3 else "common"
        return web.json_response({
            "tenant_discovery_endpoint":
                f"{self.authority}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": "127.0.0.1", "preferred_cache": "127.0.0.1",
                          "aliases": ["127.0.0.1"]}],
        })

    async def _openid(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        base = f"{self.authority}/{tenant}"
        return web.json_response({
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "tenant_region_scope": "EU",
        })

    async def _devicecode(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append({"grant_type": "devicecode", "scope": form.get("scope", "")})
        if form.get("client_id") != self.client_id:
            return aad_error(400, "unauthorized_client", 700016,
                             f"Application with identifier '{form.get('client_id')}' was not "
                             "found in the directory.")
        device_code = secrets.token_urlsafe(24)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        self._devices[device_code] = {"polls": 0, "user_code": user_code,
                                      "scope": form.get("scope", "")}
        return web.json_response({
            "user_code": user_code, "device_code": device_code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900, "interval": 1,
            "message": "To sign in, use a web browser to open the page "
                       f"https://microsoft.com/devicelogin and enter the code {user_code} to "
                       "authenticate.",
        })

    def _resource_scope(self, scope: str) -> str | None:
        for part in scope.split():
            if part in _RESOURCE_SCOPES:
                return part
        return None

    def _issue(self, user: _User, scope_text: str) -> web.Response:
        scope = self._resource_scope(scope_text)
        if scope is None:
            return aad_error(400, "invalid_scope", 70011,
                             f"The provided value for the input parameter 'scope' is not valid. "
                             f"The scope {scope_text} is not valid.")
        if scope in self.tenant.tokens.refuse:
            return aad_error(400, "invalid_grant", 65001,
                             f"The user or administrator has not consented to use the "
                             f"application with ID '{self.client_id}' named 'Mail Setup "
                             "Assistant'. Send an interactive authorization request for this "
                             "user and resource.", suberror="consent_required")
        refresh = "1.AQ" + secrets.token_urlsafe(48)
        self._refresh[refresh] = user
        self.issued.append(refresh)
        id_token = unsigned_jwt({
            "aud": self.client_id, "iss": f"{self.authority}/{user.tid}/v2.0",
            "tid": user.tid, "oid": user.oid, "sub": user.oid, "preferred_username": user.upn,
            "name": user.upn.split("@")[0], "iat": int(time.time()),
            "exp": int(time.time()) + 3600, "ver": "2.0",
        })
        self.issued.append(id_token)
        access = self.tenant.tokens.tokens[scope]
        return web.json_response({
            "token_type": "Bearer", "scope": scope_text, "expires_in": 3599,
            "ext_expires_in": 3599, "access_token": access, "refresh_token": refresh,
            "id_token": id_token,
            "client_info": _b64url({"uid": user.oid, "utid": user.tid}),
        })

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        grant = form.get("grant_type", "")
        self.token_requests.append({"grant_type": grant, "scope": form.get("scope", ""),
                                    "tenant": request.match_info["tenant"]})
        if form.get("client_id") != self.client_id:
            return aad_error(400, "unauthorized_client", 700016,
                             f"Application with identifier '{form.get('client_id')}' was not "
                             "found in the directory.")
        confidential = grant in (OBO_GRANT, "client_credentials")
        if confidential and form.get("client_secret") != self.client_secret:
            return aad_error(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in "
                             "the request is the client secret value, not the client secret ID.")
        if grant == OBO_GRANT:
            user = self._sso.get(form.get("assertion", ""))
            if user is None or form.get("requested_token_use") != "on_behalf_of":
                return aad_error(400, "invalid_grant", 50013,
                                 "Assertion failed signature validation.")
            return self._issue(user, form.get("scope", ""))
        if grant == "refresh_token":
            user = self._refresh.get(form.get("refresh_token", ""))
            if user is None:
                return aad_error(400, "invalid_grant", 9002313, "Invalid request. Request is "
                                 "malformed or invalid.")
            return self._issue(user, form.get("scope", ""))
        if grant == "client_credentials":
            # The bot's own token (for the Bot Framework token service and the connector).
            scope = form.get("scope", "")
            if scope != BOT_FRAMEWORK_SCOPE:
                return aad_error(400, "invalid_scope", 70011,
                                 f"The provided value for the input parameter 'scope' is not "
                                 f"valid. The scope {scope} is not valid.")
            token = unsigned_jwt({"aud": "https://api.botframework.com", "appid": self.client_id,
                                  "tid": request.match_info["tenant"],
                                  "exp": int(time.time()) + 3600})
            self.issued.append(token)
            self.app_tokens.append(token)
            return web.json_response({"token_type": "Bearer", "expires_in": 3599,
                                      "ext_expires_in": 3599, "access_token": token})
        if grant == DEVICE_GRANT:
            device = self._devices.get(form.get("device_code", ""))
            if device is None:
                return aad_error(400, "expired_token", 70020, "The provided value for the "
                                 "input parameter 'device_code' is not valid.")
            device["polls"] += 1
            if device["polls"] <= self.device_pending_polls:
                return aad_error(400, "authorization_pending", 70016, "OAuth 2.0 device flow "
                                 "error. Authorization is pending. Continue polling.")
            # The token request of a device flow carries no scope: the devicecode step had it.
            return self._issue(self.signed_in_user, device["scope"])
        return aad_error(400, "unsupported_grant_type", 70003,
                         f"The app requested an unsupported grant type '{grant}'.")

    # ----- Bot Framework token service -------------------------------------------------
    async def _get_token(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.service_requests.append(("GetToken", {k: v for k, v in query.items()}))
        user_id, connection = query.get("userId", ""), query.get("connectionName", "")
        code = query.get("code")
        if code:
            owner = self._codes.pop(code, None)
            if owner != (user_id, connection):
                return web.json_response({"error": {"code": "NotFound",
                                                    "message": "Token not found"}}, status=404)
            self._user_tokens[(user_id, connection)] = self.sso_token()
        token = self._user_tokens.get((user_id, connection))
        if token is None:
            return web.json_response({"error": {"code": "NotFound",
                                                "message": "Token not found"}}, status=404)
        return web.json_response({"channelId": query.get("channelId"),
                                  "connectionName": connection, "token": token,
                                  "expiration": "2026-11-28T21:15:04Z"})

    async def _sign_in_resource(self, request: web.Request) -> web.Response:
        state = request.query.get("state", "")
        self.service_requests.append(("GetSignInResource", {"state": state}))
        try:
            decoded = json.loads(base64.b64decode(state))
        except ValueError:
            return web.json_response({"error": {"code": "BadArgument"}}, status=400)
        if not decoded.get("connectionName"):
            return web.json_response({"error": {"code": "BadArgument"}}, status=400)
        return web.json_response({
            "signInLink": "https://token.botframework.com/api/oauth/signin?signin="
                          + secrets.token_hex(16),
            "tokenExchangeResource": {"id": str(uuid.uuid4()),
                                      "uri": f"api://botid-{self.client_id}",
                                      "providerId": str(uuid.uuid4())},
            "tokenPostResource": {"sasUrl": "https://token.botframework.com/api/sas"},
        })

    async def _sign_out(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.service_requests.append(("SignOut", query))
        self._user_tokens.pop((query.get("userId", ""), query.get("connectionName", "")), None)
        return web.Response(status=200)
