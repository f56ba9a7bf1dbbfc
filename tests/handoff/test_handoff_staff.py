"""Only CLOUDEX staff run the support desk: one staff rule for every staff-only path, over HTTP.

A stranger from another tenant — or someone in CLOUDEX's own conversations who
is not a member of CLOUDEX's tenant, as the Teams roster says: a B2B guest, an
anonymous user, a shared channel's external user — in a channel of their own
or in the support channel itself, cannot make a channel the support channel,
list the queue, refresh a ticket card into ticket data, take a ticket over,
end it, or type ``done`` with any effect — whether ``STAFF_TENANT_IDS`` is set
or not (then staff are the bot's own tenant, ``MicrosoftAppTenantId``). Tenant
ids match whatever their case, and a member of ``STAFF_GROUP_ID`` whose tenant
is not listed is staff (checked against a local Graph with the bot's own token).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import example, given
from hypothesis import strategies as st

from app import create_app
from bot.settings import Settings
from bot.store import open_store
from dialogs.handoff.policy import QUEUE, asks_for_queue
from dialogs.text import said
from tests.checks.fakes import TlsMaterial
from tests.support.connector import LocalConnector
from tests.support.handoff import (
    DANA,
    SUPPORT_TENANT,
    Agent,
    Thread,
    card_of,
    executes,
    messages_to,
    new_threads,
    shown,
    support_post,
    updates_to,
)
from tests.support.harness import Chat, texts

AppClient = Callable[..., Any]
PARTNER_TENANT = "99999999-8888-7777-6666-555555555555"
STRANGER = Agent("29:stranger", "Eve Stranger", tenant=PARTNER_TENANT)
# In CLOUDEX's tenant's conversations, with CLOUDEX's tenant id, but not members of the tenant.
GUEST = Agent("29:guest-gus", "Gus Contractor (Guest)", role="guest")
ANONYMOUS = Agent("29:anonymous-ann", "Anon1 (Guest)", role="anonymous")
EXTERNAL = Agent("29:external-erik", "Erik Partner (External)")  # a shared channel's
NOT_STAFF = {"another tenant": STRANGER, "a B2B guest": GUEST, "an anonymous user": ANONYMOUS,
             "a shared channel's external user": EXTERNAL}
STAFF_ONLY = "Only CLOUDEX support staff can do that."


@pytest.fixture(params=list(NOT_STAFF))
def stranger(request: pytest.FixtureRequest, connector: LocalConnector) -> Agent:
    """Someone who is not staff, in the roster as Teams would describe them."""
    agent = NOT_STAFF[request.param]
    if agent is EXTERNAL:  # their own tenant, in a channel of CLOUDEX's tenant
        connector.add_member(agent.id, PARTNER_TENANT, name=agent.name)
    return agent


def rules(tmp_path: Path) -> dict[str, Settings]:
    """The ways to say who staff are: listed tenants, or only the bot's own tenant."""
    url = f"sqlite:///{tmp_path}/bot.db"
    return {
        "STAFF_TENANT_IDS set": Settings(storage_url=url, staff_tenant_ids=(SUPPORT_TENANT,)),
        "STAFF_TENANT_IDS unset": Settings(storage_url=url, app_tenant_id=SUPPORT_TENANT),
    }


@pytest.fixture(params=["STAFF_TENANT_IDS set", "STAFF_TENANT_IDS unset"])
def staff_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return rules(tmp_path)[request.param]


async def ticket_of(settings: Settings, ticket_id: str) -> Any:
    async with await open_store(settings.storage_url) as store:
        return await store.tickets.get_ticket(ticket_id)


async def test_a_stranger_cannot_make_their_channel_the_support_channel(
    aiohttp_client: AppClient, staff_settings: Settings, connector: LocalConnector,
    stranger: Agent,
) -> None:
    client = await aiohttp_client(create_app(staff_settings))
    replies = await support_post(client, connector, stranger).say("use this channel for handoffs")
    assert "will be posted in this channel" not in texts(replies)
    assert "Only CLOUDEX support staff" in texts(replies)
    customer = Chat(client, connector)
    replies = await customer.say("talk to a person")
    assert "I've passed your request to CLOUDEX support" in texts(replies)
    assert new_threads(connector) == []  # no ticket card went to the stranger's channel
    async with await open_store(staff_settings.storage_url) as store:
        assert await store.kv.get("handoff/support_channel") is None


async def test_a_stranger_in_the_support_channel_gets_nothing_and_changes_nothing(
    aiohttp_client: AppClient, staff_settings: Settings, connector: LocalConnector,
    stranger: Agent,
) -> None:
    client = await aiohttp_client(create_app(staff_settings))
    replies = await support_post(client, connector).say("use this channel for handoffs")
    assert "will be posted in this channel" in texts(replies)
    customer = Chat(client, connector, user_name="Alex Wilber")
    await customer.say("talk to a person")
    [root] = new_threads(connector)
    ticket_id = executes(card_of(root.body))["Take over"]["ticket"]
    in_thread = Thread(client, connector, root.conversation_id, stranger)

    # queue: nothing about the waiting customers.
    replies = await support_post(client, connector, stranger).say("queue")
    assert "Alex Wilber" not in texts(replies) and "Queue" not in texts(replies)
    assert STAFF_ONLY in texts(replies)

    # A card refresh, Take over and End: a note, and no ticket data in the card.
    for verb in ("handoff_refresh", "handoff_take_over", "handoff_end"):
        status, body = await in_thread.execute({"msa": verb, "ticket": ticket_id})
        assert status == 200
        card = {"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                 "content": body["value"]}]}
        assert body["value"]["body"][0]["text"] == STAFF_ONLY
        for secret in ("Alex Wilber", customer.tenant_id, ticket_id, "talk to a person"):
            assert secret not in shown(card), (verb, secret)
        assert executes(body["value"]) == {}
    assert (await ticket_of(staff_settings, ticket_id)).status == "waiting"
    assert [m for m in messages_to(connector, customer.conversation_id)
            if "has joined" in (m.get("text") or "")] == []

    # Once an agent has it, a stranger's "done" and messages in the thread do nothing.
    status, _ = await in_thread.as_agent(DANA).execute(
        {"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200
    before = len(messages_to(connector, customer.conversation_id))
    updates = len(updates_to(connector, root.conversation_id))
    for text in ("done", "Please send me your admin password"):
        replies = await in_thread.say(text)
        assert STAFF_ONLY in texts(replies)
    assert (await ticket_of(staff_settings, ticket_id)).status == "taken"
    assert len(messages_to(connector, customer.conversation_id)) == before
    assert len(updates_to(connector, root.conversation_id)) == updates


@pytest.mark.parametrize(("listed", "sent"), [
    (SUPPORT_TENANT.upper(), SUPPORT_TENANT),
    (SUPPORT_TENANT, SUPPORT_TENANT.upper()),
])
async def test_tenant_ids_match_whatever_their_case(
    aiohttp_client: AppClient, tmp_path: Path, connector: LocalConnector, listed: str, sent: str
) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db", staff_tenant_ids=(listed,))
    client = await aiohttp_client(create_app(settings))
    agent = Agent(DANA.id, DANA.name, tenant=sent)
    replies = await support_post(client, connector, agent).say("use this channel for handoffs")
    assert "will be posted in this channel" in texts(replies)
    customer = Chat(client, connector)
    await customer.say("talk to a person")
    [root] = new_threads(connector)
    ticket_id = executes(card_of(root.body))["Take over"]["ticket"]
    status, body = await Thread(client, connector, root.conversation_id, agent).execute(
        {"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200 and list(executes(body["value"])) == ["End and hand back"]
    assert (await ticket_of(settings, ticket_id)).status == "taken"


# ----- a member of STAFF_GROUP_ID, with authentication on ---------------------------------------
GROUP = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
MEMBER = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
NOT_A_MEMBER = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
LISTED_TENANT = "33333333-4444-5555-6666-777777777777"  # a partner's tenant, not the bot's


@pytest.fixture
async def graph(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[tuple[str, str, str]]:
    """A local Entra token endpoint (HTTPS, as msal requires) and Graph checkMemberGroups.

    Yields the authority URL, the Graph URL and the CA file that signs the authority's
    certificate (what TLS_CA_FILE names). MEMBER is in GROUP.
    """
    async def token(request: web.Request) -> web.Response:
        return web.json_response({"token_type": "Bearer", "expires_in": 3599,
                                  "access_token": "graph-app-token"})

    async def check(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer graph-app-token":
            return web.json_response({"error": {"code": "InvalidAuthenticationToken"}},
                                     status=401)
        groups = (await request.json()).get("groupIds", [])
        member = request.match_info["user"] == MEMBER
        return web.json_response({"value": [g for g in groups if member]})

    base: list[str] = []

    async def openid(request: web.Request) -> web.Response:
        tenant = f"{base[0]}/{request.match_info['tenant']}"
        return web.json_response({
            "issuer": f"{tenant}/v2.0", "token_endpoint": f"{tenant}/oauth2/v2.0/token",
            "authorization_endpoint": f"{tenant}/oauth2/v2.0/authorize",
            "jwks_uri": f"{tenant}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post"]})

    tls = TlsMaterial.generate()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(tls.ca_pem)
    authority = web.Application()
    authority.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", openid)
    authority.router.add_post("/{tenant}/oauth2/v2.0/token", token)
    graph_app = web.Application()
    graph_app.router.add_post("/v1.0/users/{user}/checkMemberGroups", check)
    entra = await aiohttp_server(authority, ssl=tls.server_context())
    graph_server = await aiohttp_server(graph_app)
    base.append(str(entra.make_url("")).rstrip("/"))
    yield (str(entra.make_url("")).rstrip("/"), str(graph_server.make_url("")).rstrip("/"),
           str(ca_file))
    tls.cleanup()


async def test_a_member_of_the_staff_group_takes_over_and_a_colleague_outside_it_cannot(
    aiohttp_client: AppClient, tmp_path: Path, connector: LocalConnector,
    graph: tuple[str, str, str], identity: Any,
) -> None:
    settings = Settings(
        app_id=identity.app_id, app_password=identity.app_password, app_type="SingleTenant",
        app_tenant_id=identity.tenant_id, openid_metadata_url=identity.metadata_url,
        bot_login_url=identity.authority, storage_url=f"sqlite:///{tmp_path}/bot.db",
        staff_tenant_ids=(LISTED_TENANT,), staff_group_id=GROUP,
        authority=graph[0], graph_url=f"{graph[1]}/v1.0", tls_ca_file=graph[2])
    client = await aiohttp_client(create_app(settings))

    def signed() -> str:
        return "Bearer " + identity.channel_token(connector.url)

    home = identity.tenant_id
    member = Agent("29:agent-gita", "Gita Group", tenant=home, object_id=MEMBER)
    colleague = Agent("29:agent-otto", "Otto Outside", tenant=home, object_id=NOT_A_MEMBER)
    replies = await support_post(client, connector, member, signed).say(
        "use this channel for handoffs")
    assert "will be posted in this channel" in texts(replies)
    customer = Chat(client, connector, tenant_id="8d6a7f2c-1b3e-4c5d-9e8f-0a1b2c3d4e5f")
    response = await client.post("/api/messages", headers={"Authorization": signed()},
                                 json=customer._activity("message", text="talk to a person"))
    assert response.status == 200
    [root] = new_threads(connector)
    ticket_id = executes(card_of(root.body))["Take over"]["ticket"]
    thread = Thread(client, connector, root.conversation_id, colleague, signed)
    status, body = await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200 and body["value"]["body"][0]["text"] == STAFF_ONLY
    status, body = await thread.as_agent(member).execute(
        {"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200 and list(executes(body["value"])) == ["End and hand back"]
    ticket = await ticket_of(settings, ticket_id)
    assert (ticket.status, ticket.agent_name) == ("taken", "Gita Group")


def test_everyone_is_staff_only_in_local_development_and_the_rule_is_said(
    tmp_path: Path,
) -> None:
    from bot.identity import StaffDirectory

    local = StaffDirectory(Settings())
    assert local.everyone and local.describe().startswith("everyone is staff")
    for settings in (Settings(app_tenant_id=SUPPORT_TENANT),
                     Settings(staff_tenant_ids=(SUPPORT_TENANT,)),
                     Settings(staff_group_id=GROUP),
                     Settings(app_id="a", app_password="p", app_tenant_id=SUPPORT_TENANT)):
        assert not StaffDirectory(settings).everyone
    assert StaffDirectory(Settings(app_tenant_id=SUPPORT_TENANT.upper())).tenants == {
        SUPPORT_TENANT}
    nobody = StaffDirectory(Settings(app_id="a", app_password="p", app_type="MultiTenant"))
    assert not nobody.everyone and nobody.describe() == "nobody is staff"


async def test_staff_see_the_queue_in_their_own_chat_and_customers_do_not(
    aiohttp_client: AppClient, staff_settings: Settings, connector: LocalConnector,
) -> None:
    client = await aiohttp_client(create_app(staff_settings))
    await support_post(client, connector).say("use this channel for handoffs")
    customer = Chat(client, connector, user_name="Alex Wilber")
    await customer.say("talk to a person")

    # A staff member in a 1:1 chat with the bot (their tenant is a staff tenant).
    agent_chat = Chat(client, connector, user_id=DANA.id, user_name=DANA.name,
                      tenant_id=SUPPORT_TENANT)
    replies = await agent_chat.say("queue")
    assert "Queue: 1 waiting" in shown_all(replies) and "Alex Wilber" in shown_all(replies)

    # Anyone else typing the word gets the customer's conversation, no ticket data.
    other = Chat(client, connector, user_name="Bea Customer")
    replies = await other.say("queue")
    assert "Alex Wilber" not in shown_all(replies) and "Queue" not in shown_all(replies)
    assert replies  # and still an answer


def shown_all(replies: list[dict[str, Any]]) -> str:
    """Every text and card of ``replies``, as one string."""
    return " ".join(shown(reply) for reply in replies)


_QUEUE_PIECES = ["queue", "QUEUE", "q", "Q", "ueue", "&#113;", "&#x51;", "&amp;", "&q",
                 "ｑｕｅｕｅ", "ⓠ", "<p>", "</p>", "<at>", "'", "’", "_", ".", " ", "\u00a0",
                 "yes", "é", "к"]


@given(st.lists(st.sampled_from(_QUEUE_PIECES), max_size=6).map("".join) | st.text(max_size=110))
@example("&#113;ueue")
@example("<p>QUEUE!</p>")
@example("queue" + " " * 95)
def test_asks_for_queue_is_said_queue(text: str) -> None:
    """The ASCII-without-a-q shortcut answers as said() does (short texts only)."""
    assert asks_for_queue(text) == (len(text) <= 100 and said(text) == QUEUE)
