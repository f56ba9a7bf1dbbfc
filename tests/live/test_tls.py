"""One CA setting (TLS_CA_FILE) for every outbound TLS connection, and certificate errors named.

All the local servers present certificates from one private CA: Graph, the
Exchange admin endpoint and SMTP's STARTTLS (the fake tenant), Entra and the
Bot Framework token service (the fake identity). With ``TLS_CA_FILE`` pointing
at that CA every client the bot has trusts them: the shared HTTP session
(Graph, Exchange, the token service, the connector), MSAL for customers'
sign-in and the bot's own login (both the token-service app token and the
reply credentials), and the SMTP probe. With another CA each one fails, and
says "certificate", not "no answer".
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import requests

from bot.auth import MsalAuth, SignInFailed, TokenVault
from bot.channel_auth import AuthorityAppCredentials
from bot.settings import Settings
from bot.store import open_store
from bot.tls import http_session, requests_session, smtp_ssl_context_factory
from bot.token_service import BotTokenService, TokenServiceError
from checks import GRAPH_SCOPE, SMTP_SCOPE
from checks.base import certificate_problem
from checks.smtp import SmtpProbeCheck
from tests.checks.fakes import TenantScenario, TlsMaterial
from tests.live.conftest import IdentityFactory, LiveBotFactory, live_settings
from tests.live.fake_identity import FakeIdentity
from tests.support.harness import texts

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"


@pytest.fixture
def stranger_ca(tmp_path: Path) -> str:
    """A CA file that did not sign any local server's certificate."""
    other = TlsMaterial.generate()
    path = tmp_path / "stranger-ca.pem"
    path.write_bytes(other.ca_pem)
    other.cleanup()
    return str(path)


def bot_settings(identity: FakeIdentity, folder: Path, **overrides: object) -> Settings:
    """Live settings, plus the bot's own app registration (its login goes to the fake Entra)."""
    settings = live_settings(identity, folder)
    return replace(settings, app_id=identity.client_id, app_password=identity.client_secret,
                   app_tenant_id=identity.tenant.scenario.tenant_id,
                   bot_login_url=f"{identity.authority}/{identity.tenant.scenario.tenant_id}",
                   **overrides)  # type: ignore[arg-type]


async def _every_connection(settings: Settings, identity: FakeIdentity) -> dict[str, str]:
    """Use each outbound client once; returns client -> "ok" or what went wrong."""
    tenant = identity.tenant
    outcome: dict[str, str] = {}
    async with http_session(settings) as session:
        token_service = (f"{identity.token_service_url}/api/usertoken/GetToken"
                         "?userId=u&connectionName=c&channelId=msteams")
        for name, url in (("graph", f"{tenant.graph.url}/me"),
                          ("exchange", f"{tenant.exchange.url}/x/InvokeCommand"),
                          ("token service", token_service)):
            try:
                async with session.get(url) as response:
                    await response.read()
                outcome[name] = "ok"
            except aiohttp.ClientError as exc:
                outcome[name] = f"certificate: {certificate_problem(exc)}"
        # The token service client says what failed, by name.
        store = await open_store("memory://")
        auth = MsalAuth(settings, TokenVault(store.kv))
        service = BotTokenService(session, settings.oauth_api_url, settings.app_id,
                                  auth.bot_app_token)
        try:
            await service.get_token("u", "c", "msteams")
            outcome["token service client"] = "ok"
        except TokenServiceError as exc:
            outcome["token service client"] = str(exc)
        # MSAL: a customer's sign-in (on behalf of) ...
        try:
            await auth.sign_in_with_assertion("user-key", identity.sso_token(), None)
            outcome["msal customer sign-in"] = "ok"
        except SignInFailed as exc:
            outcome["msal customer sign-in"] = str(exc)
        # ... and the bot's own login, for the token service and for replies.
        try:
            await auth.bot_app_token()
            outcome["bot login (token service)"] = "ok"
        except SignInFailed as exc:
            outcome["bot login (token service)"] = str(exc)
        await store.close()
    credentials = AuthorityAppCredentials(
        settings.app_id, settings.app_password, settings.app_tenant_id, BOT_FRAMEWORK_SCOPE,
        settings.bot_login_url, requests_session(settings, 5.0))
    try:
        await asyncio.to_thread(credentials.get_access_token)
        outcome["bot login (replies)"] = "ok"
    except (requests.RequestException, ValueError) as exc:
        outcome["bot login (replies)"] = f"certificate: {certificate_problem(exc)}"
    # SMTP's STARTTLS, with the probe's own context factory.
    probe = SmtpProbeCheck(tenant.tokens, smtp_ssl_context_factory(settings))
    result = await probe.run(tenant.context())
    outcome["smtp"] = "ok" if result.finding == "smtp.accepted" else result.finding
    return outcome


async def test_one_ca_setting_is_trusted_by_every_outbound_connection(
    start_identity: IdentityFactory, tmp_path: Path,
) -> None:
    identity = await start_identity(TenantScenario.healthy().signed_in_as_mailbox())
    settings = bot_settings(identity, tmp_path)
    outcome = await _every_connection(settings, identity)
    assert outcome == dict.fromkeys(outcome, "ok"), outcome
    assert set(outcome) == {"graph", "exchange", "token service", "token service client",
                            "msal customer sign-in", "bot login (token service)",
                            "bot login (replies)", "smtp"}
    assert identity.app_tokens, "the bot's own login went to the private-CA authority"


async def test_with_another_ca_every_connection_names_the_certificate(
    start_identity: IdentityFactory, tmp_path: Path, stranger_ca: str,
) -> None:
    identity = await start_identity(TenantScenario.healthy().signed_in_as_mailbox())
    settings = bot_settings(identity, tmp_path, tls_ca_file=stranger_ca)
    outcome = await _every_connection(settings, identity)
    for name, said in outcome.items():
        assert "certificate" in said, (name, said)
        assert "did not answer" not in said and "could not be reached" not in said, (name, said)
    assert outcome["smtp"] == "smtp.certificate"
    assert "token service's certificate is not trusted" in outcome["token service client"] or (
        "bot's own sign-in's certificate is not trusted" in outcome["token service client"])
    assert identity.token_requests == [] and identity.app_tokens == []


async def test_the_default_trust_store_does_not_trust_the_private_ca(
    start_identity: IdentityFactory, tmp_path: Path,
) -> None:
    # Proves the CA setting is what made the difference (and not, say, verification being off).
    identity = await start_identity(TenantScenario.healthy())
    settings = replace(live_settings(identity, tmp_path), tls_ca_file="")
    async with http_session(settings) as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with session.get(f"{identity.tenant.graph.url}/me"):
                pass
    context = smtp_ssl_context_factory(settings)()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


async def test_a_conversation_with_an_untrusted_token_service_says_certificate(
    live_bot: LiveBotFactory, stranger_ca: str,
) -> None:
    bot = await live_bot(TenantScenario.healthy(), tls_ca_file=stranger_ca)
    await bot.ask_for_checks()
    replies = await bot.consent()
    text = texts(replies)
    assert "I couldn't start the sign-in" in text
    assert "certificate is not trusted" in text and "did not answer" not in text
    assert bot.tenant.request_count == 0


async def test_a_whole_checked_conversation_runs_over_the_private_ca(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(TenantScenario.healthy().signed_in_as_mailbox())
    assert bot.settings.tls_ca_file and bot.identity.token_service_url.startswith("https://")
    assert bot.tenant.graph.url.startswith("https://")
    card = await bot.checked_conversation()
    assert "What to fix" not in texts([{"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}])
    assert bot.tenant.smtp.tls_versions and bot.tenant.smtp.auth_payloads
    assert bot.tenant.graph.requests and bot.tenant.exchange.requests
    scopes = " ".join(r["scope"] for r in bot.identity.token_requests)
    assert GRAPH_SCOPE in scopes and SMTP_SCOPE in scopes
