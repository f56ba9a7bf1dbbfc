"""Other hubs: the Bot Framework handoff protocol (``handoff.initiate`` / ``handoff.status``).

Behind ``HANDOFF_PROTOCOL=handoff-events`` and only off Teams (Teams answers
handoff activities with 400, so it keeps the relay). The shape follows
``EventFactory.CreateHandoffInitiation`` of the .NET/JS SDKs and the design
note bot-service-design-pattern-handoff-human.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from bot.settings import Settings
from bot.store import open_store
from tests.support.connector import LocalConnector
from tests.support.handoff import new_threads, support_post
from tests.support.harness import Chat, buttons, texts

AppClient = Callable[..., Any]


@pytest.fixture
def hub_settings(tmp_path: Path) -> Settings:
    return Settings(storage_url=f"sqlite:///{tmp_path}/bot.db", handoff_protocol="handoff-events")


async def say(chat: Chat, text: str, channel: str = "directline") -> list[dict[str, Any]]:
    status, replies, _ = await chat.post(chat._activity("message", text=text, channelId=channel))
    assert status == 200
    return replies


async def status_event(chat: Chat, value: dict[str, Any]) -> list[dict[str, Any]]:
    body = chat._activity("message", channelId="directline")
    body.update(type="event", name="handoff.status", value=value)
    body.pop("text", None)
    status, replies, _ = await chat.post(body)
    assert status == 200
    return replies


async def test_handoff_initiate_carries_context_and_the_transcript(
    aiohttp_client: AppClient, hub_settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(hub_settings))
    customer = Chat(client, connector)
    await say(customer, "hello")
    replies = await say(customer, "talk to a person")
    [event] = [r for r in replies if r["type"] == "event"]
    assert event["name"] == "handoff.initiate"
    assert event["conversation"]["id"] == customer.conversation_id
    assert event["channelId"] == "directline"
    assert event["relatesTo"]["conversation"]["id"] == customer.conversation_id
    assert event["relatesTo"]["user"]["name"] == "Alex Wilber"
    assert event["timestamp"].startswith("20")  # the connector assigns the id
    value = event["value"]
    assert value["reason"] == "person_requested" and value["skill"] == "mail-setup"
    assert value["customer"] == {"name": "Alex Wilber", "tenantId": customer.tenant_id}
    assert value["summary"]["reason_text"] == "Asked to talk to a person"
    [attachment] = event["attachments"]
    assert attachment["contentType"] == "application/json"
    assert attachment["name"] == "Transcript"
    activities = attachment["content"]["activities"]
    assert [(a["type"], a["from"]["role"], a["text"]) for a in activities] == [
        ("message", "user", "hello"), ("message", "user", "talk to a person")]
    assert "connecting you with a person" in texts(replies)
    assert new_threads(connector) == []  # no Teams relay for a hub conversation


async def test_handoff_status_accepted_then_completed_hands_back_with_feedback(
    aiohttp_client: AppClient, hub_settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(hub_settings))
    customer = Chat(client, connector)
    await say(customer, "talk to a person")
    assert await status_event(customer, {"state": "accepted"}) == []
    # While the hub's agent has the conversation, the bot does not answer.
    assert await say(customer, "hello?") == []
    replies = await status_event(customer, {"state": "completed"})
    assert "Is your problem solved?" in texts(replies)
    replies = await customer.press(buttons(replies)["Yes, solved"])
    replies = await customer.press(buttons(replies)["⭐⭐⭐⭐"])
    assert "rating us 4 out of 5" in texts(replies)
    async with await open_store(hub_settings.storage_url) as store:
        [ticket] = await store.tickets.list_tickets()
        audit = await store.audit.counts_by_detail("handoff", "event", 1)
    assert (ticket.status, ticket.agent_id, ticket.solved, ticket.rating) == (
        "closed", "handoff-hub", True, 4)
    assert audit["hub_accepted"] == 1 and audit["hub_completed"] == 1


async def test_handoff_status_failed_tells_the_customer_and_closes(
    aiohttp_client: AppClient, hub_settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(hub_settings))
    customer = Chat(client, connector)
    await say(customer, "talk to a person")
    replies = await status_event(customer, {"state": "failed", "message": "No agents online"})
    assert "couldn't reach a person from CLOUDEX support (No agents online)" in texts(replies)
    assert await say(customer, "help")  # the bot answers again


async def test_teams_keeps_the_relay_even_with_the_events_setting(
    aiohttp_client: AppClient, hub_settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(hub_settings))
    await support_post(client, connector).say("use this channel for handoffs")
    customer = Chat(client, connector)
    replies = await customer.say("talk to a person")
    assert all(r["type"] == "message" for r in replies)
    assert len(new_threads(connector)) == 1
