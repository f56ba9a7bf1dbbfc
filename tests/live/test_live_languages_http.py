"""Live checks over HTTP in Latvian and Russian: the real app, a fake tenant, a local Entra.

A customer whose Teams is set to Latvian (or Russian) installs the bot and
presses "Check my tenant" before writing anything: the consent card, the
sign-in card, "Checking…" and the results card posted as the checks answer
are in their language. A customer who writes in Latvian on an English Teams
gets the same. What Microsoft answered is shown as it came, in quotes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from dialogs.i18n import translator
from dialogs.live import phrases
from tests.checks.fakes import TenantScenario, password_sign_ins
from tests.live.conftest import LiveBot, LiveBotFactory
from tests.support.cards import card_errors, cards_in, dict_nodes
from tests.support.harness import texts
from tests.support.language import english_words_left

HEALTHY = TenantScenario.healthy()
MAILBOX = HEALTHY.mailbox_upn
# The tenant switch is off and the mailbox still signs in with a password: a failed check, a
# warning, Microsoft's 535 reply and two fixes.
BROKEN = TenantScenario().signed_in_as_mailbox().with_(
    transport_smtp_auth_disabled=True, sign_ins=password_sign_ins(MAILBOX, 41))
QUOTED = re.compile(r"„[^”]*”|«[^»]*»|\[[^\]]*\]\([^)]*\)|'[^'\n]*'")
OTHER_SCRIPT = {"lv": "[а-яё]", "ru": "[āčēģīķļņšūž]"}
LOCALES = {"lv": "lv-LV", "ru": "ru-RU"}
FIRST_WORDS = {"lv": "Labdien, mūsu TMS nevar nosūtīt e-pastus",
               "ru": "Добрый день, наша TMS не может отправить письма"}


def results_title(lang: str) -> str:
    return translator(lang)(phrases.RESULTS_TITLE)


async def final_card(bot: LiveBot, lang: str) -> dict[str, Any]:
    """The results card once it offers "Re-run checks" (the run is done)."""
    def done(posted: list[dict[str, Any]]) -> bool:
        return any(action.get("data") == {"msa": "run_checks"}
                   for body in posted for card in cards_in(body)
                   if (card.get("body") or [{}])[0].get("text") == results_title(lang)
                   for action in card.get("actions", []))

    posted = await bot.wait_for(done)
    card = [card for body in posted for card in cards_in(body)
            if (card.get("body") or [{}])[0].get("text") == results_title(lang)][-1]
    assert card_errors(card) == []
    return card


def leftovers(bodies: list[dict[str, Any]], lang: str) -> dict[str, list[str]]:
    """Texts the customer reads that are English or in the other language.

    Left out: what Microsoft answered (quoted, or its raw answer in monospace), PowerShell,
    links, and the language buttons (each language named in itself).
    """
    found: dict[str, list[str]] = {}
    lines = [body.get("text") or "" for body in bodies]
    for body in bodies:
        for card in cards_in(body):
            lines += [str(node.get("text") or node.get("title") or "")
                      for node in dict_nodes(card)
                      if node.get("type") in ("TextBlock", "Action.Submit", "Action.ShowCard",
                                              "Action.ToggleVisibility")
                      and node.get("fontType") != "Monospace"
                      and node.get("data", {}).get("msa") != "set_language"]
    for line in lines:
        bare = QUOTED.sub(" ", line)
        words = english_words_left(bare)
        if words or re.search(OTHER_SCRIPT[lang], bare, re.I):
            found[line] = words
    return found


async def consent_sign_in_and_check(bot: LiveBot, lang: str) -> dict[str, Any]:
    tr = translator(lang)
    consent = await bot.ask_for_checks()
    assert tr(phrases.CONSENT_DETAILS_BUTTON) in texts(consent)
    replies = await bot.consent()
    oauth = [a["content"] for r in replies for a in r.get("attachments") or []
             if a.get("contentType") == "application/vnd.microsoft.card.oauth"]
    assert oauth and oauth[0]["text"] == tr(phrases.SIGN_IN_CARD_TEXT)
    assert oauth[0]["buttons"][0]["title"] == tr(phrases.SIGN_IN_BUTTON)
    body = bot.invoke("signin/tokenExchange", {"id": "exchange-1", "connectionName": "graph",
                                               "token": bot.identity.sso_token()})
    if bot.chat.locale:
        body["locale"] = bot.chat.locale
    status, _, _ = await bot.chat.post(body)
    assert status == 200
    return await final_card(bot, lang)


@pytest.mark.parametrize("lang", ["lv", "ru"])
async def test_teams_in_the_customers_language_and_check_my_tenant_pressed_first(
    live_bot: LiveBotFactory, lang: str
) -> None:
    bot = await live_bot(BROKEN)
    bot.chat.locale = LOCALES[lang]
    await bot.chat.install()
    card = await consent_sign_in_and_check(bot, lang)
    tr = translator(lang)
    shown = texts([{"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                     "content": card}]}])
    assert tr(phrases.CHECKING) in texts(bot.posted())
    assert f"✗ **{tr(phrases.CHECK_TITLES['smtp_auth_switches'])}**" in shown
    assert f"⚠ **{tr(phrases.CHECK_TITLES['smtp_readiness'])}**" in shown
    assert "535 5.7.139" in shown  # Microsoft's reply, as it came
    assert leftovers(bot.posted(), lang) == {}


@pytest.mark.parametrize("lang", ["lv", "ru"])
async def test_written_in_the_customers_language_on_an_english_teams(
    live_bot: LiveBotFactory, lang: str
) -> None:
    bot = await live_bot(BROKEN)
    await bot.chat.install()
    await bot.chat.say(FIRST_WORDS[lang])
    before = len(bot.posted())
    await consent_sign_in_and_check(bot, lang)
    assert leftovers(bot.posted()[before:], lang) == {}
