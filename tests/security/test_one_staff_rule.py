"""Every staff-only path gives the same person the same answer (one rule: ``bot/identity.py``).

Over HTTP, for each way of saying who staff are (``STAFF_TENANT_IDS`` set;
unset, so the bot's own tenant ``MicrosoftAppTenantId``) and each sender
(staff, staff with the tenant id in upper case; in the staff tenant's
conversations but not a member of it — a B2B guest, an anonymous meeting
participant, a shared channel's external user, as the Teams roster says;
another tenant; no tenant at all), the paths that only staff may use agree
with each other:

* a typed staff command (``ps tenant``) gets the PowerShell card, or the flow;
* the compose-box search gets results, or the "staff only" line;
* "use this channel for handoffs" registers the channel, or is refused;
* adding the app to a team greets with the desk's hello, or with the welcome.

A path that kept a rule of its own (a case-sensitive compare, the settings
read differently, the conversation's tenant taken for the person's) would
disagree with the others for one of these senders.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from bot.settings import Settings
from dialogs.handoff import phrases
from dialogs.staff import STAFF_ONLY
from tests.staff.test_team_greeting import INSTALL, install_activity, is_customer_welcome
from tests.support.connector import LocalConnector
from tests.support.handoff import SUPPORT_TENANT, Agent, support_post
from tests.support.harness import Chat, texts
from tests.support.teams import activity

OTHER_TENANT = "99999999-8888-7777-6666-555555555555"
# The conversation's tenant, and the sender's roster entry there: userRole and their own tenant.
SENDERS = {
    "staff": (SUPPORT_TENANT, "user", SUPPORT_TENANT),
    "staff, upper case": (SUPPORT_TENANT.upper(), "user", SUPPORT_TENANT.upper()),
    "a B2B guest in the staff tenant": (SUPPORT_TENANT, "guest", SUPPORT_TENANT),
    "an anonymous user in the staff tenant": (SUPPORT_TENANT, "anonymous", SUPPORT_TENANT),
    "a shared channel's external user": (SUPPORT_TENANT, "user", OTHER_TENANT),
    "another tenant": (OTHER_TENANT, "user", OTHER_TENANT),
    "no tenant": ("", "user", ""),
}
_chats = itertools.count(1)


def rules(tmp_path: Path) -> dict[str, Settings]:
    url = f"sqlite:///{tmp_path}/bot.db"
    return {
        "STAFF_TENANT_IDS set": Settings(storage_url=url, staff_tenant_ids=(SUPPORT_TENANT,)),
        "STAFF_TENANT_IDS unset": Settings(storage_url=url, app_tenant_id=SUPPORT_TENANT),
    }


def without_tenant(body: dict[str, Any]) -> dict[str, Any]:
    """The activity with no tenant anywhere (a channel that names none)."""
    body["conversation"].pop("tenantId", None)
    body.get("channelData", {}).pop("tenant", None)
    return body


async def staff_command(chat: Chat) -> bool:
    body = chat._activity("message", text="ps tenant")
    status, replies, _ = await chat.post(without_tenant(body) if not chat.tenant_id else body)
    assert status == 200
    return "Set-TransportConfig -SmtpClientAuthenticationDisabled $false" in texts(replies)


async def compose_search(chat: Chat) -> bool:
    body = activity("compose_extension_query", service_url=chat.connector.url,
                    conversation_id=chat.conversation_id, user_id=chat.user_id,
                    tenant_id=chat.tenant_id or None)
    body["value"] = {"commandId": "searchKnowledge",
                     "parameters": [{"name": "query", "value": "smtp disabled"}]}
    status, _, payload = await chat.post(without_tenant(body) if not chat.tenant_id else body)
    assert status == 200
    result = payload["composeExtension"]
    assert (result["type"] == "result") == (result.get("text") != STAFF_ONLY)
    return bool(result["type"] == "result" and result["attachments"])


async def register_channel(client: Any, connector: LocalConnector, tenant: str) -> bool:
    post = support_post(client, connector, Agent("29:someone", "Someone", tenant=tenant))
    body = post.message("use this channel for handoffs")
    status, replies, _ = await post.post(without_tenant(body) if not tenant else body)
    assert status == 200
    said = texts(replies)
    assert (phrases.CHANNEL_SET in said) != (phrases.STAFF_ONLY_CHANNEL in said), said
    return phrases.CHANNEL_SET in said


async def install_in_team(client: Any, connector: LocalConnector, tenant: str) -> bool:
    general = Chat(client, connector, user_id="29:installer", tenant_id=tenant,
                   conversation_id=f"19:general-rule-{next(_chats)}@thread.tacv2")
    said: list[dict[str, Any]] = []
    for name in INSTALL:
        body = install_activity(general, name)
        status, replies, _ = await general.post(without_tenant(body) if not tenant else body)
        assert status == 200
        said += replies
    assert len(said) == 1, texts(said)
    assert (said[0].get("text") == phrases.TEAM_HELLO) != is_customer_welcome(said[0])
    return said[0].get("text") == phrases.TEAM_HELLO


@pytest.mark.parametrize("rule", ["STAFF_TENANT_IDS set", "STAFF_TENANT_IDS unset"])
@pytest.mark.parametrize("sender", list(SENDERS))
async def test_every_staff_only_path_gives_the_same_answer(
    aiohttp_client: Any, tmp_path: Path, connector: LocalConnector, rule: str, sender: str
) -> None:
    client = await aiohttp_client(create_app(rules(tmp_path)[rule]))
    tenant, role, own_tenant = SENDERS[sender]
    for user_id in ("29:someone", "29:installer"):
        if own_tenant:
            connector.add_member(user_id, own_tenant, role=role)
    chat = Chat(client, connector, conversation_id=f"a:one-rule-{next(_chats)}",
                user_id="29:someone", tenant_id=tenant)
    answers = {
        "staff command": await staff_command(chat),
        "compose search": await compose_search(chat),
        "register the support channel": await register_channel(client, connector, tenant),
        "team greeting": await install_in_team(client, connector, tenant),
    }
    expected = sender.startswith("staff")
    assert answers == dict.fromkeys(answers, expected), answers
