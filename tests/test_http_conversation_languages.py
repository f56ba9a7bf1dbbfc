"""Whole conversations over HTTP in Latvian and Russian: every reply in the customer's language.

The real app on loopback, Teams-shaped activities in, replies caught by the
local connector; nothing is stored for the test. Two ways in, each through
the questions, the summary, a diagnosis of an error pasted as Microsoft
writes it (English) and a request for a person:

- **written**: Teams is in English, the customer writes in Latvian or Russian
  from their first message and answers in words, asking a question on the way;
- **locale**: Teams is in Latvian or Russian and the customer never types a
  word of it: they press Start and the answer buttons.

Every reply from the first on is read for another language's words
(:func:`tests.support.language.leftovers`: PowerShell, what Microsoft said,
portal labels, links and the English copy for the IT provider stay as they
are). Then the language is switched mid-conversation — typed ("in English",
"по-русски") and with the Language button — and every later reply follows.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation import ConversationStateStore, conversation_key
from bot.keys import STORE_KEY
from dialogs import messages
from dialogs.flow import QUESTIONS
from dialogs.handoff.phrases import ToCustomer
from dialogs.i18n import translator
from dialogs.i18n.knowledge import is_portal_label, localized
from dialogs.knowledge import Knowledge
from tests.support.cards import card_errors, cards_in, dict_nodes
from tests.support.handoff import support_post
from tests.support.harness import Chat, texts
from tests.support.language import leftovers

LOCALES = {"en": "en-US", "lv": "lv-LV", "ru": "ru-RU"}
ADAPTIVE = "application/vnd.microsoft.card.adaptive"
ERROR = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
         "Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. "
         "[AM0PR06MB6545.eurprd06.prod.outlook.com]")
# Written: an opening, answers in words (one "no"), a question on the way.
WRITTEN = {
    "lv": ["Labvakar, gribu iestatīt e-pasta sūtīšanu no mūsu TMS",
           "sūtīsim no dispeceri@ozols-cargo.lv", "parasta lietotāja pastkaste",
           "jā, tai ir Business Basic", "nē, MFA tam kontam nav",
           "kas īsti ir drošības noklusējumi?",
           "izslēgti, un SMTP AUTH visai organizācijai ir atļauts",
           "authenticated smtp ir atzīmēts", "mums nav conditional access politiku",
           "TMS pieslēdzas ar OAuth", "vēl neesam testējuši"],
    "ru": ["Добрый вечер, надо подключить почту к нашей TMS",
           "отправлять будем с dispetcher@ozols-cargo.lv", "обычный пользовательский ящик",
           "да, у него Business Premium", "нет, MFA на нём никто не включал",
           "а что такое security defaults?",
           "выключены, и SMTP AUTH для всей организации разрешен", "authenticated smtp отмечен",
           "условного доступа у нас нет", "TMS входит через OAuth", "ещё не тестировали"],
}
# Pressed: answers that leave things to change, so the summary lists fixes.
PRESSED = [("mailbox_type", "user"), ("license", "yes"), ("mfa", "yes"),
           ("security_defaults", "yes"), ("org_smtp_auth", "disabled"),
           ("mailbox_smtp_auth", "disabled"), ("conditional_access", "no"),
           ("auth_method", "basic"), ("test_result", "auth_failed")]


def labels(knowledge: Knowledge) -> frozenset[str]:
    """Microsoft's portal labels (kept verbatim in every language)."""
    return frozenset(step for cause in knowledge.causes
                     for path in (*cause.fix.click_paths, *cause.check.click_paths)
                     for step in path.steps if is_portal_label(step))


class Customer:
    """One customer's chat, keeping every reply and checking each is a valid message."""

    def __init__(self, chat: Chat, bot_client: Any) -> None:
        self.chat, self.bot_client = chat, bot_client
        self.replies: list[dict[str, Any]] = []

    def _keep(self, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for reply in replies:
            assert reply["type"] == "message" and "Traceback" not in str(reply)
            for card in cards_in(reply):
                assert card_errors(card) == [], card_errors(card)
        self.replies += replies
        return replies

    async def say(self, text: str) -> list[dict[str, Any]]:
        return self._keep(await self.chat.say(text))

    async def press(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return self._keep(await self.chat.press(data))

    async def snapshot(self) -> dict[str, Any]:
        store = ConversationStateStore(self.bot_client.app[STORE_KEY].state)
        record, _ = await store.load(conversation_key("msteams", self.chat.conversation_id))
        assert record.snapshot is not None
        return record.snapshot


def buttons_of(replies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every Action.Submit anywhere in the replies' cards: title -> data."""
    return {node["title"]: node["data"] for reply in replies for card in cards_in(reply)
            for node in dict_nodes(card)
            if node.get("type") == "Action.Submit" and isinstance(node.get("data"), dict)}


async def diagnose_and_ask_for_a_person(customer: Customer, lang: str,
                                        knowledge: Knowledge) -> None:
    tr, local = translator(lang), localized(knowledge, lang)
    # An error pasted as Microsoft writes it: English, and the language stays the customer's.
    replies = await customer.say(ERROR)
    assert local.cause("smtp_auth_disabled_tenant").title in texts(replies)
    assert (await customer.snapshot())["lang"] == lang
    # The fix did not help: the next cause, then a person.
    replies = await customer.press({"msa": "fix_failed", "cause": "smtp_auth_disabled_tenant"})
    assert tr(messages.FIX_FAILED_NEXT) in texts(replies)
    replies = await customer.press({"msa": "person"})
    shown = texts(replies)
    assert tr(messages.HANDOFF_TITLE) in shown
    assert tr.format(ToCustomer.QUEUE_PLACE, position=1).strip() in shown


@pytest.mark.parametrize("lang", ["lv", "ru"])
async def test_written_in_the_language_every_reply_is_in_it(
    chat: Chat, bot_client: Any, connector: Any, knowledge: Knowledge, lang: str
) -> None:
    await support_post(bot_client, connector).say("use this channel for handoffs")
    customer = Customer(chat, bot_client)
    welcome = await chat.install()
    assert "Hi, I'm the CLOUDEX Mail Setup Assistant" in texts(welcome)  # English Teams
    tr, local = translator(lang), localized(knowledge, lang)
    for text in WRITTEN[lang]:
        replies = await customer.say(text)
        if text.endswith("?"):
            # The answer from the knowledge, its steps one press away, in the language.
            [answer] = [c for r in replies for c in cards_in(r)
                        if c["actions"][0].get("title") == tr(messages.SHOW_THE_STEPS)]
            steps = texts([{"attachments": [{"contentType": ADAPTIVE, "content": answer}]}])
            assert local.answers["security_defaults"].steps[0] in steps
    snapshot = await customer.snapshot()
    assert snapshot["state"] == "summary" and snapshot["lang"] == lang
    assert tr(messages.SUMMARY_TITLE) in texts(customer.replies[-2:])
    assert [q for q in QUESTIONS if snapshot["facts"]["answers"].get(q) is None] == []
    await diagnose_and_ask_for_a_person(customer, lang, knowledge)
    assert len(customer.replies) >= 15
    assert leftovers(customer.replies, lang, labels(knowledge)) == {}


@pytest.mark.parametrize("lang", ["lv", "ru"])
async def test_teams_in_the_language_and_only_buttons_pressed_every_reply_is_in_it(
    chat: Chat, bot_client: Any, connector: Any, knowledge: Knowledge, lang: str
) -> None:
    await support_post(bot_client, connector).say("use this channel for handoffs")
    chat.locale = LOCALES[lang]
    customer = Customer(chat, bot_client)
    tr, local = translator(lang), localized(knowledge, lang)
    welcome = customer._keep(await chat.install())
    assert tr(messages.WELCOME_TITLE) in texts(welcome)
    replies = await customer.press({"msa": "start"})
    assert local.questions["mailbox"].prompt in texts(replies)
    await customer.press({"msa": "answer", "question": "mailbox", "mailbox": "tms@contoso.com"})
    for question, value in PRESSED:
        replies = await customer.press({"msa": "answer", "question": question, "value": value})
    summary = texts(replies)
    assert tr(messages.SUMMARY_TITLE) in summary and tr(messages.WHAT_TO_CHANGE) in summary
    # The summary's fixes and its text for the IT provider: in the language, the address in it.
    assert "Set-CASMailbox -Identity 'tms@contoso.com'" in summary
    fix = buttons_of(replies)[tr(messages.SHOW_THE_FIX)]
    await customer.press(fix)
    await customer.press({"msa": "help"})
    await customer.press({"msa": "back"})
    await diagnose_and_ask_for_a_person(customer, lang, knowledge)
    assert (await customer.snapshot())["lang"] == lang
    assert leftovers(customer.replies, lang, labels(knowledge)) == {}


async def test_switching_the_language_mid_conversation_switches_every_later_reply(
    chat: Chat, bot_client: Any, knowledge: Knowledge
) -> None:
    customer = Customer(chat, bot_client)
    await chat.install()
    await customer.say("Sveiki, nestrādā e-pastu sūtīšana no TMS")
    await customer.say("tms@contoso.com")
    assert leftovers(customer.replies, "lv", labels(knowledge)) == {}

    def since(mark: int) -> list[dict[str, Any]]:
        return customer.replies[mark:]

    # Typed: "in English", then answers in Latvian words: English stays (it was chosen).
    mark = len(customer.replies)
    await customer.say("in English please")
    await customer.say("lietotāja pastkaste")
    await customer.press({"msa": "help"})
    assert len(since(mark)) >= 3 and leftovers(since(mark), "en") == {}
    assert "Question 3 of" in texts(since(mark))
    # The Language button: Russian from the next reply on, whatever is typed.
    mark = len(customer.replies)
    await customer.press({"msa": "set_language", "lang": "ru"})
    await customer.say("jā, ir E3 licence")
    await customer.say(ERROR)
    await customer.press({"msa": "person"})
    assert len(since(mark)) >= 4
    assert leftovers(since(mark), "ru", labels(knowledge)) == {}
    # Typed again, in Russian words: Latvian asked for in Russian is Latvian.
    mark = len(customer.replies)
    await customer.say("давайте латышский, latviski")
    await customer.press({"msa": "continue"})
    assert leftovers(since(mark), "lv", labels(knowledge)) == {}
    assert (await customer.snapshot())["lang"] == "lv"
