"""Live checks meet the handoff: findings only a person can act on reach the support channel.

A room mailbox can never use SMTP AUTH (the flow's dead end), so the checks
escalate on their own; and when the customer asks for a person after a run,
the agent's ticket card carries the latest check results.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.checks.fakes import TenantScenario
from tests.live.conftest import LiveBotFactory, as_mailbox
from tests.support.handoff import SUPPORT_CHANNEL, card_of, new_threads, shown
from tests.support.harness import texts


async def _threads(bot: Any, timeout: float = 10.0) -> list[Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not new_threads(bot.connector) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # let anything after the first post land too
    return new_threads(bot.connector)


async def test_a_finding_the_customer_cannot_fix_escalates_with_the_results(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.for_cause("unsupported_mailbox_type")),
                         support_channel_id=SUPPORT_CHANNEL)
    await bot.checked_conversation()
    # The escalation follows the final card from the same background run.
    threads = await _threads(bot)
    assert len(threads) == 1, [t.body for t in threads]
    ticket_card = shown(threads[0].body)
    assert "Mailbox type" in ticket_card          # the check's row travels with the ticket
    assert "room" in ticket_card.lower()          # and so does its evidence
    assert "person" in texts(bot.posted()).lower()  # the customer is told someone was asked


async def test_asking_for_a_person_after_checks_gives_the_agent_the_results(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.for_cause("security_defaults")),
                         support_channel_id=SUPPORT_CHANNEL)
    await bot.checked_conversation()
    assert new_threads(bot.connector) == []       # the customer can fix this one
    await bot.chat.say("talk to a person")
    threads = new_threads(bot.connector)
    assert len(threads) == 1
    assert "Security defaults" in shown(threads[0].body)
    assert card_of(threads[0].body)["type"] == "AdaptiveCard"
