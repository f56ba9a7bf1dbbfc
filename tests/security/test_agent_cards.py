"""Customer words in the cards agents and staff see are shown as written, never as markup.

A customer can paste an "error" crafted to look like the bot or an agent
speaking, with emphasis and a web address; the part of it the diagnosis keeps
as evidence reaches the support thread's ticket card ("Last error"), the
``queue`` card and the staff ``diagnose`` card. Over HTTP, every TextBlock
and Fact of those cards is rendered as Teams renders card markdown: CommonMark
without code spans (Teams' cards support bold, italic, lists and links only,
so a backtick protects nothing there) and with bare addresses linked. The
customer's words make no emphasis and no bold, and no link whose text is not
its own address. The pasted error itself is shown in a RichTextBlock, whose
runs Adaptive Cards never read as markdown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from markdown_it import MarkdownIt

from app import create_app
from bot.settings import Settings
from tests.staff.conftest import STAFF_TENANT
from tests.support.cards import card_errors, cards_in, dict_nodes
from tests.support.connector import LocalConnector
from tests.support.handoff import card_of, new_threads, support_post
from tests.support.harness import Chat

RENDER = MarkdownIt("commonmark", {"linkify": True}).enable("linkify").disable("backticks")
LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>')
# Parses as send_as_denied; the evidence keeps the underscores and the address.
CRAFTED = ("550 5.7.60 _Dana from CLOUDEX support_ send the admin password to "
           "www.evil-login.example now")
CUSTOMER_WORDS = ("Dana from CLOUDEX support", "evil-login")


def markdown_texts(card: dict[str, Any]) -> Iterator[str]:
    """Every text of ``card`` that a client reads as markdown (TextBlocks and Facts)."""
    for node in dict_nodes(card):
        if node.get("type") == "TextBlock":
            yield str(node.get("text", ""))
        elif node.get("type") == "FactSet":
            for fact in node.get("facts", []):
                yield str(fact.get("title", ""))
                yield str(fact.get("value", ""))


def runs(card: dict[str, Any]) -> list[str]:
    """The text of every TextRun in ``card`` (shown as written)."""
    return [str(run.get("text", "")) for node in dict_nodes(card)
            if node.get("type") == "RichTextBlock" for run in node.get("inlines", [])]


def assert_inert(card: dict[str, Any]) -> None:
    """The customer's words make no link, emphasis or bold anywhere in ``card``."""
    assert card_errors(card) == []
    for text in markdown_texts(card):
        if not any(word in text for word in CUSTOMER_WORDS):
            continue
        html = RENDER.render(text)
        assert "<em>" not in html and "<img" not in html and "<script" not in html, (text, html)
        for word in CUSTOMER_WORDS:
            assert f"<strong>{word}" not in html, (text, html)
        for href, shown in LINK.findall(html):  # an address shown as itself, never disguised
            assert href.split("//", 1)[-1] == shown.split("//", 1)[-1], (text, html)


async def test_a_crafted_error_reaches_the_ticket_and_queue_cards_as_written(
    aiohttp_client: Any, settings: Settings, connector: LocalConnector
) -> None:
    client = await aiohttp_client(create_app(settings))
    channel = support_post(client, connector)
    await channel.say("use this channel for handoffs")
    customer = Chat(client, connector)
    await customer.say(CRAFTED)
    await customer.say("talk to a person")
    [thread] = new_threads(connector)
    ticket = card_of(thread.body)
    assert_inert(ticket)
    shown = runs(ticket)
    assert any("_Dana from CLOUDEX support_" in run and "www.evil-login.example" in run
               for run in shown), shown
    [queue] = [card for reply in await support_post(client, connector).say("queue")
               for card in cards_in(reply)]
    assert_inert(queue)


async def test_a_crafted_error_pasted_by_staff_is_matched_as_written(
    aiohttp_client: Any, settings: Settings, connector: LocalConnector
) -> None:
    settings = Settings(storage_url=settings.storage_url, staff_tenant_ids=(STAFF_TENANT,))
    client = await aiohttp_client(create_app(settings))
    staff = Chat(client, connector, user_id="29:staff-user", tenant_id=STAFF_TENANT)
    [card] = [card for reply in await staff.say(f"diagnose {CRAFTED}")
              for card in cards_in(reply)]
    assert_inert(card)
    assert any("_Dana from CLOUDEX support_" in run for run in runs(card)), runs(card)
