"""Live checks meet the handoff: findings only a person can act on reach the support channel.

A sender Microsoft has blocked needs a support case (``needs_person`` in the
knowledge file), so the checks escalate on their own; a room mailbox does not
(the fix, "use a licensed user mailbox", is the customer's). When the
customer asks for a person after a run, the ticket carries the results.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.checks.fakes import SMTP_SENDER_BLOCKED, TenantScenario
from tests.live.conftest import LiveBotFactory, as_mailbox
from tests.support.handoff import SUPPORT_CHANNEL, card_of, new_threads, shown
from tests.support.harness import texts


async def _threads(bot: Any, within: float = 10.0) -> list[Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not new_threads(bot.connector) and loop.time() < deadline:  # noqa: ASYNC110 - polls
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # let anything after the first post land too
    return new_threads(bot.connector)


async def test_a_finding_the_customer_cannot_fix_escalates_with_the_results(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.healthy().with_(smtp=SMTP_SENDER_BLOCKED)),
                         support_channel_id=SUPPORT_CHANNEL)
    await bot.checked_conversation()
    # The escalation follows the final card from the same background run.
    threads = await _threads(bot)
    assert len(threads) == 1, [t.body for t in threads]
    ticket_card = shown(threads[0].body)
    assert "Live SMTP test" in ticket_card       # the check's row travels with the ticket
    assert "5.1.8" in ticket_card                 # and so does what it found
    assert "person" in texts(bot.posted()).lower()  # the customer is told someone was asked


async def test_a_room_mailbox_is_the_customers_to_fix_not_a_ticket(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.for_cause("unsupported_mailbox_type")),
                         support_channel_id=SUPPORT_CHANNEL)
    card = await bot.checked_conversation()
    assert "This kind of mailbox cannot sign in with Authenticated SMTP" in str(card)
    await asyncio.sleep(0.3)
    assert new_threads(bot.connector) == []


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
