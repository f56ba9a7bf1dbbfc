"""A Latvian and a Russian customer handed to a person over HTTP: their side in their language.

The real app, Teams-shaped activities and the local Bot Connector: the
customer writes in their language, asks for a person, waits, talks to the
agent who takes over, is handed back and rates the help. Everything the bot
sends to the customer's chat is read for English left over (the agent's own
words excepted: they are relayed as written); everything the support thread
gets is English, with the customer's language named on the ticket card and
the customer's own words as they wrote them.

The conversation's language comes the real way: from what the customer
writes first, or from Teams' locale when they only press buttons.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from app import create_app
from bot.settings import Settings
from dialogs.handoff.phrases import ToCustomer, inert
from dialogs.i18n import LANGUAGE_NAMES_EN, translator
from tests.support.cards import card_errors, cards_in
from tests.support.connector import LocalConnector
from tests.support.handoff import (
    DANA,
    Thread,
    card_of,
    executes,
    messages_to,
    new_threads,
    shown,
    support_post,
    updates_to,
)
from tests.support.harness import Chat, buttons
from tests.support.language import english_words_left

AppClient = Callable[..., Any]
NAMES = {"lv": "Ilze Kalniņa", "ru": "Ирина Петрова"}
FIRST = {"lv": "Sveiki! CLOUDEX TMS nevar nosūtīt e-pastu no mūsu pastkastes.",
         "ru": "Здравствуйте! CLOUDEX TMS не может отправить письмо с нашего ящика."}
WAITING = {"lv": "Vai kāds drīz būs? Mums šodien jāsūta rēķini.",
           "ru": "Кто-нибудь скоро будет? Нам сегодня нужно отправить счета."}
TO_AGENT = {"lv": "Paldies! Esmu globālais administrators, varu mainīt iestatījumus.",
            "ru": "Спасибо! Я глобальный администратор, могу менять настройки."}
# Typed the way the customer's own bubble header looks: it must reach the agents inert.
FORGED = {"lv": "**Dana Agent (CLOUDEX atbalsts):** atsūtiet paroli",
          "ru": "**Dana Agent (поддержка CLOUDEX):** пришлите пароль"}
YES = {"lv": "Jā", "ru": "Да"}
AGENT_WORDS = "Please open the Microsoft 365 admin center and send a test e-mail afterwards."
SCRIPT = {"lv": "[āčēģīķļņšūž]", "ru": "[а-яё]"}


def customer_view(bodies: list[dict[str, Any]]) -> list[str]:
    """Each message to the customer as they see it, the agent's relayed words taken out."""
    return [shown(body).replace(AGENT_WORDS, " ") for body in bodies]


@pytest.mark.parametrize("lang", ["lv", "ru"])
async def test_a_customer_is_handed_to_a_person_and_back_in_their_language(
    lang: str, aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    await support_post(client, connector).say("use this channel for handoffs")
    customer = Chat(client, connector, user_name=NAMES[lang])
    tr = translator(lang)

    # The customer writes in their language (on an English Teams) and asks for a person.
    await customer.say(FIRST[lang])
    replies = await customer.press({"msa": "person"})
    assert tr.format(ToCustomer.QUEUE_PLACE, position=1).strip() in shown(*replies)
    [root] = new_threads(connector)
    thread = Thread(client, connector, root.conversation_id, DANA)
    ticket_card = card_of(root.body)
    assert card_errors(ticket_card) == []
    on_card = shown(root.body)
    assert f"Customer's language: {LANGUAGE_NAMES_EN[lang]}" in on_card
    assert f"{NAMES[lang]} needs a person" in on_card
    assert f"**{NAMES[lang]}:** {inert(FIRST[lang])}" in on_card  # their words, as written
    ticket_id = executes(ticket_card)["Take over"]["ticket"]

    # While waiting they write again; then Dana takes over and hears what was said meanwhile.
    await customer.say(WAITING[lang])
    status, body = await thread.execute({"msa": "handoff_take_over", "ticket": ticket_id})
    assert status == 200 and "Customer's language" in shown({"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": body["value"]}]})
    in_thread = [m.get("text") or "" for m in messages_to(connector, thread.conversation_id)]
    assert f"While waiting, {NAMES[lang]} wrote:\n\n- {inert(WAITING[lang])}" in in_thread

    # Both ways: the customer's words to the thread as written (a forged header inert), the
    # agent's words to the customer as written, under the bot's header in the customer's
    # language.
    for words in (TO_AGENT[lang], FORGED[lang]):
        status, replies, _ = await customer.post(customer._activity("message", text=words))
        assert status == 200 and replies == []
    in_thread = [m.get("text") or "" for m in messages_to(connector, thread.conversation_id)]
    assert f"**{NAMES[lang]}:** {TO_AGENT[lang]}" in in_thread
    assert f"**{NAMES[lang]}:** {inert(FORGED[lang])}" in in_thread
    assert inert(FORGED[lang]).startswith("\\*\\*Dana Agent (")
    await thread.say(AGENT_WORDS)
    to_customer = [m.get("text") for m in messages_to(connector, customer.conversation_id)]
    assert f"**Dana Agent ({tr(ToCustomer.SUPPORT_NAME)}):** {AGENT_WORDS}" in to_customer

    # Hand back, then "yes" and a rating typed in their language.
    assert "Handed back to the bot" in shown(*await thread.say("done"))
    solved = messages_to(connector, customer.conversation_id)[-1]
    assert tr(ToCustomer.YES_SOLVED) in buttons([solved])
    replies = await customer.say(YES[lang])
    assert tr(ToCustomer.GLAD) in shown(*replies)
    assert all(card_errors(card) == [] for reply in replies for card in cards_in(reply))
    replies = await customer.say("5")
    assert tr.format(ToCustomer.RATED, rating=5) in shown(*replies)

    # Everything the customer's chat got is in their language; the thread's is English.
    customer_side = customer_view(messages_to(connector, customer.conversation_id))
    assert len(customer_side) >= 8
    left = {text: english_words_left(text) for text in customer_side}
    assert {text: words for text, words in left.items() if words} == {}
    if lang == "ru":
        assert [text for text in customer_side if not re.search("[а-яё]", text, re.I)] == []
    thread_side = [shown(body) for body in (
        root.body, *messages_to(connector, thread.conversation_id),
        *updates_to(connector, thread.conversation_id))]
    theirs = (NAMES[lang], FIRST[lang], WAITING[lang], TO_AGENT[lang], FORGED[lang],
              *(inert(words) for words in (FIRST[lang], WAITING[lang], FORGED[lang])))
    bot_side = thread_side
    for words in theirs:
        bot_side = [text.replace(words, " ") for text in bot_side]
    assert [text for text in bot_side if re.search(SCRIPT[lang], text, re.I)] == []
    assert all("Customer's language" in shown(update) for update in
               updates_to(connector, thread.conversation_id))


async def test_a_russian_customer_outside_support_hours_hears_when_in_russian_after_a_restart(
    aiohttp_client: AppClient, tmp_path: Any, connector: LocalConnector
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.support.handoff import FakeClock

    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db",
                        support_hours="Mon-Fri 08:00-17:00 Europe/Riga",
                        handoff_timeout_minutes=10)
    clock = FakeClock(datetime(2026, 12, 4, 16, 55, tzinfo=ZoneInfo("Europe/Riga")))  # Friday
    app = create_app(settings, clock=clock)
    client = await aiohttp_client(app)
    # A Russian Teams; the customer presses "Talk to a person" before writing anything.
    customer = Chat(client, connector, user_name=NAMES["ru"], locale="ru-RU")
    await customer.press({"msa": "person"})
    await client.close()

    # Ten minutes later support has closed; a new instance's sweep tells the customer, from
    # the language kept on the ticket, when a person will be back.
    clock.advance(minutes=11)
    await aiohttp_client(create_app(settings, clock=clock))
    await connector.wait_for(len(connector.received) + 1)
    [notice] = [m["text"] for m in messages_to(connector, customer.conversation_id)
                if "поддержки CLOUDEX сейчас заняты" in (m.get("text") or "")]
    assert "самое позднее в понедельник в 08:00 (по времени Europe/Riga)" in notice
    assert english_words_left(notice) == []
