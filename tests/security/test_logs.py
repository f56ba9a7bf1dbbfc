"""Structured JSON logs: each turn carries its conversation id, and INFO never carries message text.

The bot runs as a real ``python app.py`` process at LOG_LEVEL=INFO; the
customer's messages, pasted errors and card values all contain a unique
marker, which must reach the bot (it ends up stored as the mailbox) and
never its logs.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.security.conftest import PASTED_ERROR, database_bytes
from tests.support.connector import LocalConnector
from tests.support.harness import Chat
from tests.support.process import BotProcess, http_session


async def test_info_logs_carry_the_conversation_id_and_never_what_the_customer_wrote(
    connector: LocalConnector, tmp_path: Path
) -> None:
    """At INFO every turn is logged with its conversation id; the customer's text never is."""
    marker = f"zqx-{uuid.uuid4().hex}"
    bot = await BotProcess({"LOG_LEVEL": "INFO", "STORAGE_URL": f"sqlite:///{tmp_path}/bot.db"},
                           tmp_path / "bot.log").start()
    try:
        async with http_session(bot) as session:
            chat = Chat(session, connector)
            await chat.install()
            await chat.say(f"hello {marker}")
            await chat.say("start")
            await chat.press({"msa": "answer", "question": "mailbox", "value": f"{marker}@x.com"})
            await chat.say(f"{marker}@contoso.com")
            await chat.say(f"{PASTED_ERROR} {marker}")
            await chat.press({"msa": "answer", "question": "license", "value": marker})
    finally:
        bot.stop()

    records = [json.loads(line) for line in bot.logs().splitlines() if line.startswith("{")]
    turns = [r for r in records if r.get("msg") == "turn"]
    assert len(turns) >= 6, "every message turn is logged"
    assert all(r.get("conversation_id") == chat.conversation_id for r in turns)
    debug = [r for r in records if r["level"] == "DEBUG"]
    assert not debug, debug[:3]
    assert marker not in bot.logs()
    # The marker did reach the bot: it is the mailbox now, in the stored state.
    assert f"{marker}@contoso.com".encode() in database_bytes(tmp_path)
