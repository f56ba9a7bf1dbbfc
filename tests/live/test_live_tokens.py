"""Tokens in the live checks: where they may live (MSAL caches) and where they never appear."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.logs import JsonFormatter
from tests.checks.fakes import TenantScenario
from tests.live.conftest import CONNECTION, LiveBotFactory, as_mailbox, is_final, results_cards
from tests.support.harness import Chat, texts


def store_bytes(folder: Path) -> bytes:
    """The SQLite database with its WAL and shared-memory files, as bytes."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("bot.db*")))


async def test_no_token_in_logs_state_or_replies_after_a_checked_conversation(
    live_bot: LiveBotFactory, caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await live_bot(as_mailbox(TenantScenario.for_cause("smtp_auth_disabled_mailbox")),
                         token_cache_key=Fernet.generate_key().decode())
    # Every sign-in path: a refused SSO exchange (412), the sign-in card's magic code
    # through the token service, then a re-run from the (encrypted) MSAL cache.
    await bot.chat.install()
    await bot.ask_for_checks()
    await bot.consent()
    status, _, refused = await bot.sso(bot.identity.sso_token() + "x")
    assert status == 412
    code = bot.identity.complete_card_sign_in(bot.chat.user_id, CONNECTION)
    status, _, _ = await bot.chat.post(bot.invoke("signin/verifyState", {"state": code}))
    card = await bot.final_card()
    await bot.chat.say("check my tenant")
    await bot.wait_for(lambda p: len([c for c in results_cards(p) if is_final(c)]) == 2)
    secrets = bot.identity.all_secrets()
    assert len(secrets) > 8 and card
    raw_logs = caplog.text
    formatted = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    replies = json.dumps([r.body for r in bot.connector.received] + [refused])
    database = store_bytes(tmp_path)
    # The scan can find things: the tokens were really stored, sealed, and the run logged.
    assert b"tokencache/" in database
    assert caplog.records
    for secret in secrets:
        assert secret not in raw_logs, "a token reached a log record"
        assert secret not in formatted
        assert secret not in replies, "a token reached a reply"
        assert secret.encode() not in database, "a token reached the store unencrypted"


async def test_without_a_cache_key_nothing_is_stored_and_a_restart_means_signing_in(
    live_bot: LiveBotFactory, aiohttp_client: Any, tmp_path: Path,
) -> None:
    from app import create_app

    bot = await live_bot(as_mailbox(TenantScenario.healthy()))
    await bot.checked_conversation()
    assert b"tokencache/" not in store_bytes(tmp_path)
    restarted = Chat(await aiohttp_client(create_app(bot.settings)), bot.connector,
                     conversation_id=bot.chat.conversation_id, tenant_id=bot.chat.tenant_id)
    replies = await restarted.press({"msa": "run_checks"})
    assert "What each permission allows" in texts(replies)


async def test_the_encrypted_cache_survives_a_restart(
    live_bot: LiveBotFactory, aiohttp_client: Any,
) -> None:
    from app import create_app

    bot = await live_bot(as_mailbox(TenantScenario.healthy()),
                         token_cache_key=Fernet.generate_key().decode())
    await bot.checked_conversation()
    asked = len(bot.identity.token_requests)
    restarted = Chat(await aiohttp_client(create_app(bot.settings)), bot.connector,
                     conversation_id=bot.chat.conversation_id, tenant_id=bot.chat.tenant_id)
    replies = await restarted.press({"msa": "run_checks"})
    assert "What each permission allows" not in texts(replies)
    await bot.wait_for(lambda p: len([c for c in results_cards(p) if is_final(c)]) == 2)
    # The access tokens came out of the decrypted MSAL cache.
    assert len(bot.identity.token_requests) == asked


async def test_a_changed_cache_key_means_signing_in_again(
    live_bot: LiveBotFactory, aiohttp_client: Any,
) -> None:
    from dataclasses import replace

    from app import create_app

    bot = await live_bot(as_mailbox(TenantScenario.healthy()),
                         token_cache_key=Fernet.generate_key().decode())
    await bot.checked_conversation()
    rotated = replace(bot.settings, token_cache_key=Fernet.generate_key().decode())
    restarted = Chat(await aiohttp_client(create_app(rotated)), bot.connector,
                     conversation_id=bot.chat.conversation_id, tenant_id=bot.chat.tenant_id)
    replies = await restarted.press({"msa": "run_checks"})
    assert "What each permission allows" in texts(replies)


class TerminalChat(Chat):
    """The same conversation shape, on the terminal channel (``make chat``): no Teams SSO."""

    def _activity(self, name: str, **kwargs: Any) -> dict[str, Any]:
        body = super()._activity(name, **kwargs)
        body["channelId"] = "terminal"
        body.pop("channelData", None)
        return body


async def test_outside_teams_the_device_code_flow_signs_in(live_bot: LiveBotFactory) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.for_cause("tls_version")))
    chat = TerminalChat(bot.chat.client, bot.connector, tenant_id=bot.chat.tenant_id)
    bot.chat = chat
    await chat.say("check my tenant")
    replies = await chat.press({"msa": "checks_sign_in"})
    text = texts(replies)
    assert "https://microsoft.com/devicelogin" in text and "enter the code" in text
    assert not any(a.get("contentType") == "application/vnd.microsoft.card.oauth"
                   for r in replies for a in r.get("attachments") or [])
    card = await bot.final_card()
    assert "TLS" in texts([{"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}])
    grants = bot.identity.grants()
    assert grants[0] == "devicecode"
    assert grants.count("urn:ietf:params:oauth:grant-type:device_code") == 2  # pending, then ok
    assert "refresh_token" in grants  # Exchange and SMTP tokens came from the refresh token


async def test_stopping_the_app_cancels_a_running_check(live_bot: LiveBotFactory) -> None:
    slow = dict.fromkeys(("licenseDetails", "signIns", "exchange", "smtp"), 8.0)
    bot = await live_bot(as_mailbox(TenantScenario.healthy()).with_(delays=slow),
                         check_timeout_seconds=10.0)
    await bot.ask_for_checks()
    await bot.consent()
    await bot.sso()
    await bot.wait_for(lambda p: bool(results_cards(p)))
    started = time.perf_counter()
    await bot.chat.client.close()  # runs the app's cleanup: extensions close first
    assert time.perf_counter() - started < 3.0
    posted = len(bot.connector.received)
    await asyncio.sleep(0.3)
    assert len(bot.connector.received) == posted
    assert not any(is_final(c) for c in results_cards(bot.posted()))
