"""Delegated sign-in against a local Entra: MSAL really talks HTTPS to the fake authority.

These tests use ``bot.auth`` directly (no conversation): on-behalf-of, the
refresh-token path for the other resources, consent and signature refusals,
device code, the encrypted per-user vault, and the pinned CA.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.auth import MsalAuth, SignInFailed, TokenVault, describe_error, token_claims, user_key
from bot.store import Store, open_store
from checks import EXCHANGE_SCOPE, GRAPH_SCOPE, SMTP_SCOPE, TokenUnavailable
from tests.checks.fakes import TenantScenario
from tests.live.conftest import IdentityFactory, live_settings
from tests.live.fake_identity import OBO_GRANT

KEY = user_key("msteams", "tenant", "user")


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    """A private in-memory store (its key-value table holds sealed token caches)."""
    opened = await open_store("memory://")
    yield opened
    await opened.close()


async def test_on_behalf_of_gets_each_resource_token_from_the_local_authority(
    start_identity: IdentityFactory, tmp_path: Path, store: Store,
) -> None:
    identity = await start_identity(TenantScenario.healthy())
    tenant = identity.tenant
    auth = MsalAuth(live_settings(identity, tmp_path), TokenVault(store.kv))
    provider = await auth.sign_in_with_assertion(
        KEY, identity.sso_token(), tenant.scenario.tenant_id)
    assert await provider(GRAPH_SCOPE) == tenant.tokens.tokens[GRAPH_SCOPE]
    assert await provider(EXCHANGE_SCOPE) == tenant.tokens.tokens[EXCHANGE_SCOPE]
    assert await provider(SMTP_SCOPE) == tenant.tokens.tokens[SMTP_SCOPE]
    assert provider.token_tenant() == tenant.scenario.tenant_id
    # One OBO call; the other resources came from its refresh token, memoised after.
    assert identity.grants() == [OBO_GRANT, "refresh_token", "refresh_token"]
    assert {r["tenant"] for r in identity.token_requests} == {tenant.scenario.tenant_id}
    await provider(GRAPH_SCOPE)
    assert len(identity.token_requests) == 3


async def test_a_missing_consent_names_the_resource_and_the_code(
    start_identity: IdentityFactory, tmp_path: Path, store: Store,
) -> None:
    identity = await start_identity(TenantScenario.healthy(), refuse_scopes=(SMTP_SCOPE,))
    auth = MsalAuth(live_settings(identity, tmp_path), TokenVault(store.kv))
    provider = await auth.sign_in_with_assertion(KEY, identity.sso_token(), None)
    with pytest.raises(TokenUnavailable) as refused:
        await provider(SMTP_SCOPE)
    message = str(refused.value)
    assert message.startswith("SMTP.Send: the user or administrator has not consented")
    assert message.endswith("(AADSTS65001)")
    assert "Trace ID" not in message and "Correlation" not in message


async def test_a_forged_or_foreign_assertion_is_refused(
    start_identity: IdentityFactory, tmp_path: Path, store: Store,
) -> None:
    identity = await start_identity(TenantScenario.healthy())
    auth = MsalAuth(live_settings(identity, tmp_path), TokenVault(store.kv))
    with pytest.raises(SignInFailed, match="AADSTS50013"):
        await auth.sign_in_with_assertion(KEY, identity.sso_token() + "x", None)
    with pytest.raises(SignInFailed, match="different app"):
        await auth.sign_in_with_assertion(
            KEY, identity.sso_token(audience="api://botid-someone-else"), None)
    assert await auth.provider_for(KEY) is None


async def test_a_wrong_client_secret_is_a_sign_in_failure(
    start_identity: IdentityFactory, tmp_path: Path, store: Store,
) -> None:
    identity = await start_identity(TenantScenario.healthy())
    settings = replace(live_settings(identity, tmp_path), signin_client_secret="not-it")
    with pytest.raises(SignInFailed, match="AADSTS7000215"):
        await MsalAuth(settings, TokenVault(store.kv)).sign_in_with_assertion(
            KEY, identity.sso_token(), None)


async def test_the_authority_is_only_trusted_through_the_configured_ca(
    start_identity: IdentityFactory, tmp_path: Path, store: Store,
) -> None:
    identity = await start_identity(TenantScenario.healthy())
    other_ca = tmp_path / "other-ca.pem"
    # A CA that did not sign the authority's certificate (the fake CA's cert, re-issued).
    from tests.checks.fakes import TlsMaterial

    stranger = TlsMaterial.generate()
    other_ca.write_bytes(stranger.ca_pem)
    stranger.cleanup()
    settings = replace(live_settings(identity, tmp_path), tls_ca_file=str(other_ca))
    with pytest.raises(SignInFailed, match="certificate is not trusted"):
        await MsalAuth(settings, TokenVault(store.kv)).sign_in_with_assertion(
            KEY, identity.sso_token(), None)
    assert identity.token_requests == []


async def test_device_code_sign_in_polls_until_the_user_has_entered_the_code(
    start_identity: IdentityFactory, tmp_path: Path, store: Store,
) -> None:
    identity = await start_identity(TenantScenario.healthy(), device_pending_polls=1)
    auth = MsalAuth(live_settings(identity, tmp_path), TokenVault(store.kv))
    sign_in = await auth.start_device_sign_in(KEY, [GRAPH_SCOPE])
    assert sign_in.user_code in sign_in.message
    assert "https://microsoft.com/devicelogin" in sign_in.message
    provider = await sign_in.wait()
    assert await provider(EXCHANGE_SCOPE) == identity.tenant.tokens.tokens[EXCHANGE_SCOPE]
    assert provider.token_tenant() == identity.tenant.scenario.tenant_id
    assert identity.grants() == [
        "devicecode", "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
    # The same user later: the cache (memory-only vault) answers without a new sign-in.
    again = await auth.provider_for(KEY)
    assert again is not None


async def test_a_cancelled_device_sign_in_stops_polling(
    start_identity: IdentityFactory, tmp_path: Path, store: Store,
) -> None:
    identity = await start_identity(TenantScenario.healthy(), device_pending_polls=10**6)
    auth = MsalAuth(live_settings(identity, tmp_path), TokenVault(store.kv))
    sign_in = await auth.start_device_sign_in(KEY, [GRAPH_SCOPE])
    sign_in.cancel()
    with pytest.raises(SignInFailed, match="not entered in time"):
        await sign_in.wait()


async def test_the_vault_seals_the_cache_and_a_new_process_can_read_it(
    start_identity: IdentityFactory, tmp_path: Path, store: Store,
) -> None:
    identity = await start_identity(TenantScenario.healthy())
    key = Fernet.generate_key().decode()
    settings = live_settings(identity, tmp_path, token_cache_key=key)
    first = MsalAuth(settings, TokenVault(store.kv, key))
    provider = await first.sign_in_with_assertion(KEY, identity.sso_token(), None)
    await provider(EXCHANGE_SCOPE)
    sealed = await store.kv.get(f"tokencache/{KEY}")
    assert set(sealed) == {"v", "sealed"}
    stored = json.dumps(sealed)
    for secret in identity.all_secrets():
        assert secret not in stored
    # Decrypting shows the scan above looked at real tokens.
    opened = json.loads(Fernet(key.encode()).decrypt(sealed["sealed"].encode()))
    assert identity.tenant.tokens.tokens[GRAPH_SCOPE] in opened["cache"]
    asked = len(identity.token_requests)
    # "Another process": a fresh vault and MSAL app, same store and key.
    second = MsalAuth(settings, TokenVault(store.kv, key))
    again = await second.provider_for(KEY)
    assert again is not None
    assert await again(EXCHANGE_SCOPE) == identity.tenant.tokens.tokens[EXCHANGE_SCOPE]
    assert len(identity.token_requests) == asked
    # Without the key nothing is written at all.
    memory_only = TokenVault(store.kv)
    await memory_only.save("someone", {"cache": "x"})
    assert await store.kv.get("tokencache/someone") is None


def test_describe_error_and_token_claims_stay_safe() -> None:
    result = {"error": "invalid_grant", "error_codes": [53003],
              "error_description": "AADSTS53003: Access has been blocked by Conditional Access "
                                   "policies. The access policy does not allow token issuance. "
                                   "Trace ID: 1 Correlation ID: 2 Timestamp: 3"}
    assert describe_error(result, GRAPH_SCOPE) == (
        "Microsoft Graph: access has been blocked by Conditional Access policies (AADSTS53003)")
    assert describe_error({"error": "interaction_required"}) == "interaction required"
    assert token_claims("not a token") == {}
    assert token_claims("a.!!!.c") == {}
