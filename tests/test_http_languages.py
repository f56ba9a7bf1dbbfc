"""Whole conversations over HTTP in English, Latvian and Russian, answered in words.

The real app on loopback, Teams-shaped activities in, replies caught by the
local connector. Each conversation opens in the customer's own words, answers
the questions in words (one "no" among them), asks a question in the middle and
gets its answer, states several facts in one message, and ends in the summary:
the "no" is shown as No, and no question whose answer was given is asked again.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation import ConversationStateStore, conversation_key
from bot.keys import STORE_KEY
from dialogs import messages
from dialogs.cards import noted_text
from dialogs.flow import QUESTIONS
from dialogs.i18n import translator
from dialogs.i18n.knowledge import localized
from dialogs.knowledge import Knowledge
from tests.support.cards import card_errors, cards_in, dict_nodes
from tests.support.harness import Chat, texts

# (what the customer types, the question it answers or None) — in order.
CONVERSATIONS: dict[str, list[tuple[str, str | None]]] = {
    "en": [
        ("Hi, we need our transport system to send mail from our own Microsoft account", None),
        ("dispatch@ozols-cargo.lv is the one", "mailbox"),
        ("an ordinary user account", "mailbox_type"),
        ("yes, it has Business Standard", "license"),
        ("no, nobody set up MFA on it", "mfa"),
        ("what are security defaults exactly?", None),
        ("they're off, and SMTP AUTH is allowed for the whole tenant", "security_defaults"),
        ("authenticated smtp is ticked", "mailbox_smtp_auth"),
        ("we have no conditional access", "conditional_access"),
        ("the TMS signs in with OAuth", "auth_method"),
        ("not tested it yet", "test_result"),
    ],
    "lv": [
        ("Labvakar, gribu iestatīt e-pasta sūtīšanu no mūsu TMS", None),
        ("sūtīsim no dispeceri@ozols-cargo.lv", "mailbox"),
        ("parasta lietotāja pastkaste", "mailbox_type"),
        ("jā, tai ir Business Basic", "license"),
        ("nē, MFA tam kontam nav", "mfa"),
        ("kas īsti ir drošības noklusējumi?", None),
        ("izslēgti, un SMTP AUTH visai organizācijai ir atļauts", "security_defaults"),
        ("authenticated smtp ir atzīmēts", "mailbox_smtp_auth"),
        ("mums nav conditional access politiku", "conditional_access"),
        ("TMS pieslēdzas ar OAuth", "auth_method"),
        ("vēl neesam testējuši", "test_result"),
    ],
    "ru": [
        ("Добрый вечер, надо подключить почту к нашей TMS", None),
        ("отправлять будем с dispetcher@ozols-cargo.lv", "mailbox"),
        ("обычный пользовательский ящик", "mailbox_type"),
        ("да, у него Business Premium", "license"),
        ("нет, MFA на нём никто не включал", "mfa"),
        ("а что такое security defaults?", None),
        ("выключены, и SMTP AUTH для всей организации разрешен", "security_defaults"),
        ("authenticated smtp отмечен", "mailbox_smtp_auth"),
        ("условного доступа у нас нет", "conditional_access"),
        ("TMS входит через OAuth", "auth_method"),
        ("ещё не тестировали", "test_result"),
    ],
}
EXPECTED = {
    "mailbox_type": "user", "license": "yes", "mfa": "no", "security_defaults": "no",
    "org_smtp_auth": "enabled", "mailbox_smtp_auth": "enabled", "conditional_access": "no",
    "auth_method": "oauth", "test_result": "not_tested",
}
LOCALES = {"en": "en-US", "lv": "lv-LV", "ru": "ru-RU"}


async def say(chat: Chat, text: str, lang: str) -> list[dict[str, Any]]:
    status, replies, _ = await chat.post(chat._activity("message", text=text, locale=LOCALES[lang]))
    assert status == 200
    for reply in replies:
        assert reply["type"] == "message" and "Traceback" not in str(reply)
        for card in cards_in(reply):
            assert card_errors(card) == [], card_errors(card)
    return replies


async def snapshot(chat: Chat, bot_client: Any) -> dict[str, Any]:
    conversations = ConversationStateStore(bot_client.app[STORE_KEY].state)
    record, _ = await conversations.load(conversation_key("msteams", chat.conversation_id))
    assert record.snapshot is not None
    return record.snapshot


@pytest.mark.parametrize("lang", ["en", "lv", "ru"])
async def test_a_whole_conversation_in_words(
    chat: Chat, bot_client: Any, knowledge: Knowledge, lang: str
) -> None:
    tr = translator(lang)
    local = localized(knowledge, lang)
    noted = tr(messages.NOTED).split("{")[0]  # "Noted: ", "Pierakstīju: ", "Записал: "
    await chat.install()
    asked: list[str] = []
    replies: list[dict[str, Any]] = []
    for text, answers in CONVERSATIONS[lang]:
        replies = await say(chat, text, lang)
        shown = texts(replies)
        asked.extend(q for q in QUESTIONS if local.questions[q].prompt in shown)
        if answers is not None and answers != "mailbox":
            # Every stored answer is echoed, so a misreading shows at once.
            assert noted in shown, (text, shown)
        if text == CONVERSATIONS[lang][0][0]:
            # The opening starts the questions at once, in the customer's language.
            assert local.questions["mailbox"].prompt in shown
        if answers is None and "?" in text:
            # A question mid-flow: its answer, then the question we were on, again.
            assert tr(knowledge.answers["security_defaults"].text) in shown
            assert local.questions["security_defaults"].prompt in shown
    state = await snapshot(chat, bot_client)
    assert state["state"] == "summary"
    assert {k: state["facts"]["answers"][k] for k in EXPECTED} == EXPECTED
    assert state["lang"] == lang
    summary = texts(replies)
    assert tr(messages.SUMMARY_TITLE) in summary
    # The "no" said in words is shown as No.
    shown_facts = {(fact.get("title"), fact.get("value")) for reply in replies
                   for card in cards_in(reply) for node in dict_nodes(card)
                   if node.get("type") == "FactSet" for fact in node["facts"]}
    assert (local.questions["mfa"].label, local.questions["mfa"].option("no").title) in shown_facts
    # Told alongside security defaults, the organisation's SMTP AUTH was never asked.
    assert "org_smtp_auth" not in asked
    assert asked.count("security_defaults") == 2  # asked, and asked again after the question


async def test_a_latvian_no_meaning_from_does_not_answer_the_licence(
    chat: Chat, bot_client: Any, knowledge: Knowledge
) -> None:
    await chat.install()
    for text in ("sveiki, sākam", "info@ozols-cargo.lv", "lietotāja pastkaste"):
        await say(chat, text, "lv")
    replies = await say(chat, "licenci pirkām no Microsoft partnera, tā ir Business Premium", "lv")
    assert noted_text(knowledge, {"license": "yes"}, lang="lv") in texts(replies)
    assert (await snapshot(chat, bot_client))["facts"]["answers"]["license"] == "yes"


async def test_the_language_follows_the_writing_until_the_customer_chooses_one(
    chat: Chat, bot_client: Any
) -> None:
    await chat.install()
    # No telling words yet: Teams' locale is the hint.
    await say(chat, "ok", "lv")
    assert (await snapshot(chat, bot_client))["lang"] == "lv"
    await say(chat, "здравствуйте, письма не уходят", "lv")
    assert (await snapshot(chat, bot_client))["lang"] == "ru"
    replies = await say(chat, "in English please", "lv")
    state = await snapshot(chat, bot_client)
    assert state["lang"] == "en" and state["lang_chosen"] is True
    assert "English" in texts(replies)
    await say(chat, "nē, MFA nav", "lv")
    assert (await snapshot(chat, bot_client))["lang"] == "en"  # a choice outlasts the writing
    await chat.press({"msa": "set_language", "lang": "lv"})
    assert (await snapshot(chat, bot_client))["lang"] == "lv"
