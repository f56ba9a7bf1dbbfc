"""A local stand-in for Bot Framework's identity services: signed channel tokens, the bot's token.

Teams' Bot Connector signs each request to the bot with a JWT whose keys are
published at ``login.botframework.com`` (OpenID metadata -> ``jwks_uri`` ->
keys carrying channel ``endorsements``); the bot in turn gets its own token
for replies from Microsoft Entra (client credentials). :class:`LocalIdentity`
answers both on loopback with a locally generated RSA key:

* ``{metadata_url}``: the OpenID configuration (issuer
  ``https://api.botframework.com``, RS256) pointing at the keys endpoint;
* the keys endpoint: the public key as a JWK with ``"endorsements": ["msteams"]``;
* ``{authority}/v2.0/.well-known/openid-configuration`` and
  ``{authority}/oauth2/v2.0/token``: an Entra-like token endpoint over HTTPS
  (MSAL accepts only https authorities) that checks the client id and secret
  and hands out a signed access token, recorded in :attr:`issued`.

Every instance serves under a random path prefix: the SDK caches OpenID
metadata per URL for a day in a class-level dict, so each test gets URLs
nobody has used before.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import ssl
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jwt.algorithms import RSAAlgorithm

from tests.support.threaded import ThreadedServers

CHANNEL_ISSUER = "https://api.botframework.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com"


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def loopback_tls(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """Make a throwaway CA and a certificate for 127.0.0.1 it signed.

    Returns:
        The server's SSL context and the path of the CA certificate (PEM), for
        ``REQUESTS_CA_BUNDLE`` in whoever must trust the server.
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = new_rsa_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Local test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = new_rsa_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    ca_path = folder / "local-ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path = folder / "server.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = folder / "server.key"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, ca_path


@dataclass
class LocalIdentity:
    """Channel-token signer and bot-token service for one bot registration, on loopback."""

    servers: ThreadedServers
    folder: Path
    app_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    app_password: str = field(default_factory=lambda: "Qx8~" + secrets.token_urlsafe(30))
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    endorsements: tuple[str, ...] = ("msteams",)
    key: rsa.RSAPrivateKey = field(default_factory=new_rsa_key)
    kid: str = field(default_factory=lambda: secrets.token_hex(8))
    issued: list[str] = field(default_factory=list)  # access tokens handed to the bot
    token_requests: list[dict[str, str]] = field(default_factory=list)  # without the secret
    metadata_fetches: int = 0
    metadata_url: str = ""
    authority: str = ""
    ca_path: Path | None = None

    def start(self) -> LocalIdentity:
        """Start the metadata server (http) and the token endpoint (https)."""
        prefix = "/" + secrets.token_hex(6)
        self._entra_key = new_rsa_key()
        metadata = web.Application()
        metadata.router.add_get(prefix + "/v1/.well-known/openidconfiguration", self._openid)
        metadata.router.add_get(prefix + "/v1/.well-known/keys", self._keys)
        base = self.servers.serve(metadata)
        self.metadata_url = f"{base}{prefix}/v1/.well-known/openidconfiguration"
        self._keys_url = f"{base}{prefix}/v1/.well-known/keys"

        context, self.ca_path = loopback_tls(self.folder)
        entra = web.Application()
        entra.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._tenant)
        entra.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._entra_base = self.servers.serve(entra, context)
        self.authority = f"{self._entra_base}/{self.tenant_id}"
        return self

    # ----- what the bot calls -------------------------------------------------
    async def _openid(self, request: web.Request) -> web.Response:
        self.metadata_fetches += 1
        return web.json_response({
            "issuer": CHANNEL_ISSUER,
            "authorization_endpoint": "https://invalid.botframework.com/v1/auth",
            "jwks_uri": self._keys_url,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        })

    async def _keys(self, request: web.Request) -> web.Response:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "endorsements": list(self.endorsements)})
        return web.json_response({"keys": [jwk]})

    async def _tenant(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        base = f"{self._entra_base}/{tenant}"
        return web.json_response({
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "issuer": f"{base}/v2.0",
        })

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        secret = form.pop("client_secret", None)
        self.token_requests.append({k: str(v) for k, v in form.items()})
        if form.get("client_id") != self.app_id or secret != self.app_password:
            return web.json_response({"error": "invalid_client",
                                      "error_description": "AADSTS7000215: Invalid client secret"},
                                     status=401)
        now = int(time.time())
        token = jwt.encode(
            {"aud": BOT_FRAMEWORK_SCOPE, "iss": f"https://sts.windows.net/{self.tenant_id}/",
             "appid": self.app_id, "tid": self.tenant_id, "iat": now, "nbf": now,
             "exp": now + 3600, "ver": "1.0", "uti": secrets.token_urlsafe(16)},
            self._entra_key, algorithm="RS256", headers={"kid": "entra-" + self.kid})
        self.issued.append(token)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599,
                                  "ext_expires_in": 3599, "access_token": token})

    # ----- what Teams would send ----------------------------------------------
    def channel_token(self, service_url: str | None, *, issuer: str = CHANNEL_ISSUER,
                      audience: str | None = None, expires_in: int = 3600,
                      key: rsa.RSAPrivateKey | None = None, kid: str | None = None,
                      **claims: Any) -> str:
        """A token as the Bot Connector signs it for a request to this bot.

        Args:
            service_url: the ``serviceurl`` claim (None leaves it out).
            issuer: the ``iss`` claim.
            audience: the ``aud`` claim; the bot's app id by default.
            expires_in: seconds from now until ``exp`` (negative: already expired).
            key: the signing key; this identity's published key by default.
            kid: the key id in the header; the published one by default.
            **claims: further claims.
        """
        now = int(time.time())
        payload: dict[str, Any] = {"iss": issuer, "aud": audience or self.app_id,
                                   "nbf": now - 60, "exp": now + expires_in, **claims}
        if service_url is not None:
            payload["serviceurl"] = service_url
        return jwt.encode(payload, key or self.key, algorithm="RS256",
                          headers={"kid": kid or self.kid})

    def bot_env(self) -> dict[str, str]:
        """The bot's settings for this registration, as environment variables."""
        return {
            "MicrosoftAppId": self.app_id,
            "MicrosoftAppPassword": self.app_password,
            "MicrosoftAppType": "SingleTenant",
            "MicrosoftAppTenantId": self.tenant_id,
            "BOT_OPENID_METADATA": self.metadata_url,
            "BOT_LOGIN_URL": self.authority,
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
        }
