"""With an app id, only requests signed like the Bot Connector signs them reach the bot.

Tokens are signed with a locally generated RSA key whose public half is served
from a local OpenID metadata endpoint (tests/support/identity.py); the bot is
the real app over HTTP, validating with the SDK's own JWT code. Replies carry
the bot's own token, fetched from a local Entra-like token endpoint.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from bot.settings import Settings, SettingsError
from tests.security.conftest import SignedChat
from tests.support.harness import texts
from tests.support.identity import new_rsa_key

BadHeader = Callable[[SignedChat], str | None]


def alg_none(chat: SignedChat) -> str:
    """A correct token's claims, re-packed with ``"alg": "none"`` and no signature."""
    _, payload, _ = chat.identity.channel_token(chat.connector.url).split(".")
    header = base64.urlsafe_b64encode(json.dumps(
        {"alg": "none", "typ": "JWT", "kid": chat.identity.kid}).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}."

BAD_HEADERS: dict[str, BadHeader] = {
    "no header": lambda chat: None,
    "empty header": lambda chat: "",
    "not bearer": lambda chat: "Basic " + chat.identity.channel_token(chat.connector.url),
    "bearer without token": lambda chat: "Bearer ",
    "not a jwt": lambda chat: "Bearer not.a.jwt",
    "unsigned token": lambda chat: "Bearer " + ".".join(
        chat.identity.channel_token(chat.connector.url).split(".")[:2]) + ".",
    "alg none": lambda chat: "Bearer " + alg_none(chat),
    "wrong issuer": lambda chat: "Bearer " + chat.identity.channel_token(
        chat.connector.url, issuer="https://sts.windows.net/f8cdef31-a31e-4b4a-93e4-5f571e91255a/"),
    "issuer lookalike": lambda chat: "Bearer " + chat.identity.channel_token(
        chat.connector.url, issuer="https://api.botframework.com.evil.example"),
    "wrong audience": lambda chat: "Bearer " + chat.identity.channel_token(
        chat.connector.url, audience="00000000-0000-0000-0000-000000000001"),
    # The SDK allows five minutes of clock skew; this one expired ten minutes ago.
    "expired": lambda chat: "Bearer " + chat.identity.channel_token(
        chat.connector.url, expires_in=-600),
    "signed with another key": lambda chat: "Bearer " + chat.identity.channel_token(
        chat.connector.url, key=new_rsa_key()),
    "unknown key id": lambda chat: "Bearer " + chat.identity.channel_token(
        chat.connector.url, key=new_rsa_key(), kid="not-a-published-key"),
    "serviceurl claim of another service": lambda chat: "Bearer " + chat.identity.channel_token(
        "https://smba.trafficmanager.net/emea/"),
    "no serviceurl claim": lambda chat: "Bearer " + chat.identity.channel_token(None),
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
async def test_a_request_without_a_valid_channel_token_gets_401(
    signed_chat: SignedChat, case: str
) -> None:
    """Every way a token can be wrong is a 401, and the bot never runs the turn."""
    status, replies = await signed_chat.send(signed_chat.message("help"),
                                             BAD_HEADERS[case](signed_chat))
    assert status == 401, case
    assert replies == []


async def test_a_key_endorsed_for_teams_does_not_sign_other_channels(
    signed_chat: SignedChat,
) -> None:
    """The published key carries endorsements ["msteams"]: a webchat activity is refused."""
    status, replies = await signed_chat.send(signed_chat.message("help", channelId="webchat"),
                                             signed_chat.valid_header())
    assert status == 401
    assert replies == []


async def test_a_valid_token_gets_200_and_replies_carry_the_bots_own_token(
    signed_chat: SignedChat,
) -> None:
    """A correctly signed request runs the turn; the reply is sent with the bot's token."""
    identity = signed_chat.identity
    requests_before = len(identity.token_requests)
    status, replies = await signed_chat.send(signed_chat.message("help"),
                                             signed_chat.valid_header())
    assert status == 200
    assert "help" in texts(replies).lower()
    sent = [r for r in signed_chat.connector.received
            if r.conversation_id == signed_chat.conversation_id]
    assert sent and all(r.authorization == f"Bearer {identity.issued[-1]}" for r in sent)
    new_requests = identity.token_requests[requests_before:]
    assert len(new_requests) == 1  # this app's first reply asked Entra once
    request = new_requests[0]
    assert request["client_id"] == identity.app_id
    assert request["grant_type"] == "client_credentials"
    assert request["scope"] == "https://api.botframework.com/.default"

    # The next turns reuse the token instead of asking Entra again.
    for text in ("start", "help"):
        status, replies = await signed_chat.send(signed_chat.message(text),
                                                 signed_chat.valid_header())
        assert status == 200 and replies
    assert len(identity.token_requests) == requests_before + len(new_requests)


async def test_a_valid_token_for_another_conversation_is_still_checked_per_request(
    signed_chat: SignedChat,
) -> None:
    """A token is checked on every request: a good one does not let a bad one through after it."""
    status, _ = await signed_chat.send(signed_chat.message("help"), signed_chat.valid_header())
    assert status == 200
    status, replies = await signed_chat.send(
        signed_chat.message("help"),
        "Bearer " + signed_chat.identity.channel_token(signed_chat.connector.url, expires_in=-600))
    assert status == 401 and replies == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "bot.example.com"])
def test_local_mode_refuses_to_listen_beyond_loopback(host: str) -> None:
    """Without an app id authentication is off, so only loopback may be bound."""
    with pytest.raises(SettingsError, match="loopback"):
        Settings.from_env({"HOST": host})


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_local_mode_listens_on_loopback(host: str) -> None:
    """Loopback addresses are fine in local mode."""
    assert Settings.from_env({"HOST": host}).local_mode


def test_with_an_app_id_any_host_is_allowed() -> None:
    """With an app id every request is authenticated, so the bot may listen publicly."""
    settings = Settings.from_env({"HOST": "0.0.0.0", "MicrosoftAppId": "app",
                                  "MicrosoftAppPassword": "secret",
                                  "MicrosoftAppTenantId": "tenant"})
    assert not settings.local_mode


def test_the_bot_token_authority_must_be_https() -> None:
    """MSAL only talks to https authorities; a typo fails at startup, not on the first reply."""
    with pytest.raises(SettingsError, match="BOT_LOGIN_URL"):
        Settings.from_env({"BOT_LOGIN_URL": "http://login.example.com/tenant"})
