"""Tokens and secrets never reach the logs, the stored state or a reply; nor bodies the INFO logs.

The bot runs as a real ``python app.py`` process with an app id, trusting a
local OpenID metadata endpoint and getting its own token from a local token
endpoint (tests/support/identity.py). A whole conversation goes through it
with a fresh channel token on every request and JSON logging at DEBUG; then
the captured logs, the SQLite files and every reply are searched for every
token involved and for the client secret.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.bot.conftest import DEFAULT_ANSWERS
from tests.security.conftest import PASTED_ERROR, SignedChat, database_bytes
from tests.support.connector import LocalConnector
from tests.support.harness import texts
from tests.support.identity import LocalIdentity
from tests.support.process import BotProcess, http_session

CUSTOMER_PASSWORD = "Winter2026!Sx"


def conversation() -> list[tuple[str, Any]]:
    """A whole support conversation: greeting, every question, a pasted error, a fix, a person."""
    turns: list[tuple[str, Any]] = [("install", None), ("say", "start")]
    for question, value in DEFAULT_ANSWERS.items():
        turns.append(("press", {"msa": "answer", "question": question, "value": value}))
    turns += [
        ("say", f"my password is {CUSTOMER_PASSWORD}"),
        ("say", PASTED_ERROR),
        ("press", {"msa": "show_fix", "cause": "smtp_auth_disabled_mailbox"}),
        ("press", {"msa": "fix_failed"}),
        ("say", "talk to a person"),
        ("say", "start over"),
        ("say", "help"),
    ]
    return turns


async def drive(chat: SignedChat, turns: list[tuple[str, Any]], tokens: list[str]) -> None:
    """Send every turn with a fresh channel token; every request must be accepted."""

    async def send(body: dict[str, Any]) -> None:
        token = chat.identity.channel_token(chat.connector.url)
        tokens.append(token)
        status, _ = await chat.send(body, f"Bearer {token}")
        assert status == 200, body

    for kind, payload in turns:
        if kind == "install":
            await send(chat._activity("installation_update"))
            await send(chat._activity("conversation_update"))
        elif kind == "say":
            await send(chat._activity("message", text=payload))
        else:
            await send(chat._activity("card_submit", value=payload))


async def test_no_token_or_secret_in_logs_state_or_replies(
    identity: LocalIdentity, connector: LocalConnector, tmp_path: Path
) -> None:
    """A full conversation at DEBUG: nothing secret in the logs, the database files or replies."""
    bot = await BotProcess({**identity.bot_env(), "LOG_LEVEL": "DEBUG",
                            "STORAGE_URL": f"sqlite:///{tmp_path}/bot.db"},
                           tmp_path / "bot.log").start()
    channel_tokens: list[str] = []
    try:
        async with http_session(bot) as session:
            chat = SignedChat(session, connector)
            chat.identity = identity
            await drive(chat, conversation(), channel_tokens)
    finally:
        bot.stop()

    logs = bot.logs()
    stored = database_bytes(tmp_path)
    replies = [r for r in connector.received if r.conversation_id == chat.conversation_id]
    reply_text = json.dumps([r.body for r in replies], ensure_ascii=False)
    # The test can only pass for the right reason if all of this really happened.
    assert re.search(r'"level":\s*"DEBUG"', logs), "the bot did not log at DEBUG"
    assert len(replies) >= len(conversation()), "the conversation did not get its replies"
    assert identity.issued, "the bot never fetched its own token"
    assert {r.authorization for r in replies} <= {f"Bearer {t}" for t in identity.issued}
    assert "Your mail setup summary" in texts([r.body for r in replies])

    secrets = {"client secret": identity.app_password, "customer password": CUSTOMER_PASSWORD}
    for n, token in enumerate(channel_tokens + identity.issued):
        secrets[f"token {n}"] = token
        secrets[f"token {n} signature"] = token.rsplit(".", 1)[1]
    for name, secret in secrets.items():
        assert secret not in logs or name == "customer password", f"{name} in the logs"
        assert secret.encode() not in stored, f"{name} in the database"
        assert secret not in reply_text, f"{name} in a reply"
