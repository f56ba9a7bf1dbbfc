"""A restart resumes the conversation: stop ``python app.py`` mid-flow, start it on the same file.

The bot runs as a real process on a free loopback port; its replies go to the
local Bot Connector running in this test process. Stopping is SIGTERM here
(a graceful stop); the crash case (SIGKILL) belongs to the scale-out tests.
"""

from __future__ import annotations

import signal
from pathlib import Path

from dialogs.knowledge import Knowledge
from tests.support.connector import LocalConnector
from tests.support.harness import Chat, buttons, texts
from tests.support.process import BotProcess, http_session


async def test_the_conversation_continues_at_the_same_question_after_a_restart(
    connector: LocalConnector, tmp_path: Path, knowledge: Knowledge
) -> None:
    database = tmp_path / "restart.db"
    bot = BotProcess({"STORAGE_URL": f"sqlite:///{database}", "LOG_LEVEL": "WARNING"},
                     tmp_path / "bot.log")
    conversation_id = "a:restart-conversation"
    try:
        await bot.start()
        async with http_session(bot) as session:
            chat = Chat(session, connector, conversation_id=conversation_id)
            replies = await chat.install()
            replies = await chat.press(buttons(replies)["Start"])
            replies = await chat.press({**buttons(replies)["Next"], "mailbox": "tms@contoso.com"})
            replies = await chat.press(buttons(replies)["User mailbox"])
            replies = await chat.say("yes")
            assert "Question 4 of 10" in texts(replies)
            assert knowledge.questions["mfa"].prompt in texts(replies)

        bot.kill(signal.SIGTERM)
        assert bot.process is not None and bot.process.returncode is not None
        assert database.exists()

        await bot.start()  # same port, same SQLite file
        async with http_session(bot) as session:
            chat = Chat(session, connector, conversation_id=conversation_id)
            # Something the bot cannot read: it re-asks the question it was on, question 4.
            replies = await chat.say("hmm")
            assert "Question 4 of 10" in texts(replies)
            assert knowledge.questions["mfa"].prompt in texts(replies)
            # And the answer continues the flow from there, with the earlier answers kept.
            replies = await chat.say("yes")
            assert "Question 5 of 10" in texts(replies)
            assert knowledge.questions["security_defaults"].prompt in texts(replies)
            # Installing again after the restart does not greet a second time.
            assert await chat.install() == []
    finally:
        bot.stop()
    assert "Traceback" not in bot.logs()
