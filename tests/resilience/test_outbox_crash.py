"""kill -9 with a relay still in the outbox: the restarted bot delivers it."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.support.connector import LocalConnector
from tests.support.handoff import (
    DANA,
    Thread,
    card_of,
    executes,
    messages_to,
    new_threads,
    support_post,
)
from tests.support.harness import Chat
from tests.support.process import BotProcess, http_session


async def test_a_relay_waiting_in_the_outbox_survives_kill_9(
    tmp_path: Path, connector: LocalConnector
) -> None:
    env = {"STORAGE_URL": f"sqlite:///{tmp_path}/bot.db", "LOG_LEVEL": "WARNING"}
    bot = await BotProcess(env, tmp_path / "bot.log").start()
    try:
        async with http_session(bot) as session:
            await support_post(session, connector).say("use this channel for handoffs")  # type: ignore[arg-type]
            customer = Chat(session, connector)  # type: ignore[arg-type]
            await customer.say("talk to a person")
            root = new_threads(connector)[0]
            thread = Thread(session, connector, root.conversation_id, DANA)  # type: ignore[arg-type]
            ticket_id = executes(card_of(root.body))["Take over"]["ticket"]
            await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
            # Teams throttles the thread for longer than a turn may wait: the relay stays queued.
            connector.fail_only, connector.fail_status = root.conversation_id, 429
            connector.fail_next, connector.retry_after = 1, "15"
            assert await customer.say("Sent a test, 535 again") == []
        bot.kill(signal.SIGKILL)
        assert not any("Sent a test" in (m.get("text") or "")
                       for m in messages_to(connector, root.conversation_id))
        connector.fail_next = 0
        restarted = await BotProcess(env, tmp_path / "bot.log", port=bot.port).start()
        try:
            for _ in range(300):
                relayed = [m for m in messages_to(connector, root.conversation_id)
                           if "Sent a test, 535 again" in (m.get("text") or "")]
                if relayed:
                    break
                await asyncio.sleep(0.1)
            assert len(relayed) == 1
        finally:
            restarted.stop()
    finally:
        bot.kill()
