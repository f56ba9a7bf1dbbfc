"""The guided conversation over HTTP: the real app, Teams-shaped JSON in, a local connector out.

Every request goes to ``/api/messages`` of ``create_app`` on loopback; every
reply is what the bot POSTed to the local Bot Connector, exactly as Teams
would receive it. Every card in every reply is validated.
"""

from __future__ import annotations

from typing import Any

import pytest

from dialogs.flow import QUESTIONS
from dialogs.knowledge import Knowledge
from tests.support.cards import card_errors, cards_in
from tests.support.harness import Chat, buttons, show_fix_data, texts

ANSWERS = {
    "mailbox_type": "user", "license": "yes", "mfa": "yes", "security_defaults": "no",
    "org_smtp_auth": "enabled", "mailbox_smtp_auth": "disabled", "conditional_access": "no",
    "auth_method": "app_password", "test_result": "auth_failed",
}


def checked(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assert every reply is a message without a stack trace whose cards are valid."""
    for reply in replies:
        assert reply["type"] == "message"
        assert "Traceback" not in str(reply)
        for card in cards_in(reply):
            assert card_errors(card) == [], card_errors(card)
    return replies


def title_of(knowledge: Knowledge, question: str, value: str) -> str:
    """The button title of one answer."""
    return next(o.title for o in knowledge.questions[question].options if o.value == value)


async def test_install_greets_once_not_twice(chat: Chat) -> None:
    replies = checked(await chat.install())
    welcome = [card for reply in replies for card in cards_in(reply)]
    assert len(welcome) == 1
    assert "Mail Setup Assistant" in texts(replies)
    # Teams may send the pair again (reinstall, a new device): still no second greeting.
    assert await chat.install() == []


async def test_install_then_whole_flow_by_action_submit_ends_in_a_summary(
    chat: Chat, knowledge: Knowledge
) -> None:
    replies = checked(await chat.install())
    replies = checked(await chat.press(buttons(replies)["Start"]))
    for number, question in enumerate(QUESTIONS, start=1):
        assert f"Question {number} of {len(QUESTIONS)}" in texts(replies)
        found = buttons(replies)
        if question == "mailbox":
            # Teams merges the card's inputs into the button's data.
            data = {**found["Next"], "mailbox": "tms@contoso.com"}
        else:
            data = found[title_of(knowledge, question, ANSWERS[question])]
        replies = checked(await chat.press(data))
    text = texts(replies)
    assert "Your mail setup summary" in text
    assert knowledge.cause("smtp_auth_disabled_mailbox").title in text
    assert "Set-CASMailbox -Identity 'tms@contoso.com' -SmtpClientAuthenticationDisabled $false" \
        in text
    assert "end of December 2026" in text


async def test_typed_messages_drive_the_flow(chat: Chat) -> None:
    for typed in ("hello", "we send from tms@contoso.com", "it's a shared mailbox", "no",
                  "no", "allowed", "ticked", "no", "oauth"):
        replies = checked(await chat.say(typed))
        assert replies, typed
    assert "Question 10 of 10" in texts(replies)


async def test_adaptive_card_action_invoke_answers_and_replies(chat: Chat) -> None:
    await chat.say("start")
    status, replies, body = await chat.execute(
        {"msa": "answer", "question": "mailbox", "mailbox": "tms@contoso.com"})
    assert status == 200
    assert body["statusCode"] == 200
    assert "Question 2 of 10" in texts(checked(replies))
    status, replies, _ = await chat.execute({"msa": "answer", "question": "mailbox_type",
                                             "value": "room"})
    assert status == 200
    assert "Your mail setup summary" in texts(checked(replies))


async def test_adaptive_card_action_with_a_garbage_value_still_answers(chat: Chat) -> None:
    await chat.say("start")
    body = chat._activity("adaptive_card_action", value={"msa": "answer"})
    body["value"] = "not an object"
    status, replies, _ = await chat.post(body)
    assert status == 200
    assert "Question 1 of 10" in texts(checked(replies))


async def test_channel_message_with_a_mention_is_read_without_the_mention(chat: Chat) -> None:
    status, replies, _ = await chat.post(chat._activity("channel_message"))
    assert status == 200
    assert "Question 1 of 10" in texts(checked(replies))


async def test_a_person_added_to_a_channel_is_not_greeted(chat: Chat) -> None:
    body = chat._activity("conversation_update")
    body["membersAdded"] = [{"id": "29:another-person"}]
    body["conversation"]["conversationType"] = "channel"
    status, replies, _ = await chat.post(body)
    assert status == 200 and replies == []


async def test_uninstall_gets_no_reply(chat: Chat) -> None:
    await chat.install()
    body = chat._activity("installation_update")
    body["action"] = "remove"
    status, replies, _ = await chat.post(body)
    assert status == 200 and replies == []


@pytest.mark.parametrize("fixture", ["typing", "message_reaction"])
async def test_teams_activities_the_bot_does_not_handle_get_200_and_no_reply(
    chat: Chat, fixture: str
) -> None:
    status, replies, _ = await chat.post(chat._activity(fixture))
    assert status == 200 and replies == []


@pytest.mark.parametrize("kind", ["madeUpType", "event", "endOfConversation", "handoff"])
async def test_unknown_activity_types_get_200_and_no_reply(chat: Chat, kind: str) -> None:
    body = chat._activity("message", text="hello")
    body["type"] = kind
    status, replies, _ = await chat.post(body)
    assert status == 200 and replies == []


async def test_text_over_ten_thousand_characters_is_cut_and_answered(chat: Chat) -> None:
    await chat.say("start")
    replies = checked(await chat.say("tms@contoso.com " + "x" * 15_000))
    text = texts(replies)
    assert "first 10,000 characters" in text
    assert "Question 2 of 10" in text


async def test_pasted_error_over_http_gets_a_diagnosis_card(
    chat: Chat, knowledge: Knowledge
) -> None:
    replies = checked(await chat.say(
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
        "Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information."))
    assert knowledge.cause("smtp_auth_disabled_mailbox").title in texts(replies)
    assert {"Yes, it works", "No, still failing"} <= set(buttons(replies))


async def test_a_typed_question_over_http_gets_the_topics_and_their_fixes(
    chat: Chat, knowledge: Knowledge
) -> None:
    replies = checked(await chat.say("can I still use an app password?"))
    (card,) = [card for reply in replies for card in cards_in(reply)]
    shows = show_fix_data(card)
    assert "mfa_required" in [data["cause"] for data in shows]
    fix = checked(await chat.press(next(d for d in shows if d["cause"] == "mfa_required")))
    assert knowledge.cause("mfa_required").title in texts(fix)
    # Short first: the recommended fix shows; every step is one "Other ways" press away.
    assert "Other ways" in texts(fix)
    assert knowledge.cause("mfa_required").fix.steps[1][:40] in texts(fix)


async def test_password_over_http_is_refused(chat: Chat) -> None:
    replies = checked(await chat.say("password: Hunter2!!"))
    assert "did not store it" in texts(replies)


async def test_replies_carry_no_cookies_a_service_set(chat: Chat) -> None:
    """The one client session serves every tenant: it keeps no cookies between requests."""
    chat.connector.set_cookie = "ARRAffinity=tenant-a-node; Path=/"
    # By host name: a cookie jar ignores cookies from bare IP addresses.
    chat.connector.url = chat.connector.url.replace("127.0.0.1", "localhost")
    checked(await chat.install())
    checked(await chat.say("hi"))
    checked(await chat.say("help"))
    sent = chat.connector.received
    assert len(sent) >= 3
    assert [r.cookie for r in sent] == [None] * len(sent)
