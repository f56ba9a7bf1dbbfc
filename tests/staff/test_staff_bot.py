"""Staff tools over HTTP: the compose-box search invoke and typed commands, staff versus customers.

Everything goes through the real app (``create_app``) with Teams-shaped
payloads from ``tests/fixtures/activities``; replies are caught by the local
Bot Connector. Staff are the users of ``STAFF_TENANT`` (see ``conftest.py``).
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.keys import STORE_KEY
from dialogs import cards
from dialogs.knowledge import Knowledge
from dialogs.search import SAMPLE_QUERIES, search_for
from dialogs.staff import STAFF_ONLY
from tests.staff.conftest import CUSTOMER_TENANT, STAFF_TENANT
from tests.staff.test_staff_tools import seeded_rows
from tests.support.cards import card_errors, cards_in
from tests.support.harness import Chat, buttons, texts
from tests.support.teams import activity

THUMBNAIL = "application/vnd.microsoft.card.thumbnail"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"
STAFF_TITLES = ("Knowledge:", "PowerShell:", "PowerShell for", "Statistics", "Diagnosis ·")


def staff_chat(bot_client: Any, connector: Any) -> Chat:
    """A personal chat between a CLOUDEX staff member and the bot."""
    return Chat(bot_client, connector, user_id="29:staff-user", user_name="Dana Agent",
                tenant_id=STAFF_TENANT)


def compose_query(chat: Chat, parameters: list[dict[str, str]], skip: int = 0,
                  count: int = 25) -> dict[str, Any]:
    """The ``composeExtension/query`` invoke Teams sends from ``chat``'s user."""
    body = activity("compose_extension_query", service_url=chat.connector.url,
                    conversation_id=chat.conversation_id, user_id=chat.user_id,
                    user_name=chat.user_name, tenant_id=chat.tenant_id)
    body["value"] = {"commandId": "searchKnowledge", "parameters": parameters,
                     "queryOptions": {"skip": skip, "count": count}}
    return body


def first_titles(replies: list[dict[str, Any]]) -> list[str]:
    """The first TextBlock of every card in the replies."""
    return [card["body"][0]["text"] for reply in replies for card in cards_in(reply)]


async def test_compose_search_returns_fix_cards_with_previews(
    bot_client: Any, connector: Any, knowledge: Knowledge
) -> None:
    chat = staff_chat(bot_client, connector)
    status, replies, payload = await chat.post(
        compose_query(chat, [{"name": "query", "value": "smtp disabled"}]))
    assert status == 200 and replies == []
    result = payload["composeExtension"]
    assert result["type"] == "result" and result["attachmentLayout"] == "list"
    attachments = result["attachments"]
    assert attachments
    causes = search_for(knowledge).search("smtp disabled", limit=25).cause_ids
    assert causes[0] in {"smtp_auth_disabled_mailbox", "smtp_auth_disabled_tenant"}
    assert len(attachments) == len(causes)
    for attachment, cause_id in zip(attachments, causes, strict=True):
        assert attachment["contentType"] == ADAPTIVE
        # The card inserted into the chat is THE fix card customers get.
        assert attachment["content"] == cards.fix_card(knowledge, cause_id, {})
        assert card_errors(attachment["content"]) == []
        preview = attachment["preview"]
        assert preview["contentType"] == THUMBNAIL
        assert preview["content"]["title"] == knowledge.cause(cause_id).title
        assert preview["content"]["text"]


async def test_compose_search_honours_skip_and_count(bot_client: Any, connector: Any) -> None:
    chat = staff_chat(bot_client, connector)
    query = [{"name": "query", "value": "password"}]
    _, _, everything = await chat.post(compose_query(chat, query))
    _, _, page = await chat.post(compose_query(chat, query, skip=1, count=2))
    titles = [a["preview"]["content"]["title"]
              for a in everything["composeExtension"]["attachments"]]
    page_titles = [a["preview"]["content"]["title"]
                   for a in page["composeExtension"]["attachments"]]
    assert len(titles) >= 3
    assert page_titles == titles[1:3]


async def test_compose_initial_run_offers_the_common_topics(
    bot_client: Any, connector: Any, knowledge: Knowledge
) -> None:
    chat = staff_chat(bot_client, connector)
    _, _, payload = await chat.post(
        compose_query(chat, [{"name": "initialRun", "value": "true"}], count=4))
    titles = [a["preview"]["content"]["title"] for a in payload["composeExtension"]["attachments"]]
    expected = search_for(knowledge).default_order[:4]
    assert titles == [knowledge.cause(c).title for c in expected]


async def test_compose_search_gives_customers_no_results(bot_client: Any, connector: Any) -> None:
    customer = Chat(bot_client, connector, tenant_id=CUSTOMER_TENANT)
    status, replies, payload = await customer.post(
        compose_query(customer, [{"name": "query", "value": "smtp disabled"}]))
    assert status == 200 and replies == []
    assert payload == {"composeExtension": {"type": "message", "text": STAFF_ONLY}}


async def test_customers_never_get_staff_commands(bot_client: Any, connector: Any) -> None:
    customer = Chat(bot_client, connector, tenant_id=CUSTOMER_TENANT)
    for text in ("kb smtp disabled", "ps mailbox tms@contoso.com", "ps tenant", "stats",
                 "ps security defaults",
                 "explain mfa_required", "diagnose 535 5.7.139 Authentication unsuccessful"):
        replies = await customer.say(text)
        assert replies, text  # the guided flow answered
        assert not any(title.startswith(STAFF_TITLES) for title in first_titles(replies)), text


async def test_staff_kb_in_a_personal_chat_then_show_fix(
    bot_client: Any, connector: Any, knowledge: Knowledge
) -> None:
    chat = staff_chat(bot_client, connector)
    replies = await chat.say("kb app password")
    assert len(replies) == 1
    (card,) = cards_in(replies[0])
    assert card_errors(card) == []
    assert card["body"][0]["text"] == "Knowledge: app password"
    show_fix = [a["data"] for block in card["body"] if block["type"] == "Container"
                for item in block["items"] if item["type"] == "ActionSet" for a in item["actions"]]
    assert show_fix[0] == {"msa": "show_fix", "cause": "mfa_required"}
    pressed = await chat.press(show_fix[0])
    assert first_titles(pressed) == [knowledge.cause("mfa_required").title]
    assert card_errors(cards_in(pressed[0])[0]) == []


async def test_staff_command_in_a_channel_with_a_mention(bot_client: Any, connector: Any) -> None:
    chat = staff_chat(bot_client, connector)
    chat.conversation_id = "19:supportchannel@thread.tacv2;messageid=1732788720000"
    body = activity("channel_message", service_url=connector.url,
                    conversation_id=chat.conversation_id, user_id=chat.user_id,
                    tenant_id=STAFF_TENANT,
                    text="<at>Mail Setup Assistant</at> ps mailbox tms@contoso.com")
    status, replies, _ = await chat.post(body)
    assert status == 200
    (card,) = cards_in(replies[0])
    assert card_errors(card) == []
    assert card["body"][0]["text"] == "PowerShell: SMTP AUTH for tms@contoso.com"
    assert ("Set-CASMailbox -Identity 'tms@contoso.com' -SmtpClientAuthenticationDisabled $false"
            in texts(replies))


async def test_staff_commands_in_a_group_chat(bot_client: Any, connector: Any,
                                             knowledge: Knowledge) -> None:
    chat = staff_chat(bot_client, connector)
    chat.conversation_id = "19:groupchat-staff@thread.v2"

    async def say(text: str) -> list[dict[str, Any]]:
        body = activity("message", service_url=connector.url,
                        conversation_id=chat.conversation_id, user_id=chat.user_id,
                        tenant_id=STAFF_TENANT, text=text)
        body["conversation"] = {**body["conversation"], "conversationType": "groupChat",
                                "isGroup": True}
        status, replies, _ = await chat.post(body)
        assert status == 200
        return replies

    diagnosed = await say("diagnose 535 5.7.139 Authentication unsuccessful, "
                          "SmtpClientAuthentication is disabled for the Tenant")
    (card,) = cards_in(diagnosed[0])
    assert card_errors(card) == []
    assert card["body"][0]["text"].startswith("Diagnosis ·")
    assert knowledge.cause("smtp_auth_disabled_tenant").title in texts(diagnosed)
    explained = await say("explain security_defaults")
    assert cards_in(explained[0]) == [cards.fix_card(knowledge, "security_defaults", {})]
    tenant = await say("ps tenant")
    assert "Set-TransportConfig -SmtpClientAuthenticationDisabled $false" in texts(tenant)


async def test_powershell_injection_over_http_gets_a_reask(bot_client: Any,
                                                          connector: Any) -> None:
    chat = staff_chat(bot_client, connector)
    for attempt in ("ps mailbox a@b.com;Remove-Mailbox x",
                    "ps check tms@contoso.com' ; Remove-Mailbox -Identity 'boss@contoso.com",
                    "ps mailbox $(Remove-Mailbox boss)@contoso.com"):
        replies = await chat.say(attempt)
        assert len(replies) == 1 and cards_in(replies[0]) == [], attempt
        assert "not a mailbox address I will put into PowerShell" in replies[0]["text"]
        assert "Remove-Mailbox" not in replies[0]["text"]


async def test_stats_from_the_store(bot_client: Any, connector: Any) -> None:
    store = bot_client.app[STORE_KEY]
    now = datetime.now(UTC)
    shift = now - datetime.fromisoformat("2026-11-28T12:00:00+00:00") - timedelta(seconds=5)
    for row in seeded_rows():
        await store.audit.append(row.kind, conversation_id=row.conversation_id,
                                 tenant_id=CUSTOMER_TENANT, detail=dict(row.detail),
                                 at=row.at + shift)
    chat = staff_chat(bot_client, connector)
    replies = await chat.say("stats 7")
    (card,) = cards_in(replies[0])
    assert card_errors(card) == []
    facts = {f["title"]: f["value"] for block in card["body"] if block["type"] == "FactSet"
             for f in block["facts"]}
    assert facts["Conversations"] == "4"
    assert facts["Resolved"] == "3 (75%)"
    assert facts["Handoffs to a person"] == "1"
    assert facts["Median time to resolution"] == "32 min"
    assert facts["Diagnoses"] == "4"
    assert any(block["type"] == "Image" for block in card["body"])
    # A customer typing the same thing gets the guided flow, not the figures.
    customer = Chat(bot_client, connector, tenant_id=CUSTOMER_TENANT)
    assert not any(t.startswith("Statistics") for t in first_titles(await customer.say("stats")))


async def test_tenant_found_only_in_channel_data_counts(bot_client: Any, connector: Any) -> None:
    chat = staff_chat(bot_client, connector)
    body = activity("message", service_url=connector.url, conversation_id=chat.conversation_id,
                    user_id=chat.user_id, tenant_id=STAFF_TENANT, text="kb 5.7.60")
    body["conversation"] = copy.deepcopy(body["conversation"])
    body["conversation"].pop("tenantId", None)
    _, replies, _ = await chat.post(body)
    assert first_titles(replies) == ["Knowledge: 5.7.60"]
    assert "send" in texts(replies).lower()
    assert buttons(replies) == {}


async def test_compose_search_answers_well_inside_teams_5_seconds(
    bot_client: Any, connector: Any
) -> None:
    # Teams waits 5 s for a search (Learn: "Respond to search command"); the issue asks for
    # well inside it, so half of that is the bound even on a loaded test machine.
    chat = staff_chat(bot_client, connector)
    slowest = 0.0
    for query in SAMPLE_QUERIES:
        started = time.perf_counter()
        status, _, payload = await chat.post(compose_query(chat, [{"name": "query",
                                                                   "value": query}]))
        slowest = max(slowest, time.perf_counter() - started)
        assert status == 200 and payload["composeExtension"]["attachments"], query
    assert slowest < 2.5


async def test_staff_ps_with_a_topic_over_http(bot_client: Any, connector: Any) -> None:
    chat = staff_chat(bot_client, connector)
    replies = await chat.say("ps send as tms@contoso.com")
    (card,) = cards_in(replies[0])
    assert card_errors(card) == []
    assert card["body"][0]["text"] == "PowerShell for"
    assert "tms@contoso.com" in str(card)
