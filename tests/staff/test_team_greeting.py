"""Adding the app to a team: staff get the support desk's hello, everyone else the customer welcome.

Teams sends an ``installationUpdate`` and a ``conversationUpdate``
(``teamMemberAdded`` with the bot among the members) to the team's General
channel when someone adds the app to a team (fixtures
``team_installation_update.json`` / ``team_conversation_update.json``). Over
HTTP with the local Bot Connector:

* a CLOUDEX staff member adding it is told, once, how to make a channel the
  support channel and that ``queue`` lists who waits — not the customer card;
* in a team whose General channel already is the support channel, the agents
  there get the channel's own hello;
* anyone else (a customer adding it to their own team) gets the customer
  welcome, once;
* the greeting is a stored turn: 503 and nothing said when the store cannot
  take it, greeted once when Teams delivers it again; a slow connector does
  not hold Teams' request.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from app import create_app
from bot.settings import Settings
from dialogs.handoff import phrases
from tests.staff.conftest import CUSTOMER_TENANT, STAFF_TENANT
from tests.support.cards import cards_in
from tests.support.connector import LocalConnector
from tests.support.harness import Chat, texts
from tests.support.locked import sqlite_locked

_teams = itertools.count(1)
INSTALL = ("team_installation_update", "team_conversation_update")


def team(client: Any, connector: LocalConnector, tenant: str,
         user_id: str = "29:installer") -> Chat:
    """The General channel of a new team, seen by the person adding the app."""
    return Chat(client, connector, conversation_id=f"19:general-{next(_teams)}@thread.tacv2",
                user_id=user_id, user_name="", tenant_id=tenant)


def install_activity(chat: Chat, name: str) -> dict[str, Any]:
    """Teams' install activity ``name`` for the team whose General channel is ``chat``."""
    body = chat._activity(name)
    body["channelData"]["team"]["id"] = chat.conversation_id
    body["channelData"]["settings"]["selectedChannel"]["id"] = chat.conversation_id
    if "channel" in body["channelData"]:
        body["channelData"]["channel"]["id"] = chat.conversation_id
    return body


async def add_app(chat: Chat) -> list[dict[str, Any]]:
    """Add the app to the team as Teams does (both activities); return what the bot said."""
    said: list[dict[str, Any]] = []
    for name in INSTALL:
        status, replies, _ = await chat.post(install_activity(chat, name))
        assert status == 200, (name, status)
        said += replies
    return said


def is_customer_welcome(reply: dict[str, Any]) -> bool:
    """The customer welcome card: the one with the Start button."""
    return any(action.get("data") == {"msa": "start"}
               for card in cards_in(reply) for action in card.get("actions", []))


async def test_staff_adding_the_app_to_a_team_are_told_how_to_set_up_the_desk_once(
    bot_client: Any, connector: LocalConnector
) -> None:
    general = team(bot_client, connector, STAFF_TENANT)
    said = await add_app(general)
    assert len(said) == 1, texts(said)  # Teams sends two activities for one install
    [hello] = said
    assert hello["text"] == phrases.TEAM_HELLO
    assert "use this channel for handoffs" in hello["text"] and "`queue`" in hello["text"]
    assert cards_in(hello) == []
    # Delivered again (Teams did not hear back in time): nothing more is said.
    for name in INSTALL:
        assert (await general.post(install_activity(general, name)))[:2] == (200, [])


async def test_staff_tenant_ids_in_upper_case_get_the_desk_hello(
    bot_client: Any, connector: LocalConnector
) -> None:
    said = await add_app(team(bot_client, connector, STAFF_TENANT.upper()))
    assert [reply.get("text") for reply in said] == [phrases.TEAM_HELLO]


async def test_the_bots_own_tenant_is_staff_when_no_staff_tenants_are_set(
    aiohttp_client: Any, tmp_path: Path, connector: LocalConnector
) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db", app_tenant_id=STAFF_TENANT)
    client = await aiohttp_client(create_app(settings))
    said = await add_app(team(client, connector, STAFF_TENANT))
    assert [reply.get("text") for reply in said] == [phrases.TEAM_HELLO]
    customer = await add_app(team(client, connector, CUSTOMER_TENANT))
    assert len(customer) == 1 and is_customer_welcome(customer[0])


async def test_a_customer_adding_the_app_to_their_team_gets_the_customer_welcome_once(
    bot_client: Any, connector: LocalConnector
) -> None:
    said = await add_app(team(bot_client, connector, CUSTOMER_TENANT))
    assert len(said) == 1 and is_customer_welcome(said[0])
    assert "use this channel for handoffs" not in texts(said)


async def test_the_support_channels_team_greets_its_agents(
    aiohttp_client: Any, tmp_path: Path, connector: LocalConnector
) -> None:
    general = team(None, connector, STAFF_TENANT)
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db",
                        staff_tenant_ids=(STAFF_TENANT,),
                        support_channel_id=general.conversation_id)
    general.client = await aiohttp_client(create_app(settings))
    said = await add_app(general)
    assert [reply.get("text") for reply in said] == [phrases.CHANNEL_HELLO]


async def test_a_greeting_that_cannot_be_stored_gets_503_then_greets_once(
    aiohttp_client: Any, tmp_path: Path, connector: LocalConnector
) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db",
                        staff_tenant_ids=(STAFF_TENANT,))
    client = await aiohttp_client(create_app(settings))
    await Chat(client, connector).say("hello")  # the store is open and has its tables
    for tenant in (STAFF_TENANT, CUSTOMER_TENANT):
        general = team(client, connector, tenant)
        first = install_activity(general, INSTALL[0])
        with sqlite_locked(tmp_path / "bot.db"):
            status, replies, _ = await general.post(first)
            assert status == 503 and replies == [], tenant
        said = await add_app(general)  # delivered again, then the conversationUpdate
        assert len(said) == 1, (tenant, texts(said))


async def test_a_slow_connector_does_not_hold_the_install(
    bot_client: Any, connector: LocalConnector
) -> None:
    general = team(bot_client, connector, STAFF_TENANT)
    connector.delay_seconds = 16.0  # past the 10 s budget and Teams' 15 s
    started = time.monotonic()
    status, _, _ = await general.post(install_activity(general, INSTALL[0]))
    answered = time.monotonic() - started
    assert status == 200 and answered < 15.0, answered  # Teams waits 15 s
    await connector.wait_for(1, timeout=30.0)  # the hello goes on, and arrives
    assert [r.get("text") for r in connector.for_conversation(general.conversation_id)] == [
        phrases.TEAM_HELLO]
