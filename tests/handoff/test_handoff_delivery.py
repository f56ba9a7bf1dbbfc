"""Issue 16 over HTTP: inert customer text, once-only turns, and messages that must arrive.

The real app, the local Bot Connector (told to refuse, throttle, fail or
stall), Teams-shaped activities. Relayed text is checked the way a client
renders it: with a CommonMark renderer that also turns bare addresses into
links (markdown-it with linkify).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from markdown_it import MarkdownIt

from app import create_app
from bot.settings import Settings
from bot.store import open_store
from tests.handoff.test_handoff_relay import start_handoff
from tests.support.connector import LocalConnector
from tests.support.handoff import DANA, Thread, card_of, executes, messages_to, new_threads
from tests.support.harness import Chat, buttons, texts

AppClient = Callable[..., Any]
RENDER = MarkdownIt("commonmark", {"linkify": True}).enable("linkify")
HOSTILE_NAME = "**Dana (CLOUDEX support):** <img src=x onerror=alert(1)> [click](https://evil.example)"
HOSTILE_TEXT = ("Hi\n\n**Dana Agent (CLOUDEX support):** please send me your admin password at "
                "[our portal](https://evil.example/login) or https://evil.example/x "
                "<script>alert(1)</script> <a href='https://evil.example'>here</a> &amp; _done_")


def rendered(markdown: str) -> str:
    return RENDER.render(markdown)


async def taken_handoff(
    client: Any, connector: LocalConnector, customer: Chat
) -> tuple[Thread, str]:
    thread, ticket_id = await start_handoff(client, connector, customer)
    status, _ = await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200
    return thread, ticket_id


async def test_customer_words_and_name_reach_agents_inert(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector, user_name=HOSTILE_NAME)
    await customer.say(HOSTILE_TEXT)  # on the card's "last messages" too
    thread, _ = await taken_handoff(client, connector, customer)
    before = len(messages_to(connector, thread.conversation_id))
    assert await customer.say(HOSTILE_TEXT) == []
    [relayed] = messages_to(connector, thread.conversation_id)[before:]
    html = rendered(relayed["text"])
    assert "<a " not in html and "<img" not in html and "<script" not in html
    # The bot's label of who wrote it, nothing the customer typed.
    assert html.count("<strong>") == 1
    assert "<em>" not in html
    assert "**Dana Agent (CLOUDEX support):**" in html  # shown as typed, asterisks and all
    assert "https://evil.example/x" in html and "&lt;script&gt;" in html
    # The ticket card shows the same inert name and words.
    card = card_of(new_threads(connector)[0].body)
    blocks = [b["text"] for b in card["body"] if b.get("type") == "TextBlock"]
    facts = [f["value"] for b in card["body"] if b.get("type") == "FactSet" for f in b["facts"]]
    for text in blocks + facts:
        html = rendered(text)
        assert "<a " not in html and "<img" not in html and "<script" not in html, text


async def test_the_same_activity_delivered_twice_has_one_effect(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    replies = await customer.say("554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException")
    press = customer._activity("card_submit", value=buttons(replies)["No, still failing"])
    for _ in range(2):  # Teams delivers the press again (it did not hear back in time)
        status, _, _ = await customer.post(press)
        assert status == 200
    async with await open_store(settings.storage_url) as store:
        key = f"conv/msteams/{customer.conversation_id}"
        snapshot = (await store.state.read([key]))[key]["snapshot"]
        assert snapshot["facts"]["failed_fixes"] == 1
        assert await store.tickets.list_tickets() == []  # one failed fix is not a handoff


async def test_a_throttled_reply_is_sent_again_after_retry_after_and_arrives_once(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    connector.fail_next, connector.fail_status, connector.retry_after = 1, 429, "1"
    started = time.monotonic()
    replies = await customer.say("hello")
    assert time.monotonic() - started >= 1.0  # it waited as it was told
    assert len(replies) == 1 and connector.fail_next == 0


async def test_a_ticket_card_whose_first_post_fails_is_posted(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    from tests.support.handoff import support_post

    client = await aiohttp_client(create_app(settings))
    await support_post(client, connector).say("use this channel for handoffs")
    connector.fail_creates, connector.fail_status = 1, 500
    customer = Chat(client, connector)
    replies = await customer.say("talk to a person")
    assert "You are number 1 in the queue" in texts(replies)
    [thread] = new_threads(connector)
    assert "Take over" in executes(card_of(thread.body))


async def test_a_relay_the_customer_can_no_longer_receive_is_reported_to_the_agent(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    thread, _ = await taken_handoff(client, connector, customer)
    connector.fail_next, connector.fail_status = 1, 403
    connector.fail_only = customer.conversation_id
    await thread.say("Did the test mail go out?")
    for _ in range(50):
        told = [m["text"] for m in messages_to(connector, thread.conversation_id)
                if "could not deliver your message to the customer" in (m.get("text") or "")]
        if told:
            break
        await asyncio.sleep(0.05)
    assert told and "removed the app" in told[0]


async def test_waiting_customers_are_acknowledged_and_presses_reach_the_agent(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    replies_before = await customer.say(
        "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException")
    worked = buttons(replies_before)["Yes, it works"]
    thread, ticket_id = await start_handoff(client, connector, customer)
    replies = await customer.say("anyone there?")
    assert "Added to your request — the agent will see it." in texts(replies)
    assert "didn't catch" not in texts(replies)
    await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
    before = len(messages_to(connector, thread.conversation_id))
    assert await customer.press(worked) == []
    [pressed] = messages_to(connector, thread.conversation_id)[before:]
    assert pressed["text"].endswith("The customer pressed: Yes, it works")


async def test_a_rating_out_of_range_is_asked_again(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    thread, ticket_id = await taken_handoff(client, connector, customer)
    await thread.say("done")
    for value in (1e999, 7, "five", True):
        replies = await customer.press({"msa": "handoff_rating", "ticket": ticket_id,
                                        "value": value})
        assert "Please pick a number from 1 to 5." in texts(replies), value
    replies = await customer.press({"msa": "handoff_rating", "ticket": ticket_id, "value": 4})
    assert "rating us 4 out of 5" in texts(replies)


async def test_a_message_racing_the_take_over_arrives_once_and_in_order(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    from tests.support.handoff import support_post

    client = await aiohttp_client(create_app(settings))
    await support_post(client, connector).say("use this channel for handoffs")
    for round_number in range(20):
        customer = Chat(client, connector)
        await customer.say("talk to a person")
        root = new_threads(connector)[-1]
        ticket_id = executes(card_of(root.body))["Take over"]["ticket"]
        thread = Thread(client, connector, root.conversation_id, DANA)
        words = [f"round {round_number} message {n}" for n in range(3)]

        async def type_all(customer: Chat, words: list[str]) -> None:
            for text in words:
                await customer.say(text)

        await asyncio.gather(type_all(customer, words), thread.execute(
            {"msa": "handoff_take_over", "ticket": ticket_id}))
        for _ in range(50):
            shown = "\n".join(m.get("text") or "" for m in messages_to(
                connector, thread.conversation_id))
            if all(w in shown for w in words):
                break
            await asyncio.sleep(0.02)
        positions = [shown.find(w) for w in words]
        assert all(shown.count(w) == 1 for w in words), (round_number, shown)
        assert positions == sorted(positions), (round_number, shown)


async def test_a_connector_taking_30_seconds_does_not_hold_teams_request(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    connector.delay_seconds = 30.0
    started = time.monotonic()
    response = await client.post("/api/messages", json=customer._activity("message", text="hi"))
    answered = time.monotonic() - started
    assert response.status == 200 and answered < 15.0, answered  # Teams waits 15 s
    await connector.wait_for(1, timeout=40.0)  # the reply goes on, and arrives
    assert len(connector.for_conversation(customer.conversation_id)) == 1
