"""The human handoff over HTTP: the real app, the local Bot Connector, two Teams conversations.

The customer's personal chat and the support channel (its threads) are both
driven with Teams-shaped activities; what each side sees is read from the
local connector. Counts prove that no message is lost or doubled, including
when Teams delivers the same activity twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from app import create_app
from bot.settings import Settings
from bot.store import open_store
from tests.support.cards import card_errors, cards_in
from tests.support.connector import LocalConnector
from tests.support.handoff import (
    DANA,
    MARA,
    SUPPORT_CHANNEL,
    Thread,
    card_of,
    executes,
    messages_to,
    new_threads,
    shown,
    support_post,
    updates_to,
)
from tests.support.harness import Chat, buttons, texts

AppClient = Callable[..., Any]


async def start_handoff(
    client: TestClient, connector: LocalConnector, customer: Chat
) -> tuple[Thread, str]:
    """Register the support channel, let the customer ask for a person; return thread and ticket."""
    replies = await support_post(client, connector).say("use this channel for handoffs")
    assert "will be posted in this channel" in texts(replies)
    await customer.say("hello")
    replies = await customer.say("talk to a person")
    assert "You are number 1 in the queue" in texts(replies), texts(replies)
    [thread] = new_threads(connector)
    card = card_of(thread.body)
    assert card_errors(card) == []
    ticket_id = executes(card)["Take over"]["ticket"]
    return Thread(client, connector, thread.conversation_id, DANA), ticket_id


async def ticket_row(settings: Settings, ticket_id: str) -> Any:
    async with await open_store(settings.storage_url) as store:
        return await store.tickets.get_ticket(ticket_id), await store.transcripts.list_for_ticket(
            ticket_id)


async def test_escalate_take_over_relay_hand_back_and_rate(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    thread, ticket_id = await start_handoff(client, connector, customer)
    root = new_threads(connector)[0]
    assert root.body["summary"] == "Alex Wilber needs a person"
    on_card = shown(root.body)
    for expected in ("Alex Wilber needs a person", f"tenant {customer.tenant_id}",
                     "Why: Asked to talk to a person", f"Ticket: {ticket_id}",
                     "**Alex Wilber:** talk to a person"):  # the last messages are on the card
        assert expected in on_card, expected
    assert "Take over" in executes(card_of(root.body))

    # Agent A takes over: the card refreshes in place, the customer hears who joined.
    customer_before = len(messages_to(connector, customer.conversation_id))
    status, body = await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200 and body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert card_errors(body["value"]) == []
    assert "Taken by **Dana Agent**" in shown({"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": body["value"]}]})
    assert list(executes(body["value"])) == ["End and hand back"]
    assert body["value"]["refresh"]["action"]["verb"] == "handoff_refresh"
    joined = messages_to(connector, customer.conversation_id)[customer_before:]
    assert [m["text"] for m in joined] == [
        "**Dana Agent** from CLOUDEX support has joined. Type your messages here as usual."]
    [update] = updates_to(connector, thread.conversation_id)
    assert "End and hand back" in executes(card_of(update))

    # Agent B is refused and told who has it; nobody else hears about it.
    status, body = await thread.as_agent(MARA).execute(
        {"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["body"][0]["text"] == "Already taken by Dana Agent."
    assert len(messages_to(connector, customer.conversation_id)) == customer_before + 1

    # Customer -> thread, once even when Teams delivers the activity twice; the bot stays quiet.
    thread_before = len(messages_to(connector, thread.conversation_id))
    message = customer._activity("message", text="I ticked the box, still 535 5.7.139")
    for _ in range(2):
        status, replies, _ = await customer.post(message)
        assert status == 200 and replies == []
    relayed = messages_to(connector, thread.conversation_id)[thread_before:]
    assert [m["text"] for m in relayed] == [
        "**Alex Wilber:** I ticked the box, still 535 5.7.139"]

    # Agent -> customer under the agent's name, a file as a link, a repeat delivery dropped.
    customer_before = len(messages_to(connector, customer.conversation_id))
    reply = thread.message("Please wait 10 minutes and send a test mail.")
    for _ in range(2):
        status, replies, _ = await thread.post(reply)
        assert status == 200 and replies == []
    await thread.say("Here is the guide", attachments=[{
        "contentType": "application/vnd.microsoft.teams.file.download.info",
        "contentUrl": "https://contoso.sharepoint.com/sites/support/guide.pdf",
        "name": "guide.pdf",
        "content": {"downloadUrl": "https://contoso.sharepoint.com/download/guide.pdf",
                    "uniqueId": "1", "fileType": "pdf"}}])
    to_customer = messages_to(connector, customer.conversation_id)[customer_before:]
    assert [m["text"] for m in to_customer] == [
        "**Dana Agent (CLOUDEX support):** Please wait 10 minutes and send a test mail.",
        ("**Dana Agent (CLOUDEX support):** Here is the guide\n\n"
         "📎 [guide.pdf](https://contoso.sharepoint.com/sites/support/guide.pdf)")]

    # A colleague writing in the thread is not passed on.
    replies = await thread.as_agent(MARA).say("I can help if needed")
    assert "did not pass that on" in texts(replies)
    assert len(messages_to(connector, customer.conversation_id)) == customer_before + 2

    # Hand back: the customer is told and asked whether it is solved, then for a rating.
    replies = await thread.say("done")
    assert "Handed back to the bot" in texts(replies)
    handed_back = messages_to(connector, customer.conversation_id)[customer_before + 2:]
    assert handed_back[0]["text"] == (
        "Dana Agent has handed the conversation back to me, the Mail Setup Assistant.")
    assert "Is your problem solved?" in texts(handed_back)
    closed_card = card_of(updates_to(connector, thread.conversation_id)[-1])
    assert executes(closed_card) == {} and "Handoff for Alex Wilber ended" in shown(
        updates_to(connector, thread.conversation_id)[-1])
    replies = await customer.press(buttons(handed_back)["Yes, solved"])
    assert "Glad to hear it!" in texts(replies)
    assert set(buttons(replies)) == {"⭐" * n for n in range(1, 6)}
    replies = await customer.say("5")
    assert "Thank you for rating us 5 out of 5." in texts(replies)

    # After the hand back the bot answers again, and "done" twice changes nothing.
    replies = await customer.say("help")
    assert "What you can say" in texts(replies)
    replies = await thread.say("done")
    assert "already ended" in texts(replies)

    ticket, transcript = await ticket_row(settings, ticket_id)
    assert (ticket.status, ticket.agent_name, ticket.solved, ticket.rating) == (
        "closed", "Dana Agent", True, 5)
    assert [(e.direction, e.sender) for e in transcript] == [
        ("customer", "Alex Wilber"), ("agent", "Dana Agent"), ("agent", "Dana Agent")]
    # Exactly what each side received, counted: nothing lost, nothing doubled.
    # In the thread: the card, one relayed message, the note to Mara, two answers to "done".
    assert len(messages_to(connector, thread.conversation_id)) == 5
    assert len(updates_to(connector, thread.conversation_id)) == 2  # taken, closed
    metrics = await (await client.get("/metrics")).text()
    for kind, count in (("escalated", 1), ("taken", 1), ("refused", 1), ("relayed_to_agent", 1),
                        ("relayed_to_customer", 2), ("duplicate", 2), ("closed", 1),
                        ("rated", 1)):
        assert f'msa_handoffs_total{{kind="{kind}"}} {count}' in metrics, kind


async def test_the_same_agent_pressing_twice_keeps_the_ticket_and_a_waiting_thread_is_held(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    thread, ticket_id = await start_handoff(client, connector, customer)
    replies = await thread.say("I'll look at it")
    assert "Press **Take over** on the card first" in texts(replies)
    assert await customer.say("anyone there?")  # still the bot answering while waiting
    for _ in range(2):
        status, body = await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
        assert status == 200 and "note" not in str(body["value"]["body"][0])
        assert body["value"]["body"][0]["text"].startswith("🧑")
    joined = [m for m in messages_to(connector, customer.conversation_id)
              if "has joined" in (m.get("text") or "")]
    assert len(joined) == 1
    # What the customer wrote while waiting reaches the agent when they take over.
    caught_up = [m["text"] for m in messages_to(connector, thread.conversation_id)
                 if m.get("text", "").startswith("While waiting")]
    assert caught_up == ["While waiting, Alex Wilber wrote:\n\n- anyone there?"]


async def test_a_restart_in_the_middle_keeps_the_routing(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    first = await aiohttp_client(create_app(settings))
    customer = Chat(first, connector)
    thread, ticket_id = await start_handoff(first, connector, customer)
    status, _ = await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200
    await first.close()  # the process goes away; only the SQLite file remains

    second = await aiohttp_client(create_app(settings))
    customer.client = second
    thread = thread.as_agent(DANA, second)
    before_customer = len(messages_to(connector, customer.conversation_id))
    before_thread = len(messages_to(connector, thread.conversation_id))
    assert await customer.say("are you still there?") == []
    assert await thread.say("Yes, still here") == []
    assert [m["text"] for m in messages_to(connector, thread.conversation_id)[before_thread:]] == [
        "**Alex Wilber:** are you still there?"]
    assert [m["text"] for m in messages_to(connector, customer.conversation_id)[
        before_customer:]] == ["**Dana Agent (CLOUDEX support):** Yes, still here"]
    await thread.say("done")
    ticket, _ = await ticket_row(settings, ticket_id)
    assert ticket.status == "closed"


async def test_two_instances_on_one_store_relay_and_claim_once(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    one = await aiohttp_client(create_app(settings))
    two = await aiohttp_client(create_app(settings))
    customer = Chat(one, connector)
    thread, ticket_id = await start_handoff(one, connector, customer)
    # Both agents press at the same moment, each through a different instance.
    results = await asyncio.gather(
        thread.as_agent(DANA, one).execute({"msa": "handoff_take_over", "ticket": ticket_id}),
        thread.as_agent(MARA, two).execute({"msa": "handoff_take_over", "ticket": ticket_id}))
    notes = sorted(body["value"]["body"][0]["text"] for _, body in results)
    refused = [n for n in notes if n.startswith("Already taken by")]
    assert len(refused) == 1
    joined = [m for m in messages_to(connector, customer.conversation_id)
              if "has joined" in (m.get("text") or "")]
    assert len(joined) == 1
    winner = DANA if refused[0] == "Already taken by Dana Agent." else MARA
    agent_thread = thread.as_agent(winner, two)

    # Teams delivers one customer message to instance one and again to instance two.
    before = len(messages_to(connector, thread.conversation_id))
    message = customer._activity("message", text="Sent a test, got 535 again")
    for client in (one, two):
        response = await client.post("/api/messages", json=message)
        assert response.status == 200
    body = agent_thread.message("Thanks, checking the tenant setting")
    for client in (two, one):
        response = await client.post("/api/messages", json=body)
        assert response.status == 200
    assert [m["text"] for m in messages_to(connector, thread.conversation_id)[before:]] == [
        "**Alex Wilber:** Sent a test, got 535 again"]
    to_customer = [m["text"] for m in messages_to(connector, customer.conversation_id)
                   if (m.get("text") or "").startswith(f"**{winner.name} (")]
    assert to_customer == [
        f"**{winner.name} (CLOUDEX support):** Thanks, checking the tenant setting"]

    # The hand back through one instance, the feedback through the other.
    await agent_thread.as_agent(winner, one).say("done")
    customer.client = two
    replies = await customer.say("no")
    assert "Sorry it isn't solved yet." in texts(replies)
    replies = await customer.press({"msa": "handoff_rating", "ticket": ticket_id, "value": 3})
    assert "continue" in texts(replies)
    ticket, transcript = await ticket_row(settings, ticket_id)
    assert (ticket.status, ticket.solved, ticket.rating) == ("closed", False, 3)
    assert [e.direction for e in transcript] == ["customer", "agent"]


async def test_the_old_card_button_and_typed_done_work_without_universal_actions(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    thread, _ = await start_handoff(client, connector, customer)
    fallback = card_of(new_threads(connector)[0].body)["actions"][0]["fallback"]
    status, replies, _ = await thread.post(thread.message("", value=fallback["data"]))
    assert status == 200
    assert [r.get("text") for r in replies if r.get("text")] == ["Dana Agent has taken this over."]
    assert updates_to(connector, thread.conversation_id)  # the card shows the new state
    replies = await thread.as_agent(MARA).say("queue")
    assert "Nobody is waiting" in texts(replies)


async def test_a_password_is_not_relayed_while_an_agent_has_the_customer(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    thread, ticket_id = await start_handoff(client, connector, customer)
    await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
    before = len(messages_to(connector, thread.conversation_id))
    replies = await customer.say("the password is Sommer2026!")
    assert "I did not pass it on" in texts(replies)
    assert len(messages_to(connector, thread.conversation_id)) == before
    _, transcript = await ticket_row(settings, ticket_id)
    assert all("Sommer2026" not in e.text for e in transcript)


async def test_without_a_support_channel_the_card_is_posted_once_one_is_chosen(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    replies = await customer.say("talk to a person")
    assert "I've passed your request to CLOUDEX support. You are number 1" in texts(replies)
    assert new_threads(connector) == []
    await support_post(client, connector).say("use this channel for handoffs")
    [thread] = new_threads(connector)
    assert thread.conversation_id.startswith(SUPPORT_CHANNEL + ";messageid=")
    assert "Take over" in executes(card_of(thread.body))


async def test_an_escalation_is_one_message_with_the_notice_above_the_summary_card(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    await customer.say("start")
    await customer.say("rooms@contoso.com")
    replies = await customer.press({"msa": "answer", "question": "mailbox_type", "value": "room"})
    # The summary card and "I've passed your request" used to be two messages.
    [message] = replies
    assert message["text"].startswith("I've passed your request to CLOUDEX support. "
                                      "You are number 1 in the queue.")
    [card] = cards_in(message)
    assert card_errors(card) == []
    assert "Your mail setup summary" in texts([message]).removeprefix(message["text"])
    # Asking again while waiting: one message too, the "already waiting" notice saying where the
    # request stands on the request card, in place of the card's own acknowledgement.
    replies = await customer.say("talk to a person")
    assert len(replies) == 1 and not replies[0].get("text")
    shown = texts(replies)
    assert "You're already waiting for a person from CLOUDEX support." in shown
    assert "I've noted that you'd like to talk to a person" not in shown


async def test_support_channel_id_setting_posts_without_registration(
    aiohttp_client: AppClient, tmp_path: Path, connector: LocalConnector
) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db",
                        support_channel_id=SUPPORT_CHANNEL)
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    replies = await customer.say("talk to a person")
    assert "I've asked a person from CLOUDEX support to join" in texts(replies)
    [thread] = new_threads(connector)
    assert thread.conversation_id.startswith(SUPPORT_CHANNEL + ";messageid=")
    assert cards_in(thread.body)


async def test_dead_end_and_two_failed_fixes_escalate_with_the_reason_on_the_card(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    await support_post(client, connector).say("use this channel for handoffs")
    dead_end = Chat(client, connector)
    await dead_end.say("start")
    await dead_end.say("rooms@contoso.com")
    replies = await dead_end.press({"msa": "answer", "question": "mailbox_type", "value": "room"})
    assert "number 1 in the queue" in texts(replies)
    failing = Chat(client, connector, user_name="Chris Failing")
    # An error with three likely causes: two of them said not to help is enough.
    replies = await failing.say("554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException")
    replies = await failing.press(buttons(replies)["No, still failing"])
    assert "queue" not in texts(replies)
    replies = await failing.press(buttons(replies)["No, still failing"])
    assert "number 2 in the queue" in texts(replies)
    first, second = (shown(t.body) for t in new_threads(connector))
    assert "cannot send with SMTP AUTH" in first and "rooms@contoso.com" in first
    assert "Said twice that a proposed fix did not help" in second
    assert "554 5.2.0" in second and "Chris Failing" in second
    replies = await support_post(client, connector).say("queue")
    assert "Queue: 2 waiting" in texts(replies)
    assert texts(replies).index("Alex Wilber") < texts(replies).index("Chris Failing")


async def test_live_checks_escalate_through_the_public_method(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    from bot.handoff import HandoffExtension
    from bot.keys import BOT_KEY

    app = create_app(settings)
    client = await aiohttp_client(app)
    await support_post(client, connector).say("use this channel for handoffs")
    customer = Chat(client, connector)
    await customer.say("hello")
    [handoff] = [e for e in app[BOT_KEY].extensions if isinstance(e, HandoffExtension)]
    async with await open_store(settings.storage_url) as store:
        record = await store.state.read([f"conv/msteams/{customer.conversation_id}"])
    reference = record[f"conv/msteams/{customer.conversation_id}"]["ref"]
    ticket = await handoff.escalate(reference, "checks", detail="Security defaults are on",
                                    checks=[{"title": "Security defaults", "status": "fail",
                                             "evidence": "isEnabled = true"}])
    told = messages_to(connector, customer.conversation_id)[-1]
    assert "You are number 1 in the queue" in told["text"]
    card_text = shown(new_threads(connector)[0].body)
    assert "Security defaults are on" in card_text and "isEnabled = true" in card_text
    again = await handoff.escalate(reference, "checks")
    assert again.id == ticket.id and len(new_threads(connector)) == 1


async def test_staff_commands_in_the_support_channel_reach_the_staff_tools(
    aiohttp_client: AppClient, tmp_path: Path, connector: LocalConnector
) -> None:
    from tests.support.handoff import SUPPORT_TENANT

    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db",
                        staff_tenant_ids=(SUPPORT_TENANT,))
    client = await aiohttp_client(create_app(settings))
    support = support_post(client, connector)
    await support.say("use this channel for handoffs")
    replies = await support.say("kb security defaults")
    assert "I post customers who need a person here" not in texts(replies)
    assert "Show fix" in texts(replies)
    replies = await support.say("what is this channel for?")
    assert "I post customers who need a person here" in texts(replies)


async def test_refresh_shows_the_current_state_and_only_staff_tenants_may_take_over(
    aiohttp_client: AppClient, tmp_path: Path, connector: LocalConnector
) -> None:
    from tests.support.handoff import SUPPORT_TENANT

    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db",
                        staff_tenant_ids=(SUPPORT_TENANT,))
    client = await aiohttp_client(create_app(settings))
    customer = Chat(client, connector)
    thread, ticket_id = await start_handoff(client, connector, customer)
    outsider = thread.message("")
    outsider_press = {**outsider, "type": "invoke", "name": "adaptiveCard/action",
                      "value": {"action": {"type": "Action.Execute", "verb": "handoff_take_over",
                                           "data": {"msa": "handoff_take_over",
                                                    "ticket": ticket_id}}}}
    outsider_press["conversation"] = {**outsider["conversation"], "tenantId": "someone-else"}
    outsider_press["channelData"] = {**outsider["channelData"], "tenant": {"id": "someone-else"}}
    status, _, body = await thread.post(outsider_press)
    assert status == 200
    assert body["value"]["body"][0]["text"] == "Only CLOUDEX support staff can do that."
    status, body = await thread.as_agent(MARA).execute(
        {"msa": "handoff_refresh", "ticket": ticket_id})
    assert list(executes(body["value"])) == ["Take over"]  # still waiting
    await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
    status, body = await thread.as_agent(MARA).execute(
        {"msa": "handoff_refresh", "ticket": ticket_id})
    assert status == 200 and list(executes(body["value"])) == ["End and hand back"]
    assert "Already taken" not in shown({"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": body["value"]}]})
    status, body = await thread.execute({"msa": "handoff_end", "ticket": ticket_id})
    assert status == 200 and executes(body["value"]) == {}
    assert "Is your problem solved?" in texts(messages_to(connector, customer.conversation_id))
