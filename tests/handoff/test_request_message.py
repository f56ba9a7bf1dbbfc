"""Asking for a person gets one clear message, in every language, and nothing is said twice.

The flow's "A person from CLOUDEX support" card and the handoff's notice
("I've asked a person … You are number 1 in the queue. They will see your
answers so far …") used to arrive in one bubble saying "they will see your
answers" twice. Now the notice is the card's status: one message, the title,
where the request stands (and the support hours when closed), how to go on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app import create_app
from bot.settings import Settings
from dialogs import cards, messages
from dialogs.effects import Count, Say
from dialogs.handoff.desk import into_request_card
from dialogs.handoff.phrases import ToCustomer, hours_text
from dialogs.i18n import translator
from dialogs.knowledge import Knowledge
from dialogs.session import Reply
from dialogs.support_hours import parse_support_hours
from tests.support.cards import card_errors, cards_in
from tests.support.connector import LocalConnector
from tests.support.handoff import FakeClock, support_post
from tests.support.harness import Chat, texts

LOCALES = {"en": "en-US", "lv": "lv-LV", "ru": "ru-RU"}
AppClient = Any


def once(text: str, part: str) -> bool:
    return text.count(part) == 1


@pytest.mark.parametrize("lang", ["en", "lv", "ru"])
@pytest.mark.parametrize("channel", [True, False], ids=["support channel", "no channel yet"])
async def test_talk_to_a_person_is_one_message_saying_each_thing_once(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector, lang: str,
    channel: bool,
) -> None:
    client = await aiohttp_client(create_app(settings))
    if channel:
        await support_post(client, connector).say("use this channel for handoffs")
    customer = Chat(client, connector, locale=LOCALES[lang])
    await customer.install()
    replies = await customer.press({"msa": "person"})
    tr = translator(lang)
    [message] = replies
    assert not message.get("text")  # no second sentence above the card
    [card] = cards_in(message)
    assert card_errors(card) == []
    shown = texts(replies)
    notice = tr(ToCustomer.QUEUED if channel else ToCustomer.QUEUED_NO_CHANNEL)
    place = tr.format(ToCustomer.QUEUE_PLACE, position=1)
    assert card["body"][0]["text"] == tr(messages.HANDOFF_TITLE)
    assert once(shown, notice.format(place=place))
    assert tr(messages.HANDOFF_REQUESTED) not in shown
    assert once(shown, tr(messages.HANDOFF_RESUME_HINT))
    assert [a["title"] for a in card["actions"]] == [tr(messages.CONTINUE_WITH_BOT)]
    if channel:  # "They will see your answers so far": said once
        seen = notice.split("{place}")[1].strip()
        assert once(shown, seen)


async def test_outside_support_hours_the_hours_are_on_the_same_card(
    aiohttp_client: AppClient, tmp_path: Any, connector: LocalConnector
) -> None:
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db",
                        support_hours="Mon-Fri 08:00-17:00 Europe/Riga")
    clock = FakeClock(datetime(2026, 12, 5, 10, 0, tzinfo=ZoneInfo("Europe/Riga")))  # Saturday
    client = await aiohttp_client(create_app(settings, clock=clock))
    customer = Chat(client, connector, locale="lv-LV")
    await customer.install()
    [message] = await customer.press({"msa": "person"})
    shown = texts([message])
    assert not message.get("text")
    hours = hours_text(parse_support_hours("Mon-Fri 08:00-17:00 Europe/Riga"), translator("lv"))
    assert hours == "P-Pk 08:00-17:00 Europe/Riga" and hours in shown  # in Latvian
    assert translator("lv")(messages.HANDOFF_TITLE) in shown


def test_without_the_request_card_the_notices_stay_as_they_are(knowledge: Knowledge) -> None:
    notice, count = Say(Reply("I've asked a person from CLOUDEX support to join.")), Count("m", {})
    summary = Reply(card=cards.summary_card(knowledge, {"answers": {"mailbox_type": "room"}}))
    assert into_request_card([summary], [notice, count]) == ([summary], [notice, count])
    request = Reply(card=cards.handoff_requested_card(knowledge, {}))
    replies, effects = into_request_card([Reply("Got it."), request], [notice, count])
    assert effects == [count] and replies[0] == Reply("Got it.")
    assert "I've asked a person" in str(replies[1].card)
    assert messages.HANDOFF_REQUESTED not in str(replies[1].card)
    # Nothing to say: the card keeps its own acknowledgement.
    assert into_request_card([request], [count]) == ([request], [count])
