"""The staff rule asks the Teams roster who a sender is: once a person, with the bot's token.

Over HTTP, with the local Bot Connector answering the roster as Teams does
(``GET /v3/conversations/{id}/members/{userId}``):

* an agent who registers the support channel, lists the queue, takes a ticket
  over, writes to the customer, ends it and searches in the compose box is
  looked up once for all of it (the answer is kept 15 minutes);
* the lookup carries the bot's own token, as its replies do;
* a roster that answers with an error, or not at all, means "not staff" — and
  the turn still answers well inside Teams' 15 s (the compose box's 5 s);
* the compose box in a chat without the bot (the roster there answers
  ``403 BotNotInConversationRoster``) asks the sender's own chat with the bot:
  a member of the staff tenant gets results, a guest does not, nor does
  someone whose chat with the bot cannot be found.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from bot.settings import Settings
from dialogs.handoff import phrases
from dialogs.staff import STAFF_ONLY as SEARCH_STAFF_ONLY
from tests.support.connector import LocalConnector
from tests.support.handoff import (
    DANA,
    MARA,
    SUPPORT_CHANNEL,
    SUPPORT_TENANT,
    Agent,
    Thread,
    card_of,
    executes,
    new_threads,
    support_post,
)
from tests.support.harness import Chat, texts
from tests.support.identity import LocalIdentity

AppClient = Callable[..., Any]
STAFF_ONLY = "Only CLOUDEX support staff can do that."
CHAT_WITHOUT_BOT = "19:dana_alex@unq.gbl.spaces"


def rules(tmp_path: Path) -> dict[str, Settings]:
    url = f"sqlite:///{tmp_path}/bot.db"
    return {
        "STAFF_TENANT_IDS set": Settings(storage_url=url, staff_tenant_ids=(SUPPORT_TENANT,)),
        "STAFF_TENANT_IDS unset": Settings(storage_url=url, app_tenant_id=SUPPORT_TENANT),
    }


@pytest.fixture(params=["STAFF_TENANT_IDS set", "STAFF_TENANT_IDS unset"])
def staff_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return rules(tmp_path)[request.param]


async def search(client: Any, connector: LocalConnector, agent: Agent,
                 conversation_id: str = "a:compose-personal") -> tuple[int, dict[str, Any], float]:
    """Search the knowledge in the compose box; return status, the result and the seconds taken."""
    chat = Chat(client, connector, conversation_id=conversation_id, user_id=agent.id,
                user_name=agent.name, tenant_id=agent.tenant, role=agent.role)
    body = chat._activity("compose_extension_query")
    body["value"] = {"commandId": "searchKnowledge",
                     "parameters": [{"name": "query", "value": "smtp disabled"}]}
    started = time.monotonic()
    status, _, payload = await chat.post(body)
    return status, payload["composeExtension"], time.monotonic() - started


def found_cards(result: dict[str, Any]) -> bool:
    assert (result["type"] == "result") == (result.get("text") != SEARCH_STAFF_ONLY), result
    return result["type"] == "result" and bool(result["attachments"])


async def desk_with_a_ticket(client: Any, connector: LocalConnector) -> tuple[str, str, Chat]:
    """Dana makes the support channel; a customer asks for a person. Thread id, ticket, customer."""
    replies = await support_post(client, connector).say("use this channel for handoffs")
    assert phrases.CHANNEL_SET in texts(replies)
    customer = Chat(client, connector)
    await customer.say("talk to a person")
    [root] = new_threads(connector)
    return root.conversation_id, executes(card_of(root.body))["Take over"]["ticket"], customer


async def test_an_agent_is_looked_up_once_for_every_staff_path(
    aiohttp_client: AppClient, staff_settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(staff_settings))
    thread_id, ticket_id, customer = await desk_with_a_ticket(client, connector)
    thread = Thread(client, connector, thread_id, DANA)
    assert "Alex Wilber" in texts(await support_post(client, connector).say("queue"))
    status, body = await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200 and list(executes(body["value"])) == ["End and hand back"]
    await thread.say("Hello, checking your tenant now")
    assert any("checking your tenant" in (m.get("text") or "")
               for m in connector.for_conversation(customer.conversation_id))
    status, body = await thread.execute({"msa": "handoff_end", "ticket": ticket_id})
    assert status == 200
    status, result, _ = await search(client, connector, DANA)
    assert status == 200 and found_cards(result)
    [lookup] = connector.lookups_of(DANA.id)
    assert lookup.conversation_id == SUPPORT_CHANNEL  # the channel's roster, not the thread's
    assert [r.member_id for r in connector.roster_requests] == [DANA.id]  # never the customer


async def test_the_roster_is_asked_with_the_bots_own_token(
    aiohttp_client: AppClient, tmp_path: Path, connector: LocalConnector, identity: LocalIdentity,
) -> None:
    settings = Settings(
        app_id=identity.app_id, app_password=identity.app_password, app_type="SingleTenant",
        app_tenant_id=identity.tenant_id, openid_metadata_url=identity.metadata_url,
        bot_login_url=identity.authority, storage_url=f"sqlite:///{tmp_path}/bot.db")
    client = await aiohttp_client(create_app(settings))

    def signed() -> str:
        return "Bearer " + identity.channel_token(connector.url)

    guest = Agent("29:guest-gus", "Gus Contractor (Guest)", tenant=identity.tenant_id,
                  role="guest")
    replies = await support_post(client, connector, guest, signed).say(
        "use this channel for handoffs")
    assert phrases.STAFF_ONLY_CHANNEL in texts(replies)
    agent = Agent(DANA.id, DANA.name, tenant=identity.tenant_id)
    replies = await support_post(client, connector, agent, signed).say(
        "use this channel for handoffs")
    assert phrases.CHANNEL_SET in texts(replies)
    assert [r.member_id for r in connector.roster_requests] == [guest.id, agent.id]
    assert identity.issued, "the bot asked Entra for its token"
    assert {r.authorization for r in connector.roster_requests} == {
        f"Bearer {identity.issued[-1]}"}


@pytest.mark.parametrize("status", [500, 503, 429, 401, 400])
async def test_a_roster_that_fails_means_not_staff(
    aiohttp_client: AppClient, staff_settings: Settings, connector: LocalConnector, status: int
) -> None:
    client = await aiohttp_client(create_app(staff_settings))
    thread_id, ticket_id, _ = await desk_with_a_ticket(client, connector)
    connector.roster_fail_next, connector.roster_fail_status = 100, status
    assert STAFF_ONLY in texts(await support_post(client, connector, MARA).say("queue"))
    status_code, body = await Thread(client, connector, thread_id, MARA).execute(
        {"msa": "handoff_take_over", "ticket": ticket_id})
    assert status_code == 200 and body["value"]["body"][0]["text"] == STAFF_ONLY
    assert executes(body["value"]) == {}
    code, result, _ = await search(client, connector, MARA)
    assert code == 200 and not found_cards(result)
    assert connector.lookups_of(MARA.id)  # asked, and refused because it could not be read


async def test_a_roster_that_does_not_answer_means_not_staff_within_teams_limits(
    aiohttp_client: AppClient, staff_settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(staff_settings))
    thread_id, ticket_id, customer = await desk_with_a_ticket(client, connector)
    connector.roster_delay_seconds = 8.0  # longer than any lookup may take
    started = time.monotonic()
    status, body = await Thread(client, connector, thread_id, MARA).execute(
        {"msa": "handoff_take_over", "ticket": ticket_id})
    answered = time.monotonic() - started
    assert status == 200 and body["value"]["body"][0]["text"] == STAFF_ONLY
    assert answered < 15.0, answered  # Teams waits 15 s for a bot
    newcomer = Agent("29:agent-nils", "Nils Agent")
    status, result, answered = await search(client, connector, newcomer)
    assert status == 200 and not found_cards(result)
    assert answered < 5.0, answered  # Teams waits 5 s for a compose-box search
    assert not [m for m in connector.for_conversation(customer.conversation_id)
                if "has joined" in (m.get("text") or "")]


async def test_the_compose_box_in_a_chat_without_the_bot_asks_the_senders_own_chat(
    aiohttp_client: AppClient, staff_settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(staff_settings))
    connector.outside.add(CHAT_WITHOUT_BOT)
    status, result, _ = await search(client, connector, DANA, CHAT_WITHOUT_BOT)
    assert status == 200 and found_cards(result)
    assert [(r.method, r.conversation_id) for r in connector.roster_requests] == [
        ("GET", CHAT_WITHOUT_BOT), ("POST", ""), ("GET", f"a:personal-{DANA.id}")]

    guest = Agent("29:guest-gus", "Gus Contractor (Guest)", role="guest")
    status, result, _ = await search(client, connector, guest, CHAT_WITHOUT_BOT)
    assert status == 200 and not found_cards(result)

    without_app = Agent("29:agent-ola", "Ola Agent")
    connector.not_installed.add(without_app.id)
    status, result, _ = await search(client, connector, without_app, CHAT_WITHOUT_BOT)
    assert status == 200 and not found_cards(result)
