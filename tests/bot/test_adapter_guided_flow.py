"""The whole guided flow through botbuilder's TestAdapter: buttons, typing, volunteered facts.

Each test is a conversation with the real bot (engine, knowledge, store,
audit recorder). Expected wording comes from the knowledge file, so the tests
check that the right question is asked, not how it is phrased today.
"""

from __future__ import annotations

import pytest

from dialogs.flow import QUESTIONS
from dialogs.knowledge import Knowledge
from tests.bot.conftest import DEFAULT_ANSWERS, BotDriver


def progress(question: str) -> str:
    """The "Question n of 10" line a question card shows."""
    return f"Question {QUESTIONS.index(question) + 1} of {len(QUESTIONS)}"


async def test_install_greets_once_with_what_the_bot_can_do(driver: BotDriver) -> None:
    replies = await driver.install()
    assert len(replies.cards) == 1, "installationUpdate + conversationUpdate must greet once"
    assert "Mail Setup Assistant" in replies.text
    assert "paste" in replies.text.lower()  # it says it reads pasted errors
    assert "December 2026" in replies.text
    assert set(replies.buttons) >= {"Start", "Help"}
    again = await driver.send_conversation_update()
    assert again.activities == []


async def test_every_question_answered_by_button_in_order_ends_in_the_summary(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.install()
    replies = await driver.press({"msa": "start"})
    for question in QUESTIONS:
        assert await driver.state() == f"ask_{question}"
        assert progress(question) in replies.text
        assert knowledge.questions[question].prompt in replies.text
        if question == "mailbox":
            data = {**replies.button("Next"), "mailbox": DEFAULT_ANSWERS["mailbox"]}
        else:
            wanted = DEFAULT_ANSWERS[question]
            title = next(o.title for o in knowledge.questions[question].options
                         if o.value == wanted)
            data = replies.button(title)
        replies = await driver.press(data)
    assert await driver.state() == "summary"
    assert "Your mail setup summary" in replies.text
    assert "tms@contoso.com" in replies.text
    assert await driver.answers() == DEFAULT_ANSWERS
    assert "Nothing in your answers blocks SMTP AUTH" in replies.text


# (question, typed text, stored value) — natural ways customers answer.
TYPED_ANSWERS = [
    ("mailbox", "tms@contoso.com", "tms@contoso.com"),
    ("mailbox", "We send from Invoices@Contoso.com, thanks", "Invoices@Contoso.com"),
    ("mailbox", "the address is 'noreply@fabrikam.co.uk'.", "noreply@fabrikam.co.uk"),
    ("mailbox_type", "user", "user"),
    ("mailbox_type", "it's a normal mailbox", "user"),
    ("mailbox_type", "it's a shared mailbox", "shared"),
    ("mailbox_type", "Shared", "shared"),
    ("mailbox_type", "it's a meeting room", "room"),
    ("mailbox_type", "equipment mailbox", "equipment"),
    ("mailbox_type", "a Microsoft 365 group", "group"),
    ("license", "yes", "yes"),
    ("license", "yep", "yes"),
    ("license", "Yes, Business Premium", "yes"),
    ("license", "no", "no"),
    ("license", "nope, unlicensed", "no"),
    ("mfa", "yeah", "yes"),
    ("mfa", "we use the Authenticator app", "yes"),
    ("mfa", "nope", "no"),
    ("mfa", "just a password", "no"),
    ("security_defaults", "yes, they are on", "yes"),
    ("security_defaults", "no, disabled", "no"),
    ("org_smtp_auth", "the box is unticked", "enabled"),
    ("org_smtp_auth", "it's ticked", "disabled"),
    ("org_smtp_auth", "yes", "enabled"),
    ("mailbox_smtp_auth", "ticked", "enabled"),
    ("mailbox_smtp_auth", "unticked", "disabled"),
    ("mailbox_smtp_auth", "I don't see it", "missing"),
    ("conditional_access", "no", "no"),
    ("conditional_access", "yes, we block legacy auth", "yes"),
    ("auth_method", "with the normal password", "basic"),
    ("auth_method", "we use an app password", "app_password"),
    ("auth_method", "OAuth", "oauth"),
    ("test_result", "it works", "works"),
    ("test_result", "authentication failed", "auth_failed"),
    ("test_result", "not tested yet", "not_tested"),
]


@pytest.mark.parametrize(("question", "typed", "value"), TYPED_ANSWERS,
                         ids=[f"{q}:{t}" for q, t, _ in TYPED_ANSWERS])
async def test_each_question_understands_typed_variants(
    driver: BotDriver, question: str, typed: str, value: str
) -> None:
    await driver.answer_until(question)
    replies = await driver.say(typed)
    assert (await driver.answers())[question] == value
    state = await driver.state()
    assert state != f"ask_{question}", replies.text
    if state.startswith("ask_"):
        assert progress(state.removeprefix("ask_")) in replies.text


async def test_the_whole_flow_typed_in_words(driver: BotDriver) -> None:
    typed = ["hi", "our sender is tms@contoso.com", "user mailbox", "yep", "nope", "no",
             "allowed", "ticked", "no", "oauth", "it works"]
    for text in typed:
        await driver.say(text)
    assert await driver.state() == "summary"
    assert await driver.answers() == DEFAULT_ANSWERS


async def test_volunteered_facts_are_noted_and_not_asked_again(driver: BotDriver) -> None:
    await driver.install()
    replies = await driver.say("we have MFA and security defaults are on")
    assert "Noted" in replies.text and "MFA: Yes" in replies.text
    assert "Security defaults: Yes, enabled" in replies.text
    assert await driver.state() == "ask_mailbox"
    await driver.say("tms@contoso.com")
    await driver.say("user")
    replies = await driver.say("yes")  # licence
    # MFA (4) and security defaults (5) were volunteered: straight on to question 6.
    assert await driver.state() == "ask_org_smtp_auth"
    assert progress("org_smtp_auth") in replies.text
    answers = await driver.answers()
    assert answers["mfa"] == "yes" and answers["security_defaults"] == "yes"


async def test_a_fact_volunteered_beside_an_answer_is_kept(driver: BotDriver) -> None:
    await driver.answer_until("license")
    await driver.say("yes, and we use an app password")
    answers = await driver.answers()
    assert answers["license"] == "yes" and answers["auth_method"] == "app_password"
    await driver.answer_until("test_result")  # start: continues where we are
    asked = []
    while (state := await driver.state()) != "summary":
        asked.append(state)
        question = state.removeprefix("ask_")
        await driver.press_answer(question, DEFAULT_ANSWERS[question])
    assert "ask_auth_method" not in asked


@pytest.mark.parametrize("question", QUESTIONS)
async def test_i_dont_know_shows_how_to_find_out_then_moves_on(
    driver: BotDriver, knowledge: Knowledge, question: str
) -> None:
    await driver.answer_until(question)
    replies = await driver.say("I don't know")
    how = knowledge.questions[question].how_to_find_out
    assert f"How to find out: {knowledge.questions[question].label}" in replies.text
    assert how.text in replies.text
    # A click path ("Portal › Step › …") or PowerShell to look it up.
    assert "›" in replies.text or any(
        e.get("type") == "CodeBlock" for card in replies.cards for e in card["body"])
    assert await driver.state() == f"ask_{question}"
    if question == "mailbox":
        # The address cannot be skipped: asking again only repeats where to look it up.
        again = await driver.say("not sure")
        assert how.text in again.text and await driver.state() == "ask_mailbox"
        return
    assert "Skip for now" in replies.buttons
    moved = await driver.say("still not sure")
    assert (await driver.answers())[question] == "unsure"
    assert await driver.state() != f"ask_{question}"
    assert moved.activities


async def test_i_dont_know_by_button_then_skip_lists_it_as_still_to_find_out(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    replies = await driver.answer_until("conditional_access")
    replies = await driver.press(replies.button("I don't know"))
    assert "How to find out: Conditional Access" in replies.text
    await driver.press(replies.button("Skip for now"))
    assert await driver.state() == "ask_auth_method"
    await driver.press_answer("auth_method", "oauth")
    replies = await driver.press_answer("test_result", "works")
    assert "Still to find out" in replies.text
    assert knowledge.questions["conditional_access"].how_to_find_out.text in replies.text


async def test_back_goes_to_the_previous_question_and_forgets_its_answer(
    driver: BotDriver,
) -> None:
    replies = await driver.answer_until("security_defaults")
    replies = await driver.press(replies.button("Back"))
    assert await driver.state() == "ask_mfa"
    assert progress("mfa") in replies.text
    assert "mfa" not in await driver.answers()
    await driver.say("back")
    assert await driver.state() == "ask_license"
    replies = await driver.say("yes")
    assert await driver.state() == "ask_mfa"


async def test_back_skips_the_licence_for_a_shared_mailbox(driver: BotDriver) -> None:
    await driver.answer_until("mfa", {"mailbox_type": "shared"})
    await driver.say("go back")
    assert await driver.state() == "ask_mailbox_type"


async def test_back_on_the_first_question_says_there_is_nothing_earlier(
    driver: BotDriver,
) -> None:
    await driver.say("start")
    replies = await driver.say("back")
    assert "no earlier question" in replies.text
    assert await driver.state() == "ask_mailbox"


async def test_start_over_forgets_the_answers(driver: BotDriver) -> None:
    await driver.answer_until("conditional_access")
    replies = await driver.say("start over")
    assert "start over" in replies.text.lower()
    assert await driver.state() == "ask_mailbox"
    assert await driver.answers() == {}
    replies = await driver.press({"msa": "start_over"})
    assert await driver.state() == "ask_mailbox"


async def test_help_lists_the_commands_and_keeps_the_place(driver: BotDriver) -> None:
    await driver.answer_until("mfa")
    replies = await driver.say("help")
    for command in ("start over", "back", "talk to a person", "I don't know"):
        assert command in replies.text
    assert progress("mfa") in replies.text  # and the current question again
    assert await driver.state() == "ask_mfa"


async def test_talk_to_a_person_is_acknowledged_recorded_and_resumable(
    driver: BotDriver,
) -> None:
    await driver.answer_until("mfa")
    replies = await driver.say("can I talk to a person?")
    assert "CLOUDEX support" in replies.text
    snapshot = await driver.snapshot()
    assert snapshot["state"] == "handoff_requested"
    assert snapshot["facts"]["person_requested"] is True
    audited = await driver.store.audit.recent(kind="person_requested")
    assert [event.conversation_id for event in audited] == [driver.conversation_id]
    # The answers so far are kept, and "continue" picks up at the same question.
    replies = await driver.press(replies.button("Continue with the bot"))
    assert await driver.state() == "ask_mfa"
    assert (await driver.answers())["license"] == "yes"


@pytest.mark.parametrize("nonsense", ["purple", "what?", "🙂", "asdf qwer"])
async def test_unknown_input_re_asks_with_a_hint(
    driver: BotDriver, knowledge: Knowledge, nonsense: str
) -> None:
    await driver.answer_until("org_smtp_auth")
    replies = await driver.say(nonsense)
    assert "didn't catch that" in replies.text
    assert knowledge.questions["org_smtp_auth"].help in replies.text
    assert progress("org_smtp_auth") in replies.text
    assert await driver.state() == "ask_org_smtp_auth"


async def test_an_invalid_address_is_re_asked(driver: BotDriver) -> None:
    await driver.say("start")
    replies = await driver.press(
        {"msa": "answer", "question": "mailbox", "mailbox": "not-an-address"})
    assert "full address" in replies.text
    assert await driver.state() == "ask_mailbox"


@pytest.mark.parametrize("kind", ["group", "room", "equipment"])
async def test_unsupported_mailbox_types_go_straight_to_the_summary(
    driver: BotDriver, knowledge: Knowledge, kind: str
) -> None:
    await driver.answer_until("mailbox_type")
    replies = await driver.press_answer("mailbox_type", kind)
    assert await driver.state() == "summary"
    assert knowledge.cause("unsupported_mailbox_type").title in replies.text
    assert "Must fix" in replies.text
    assert "licensed user mailbox" in replies.text
    assert set(await driver.answers()) == {"mailbox", "mailbox_type"}


async def test_a_stale_button_from_an_earlier_card_is_answered_not_ignored(
    driver: BotDriver,
) -> None:
    first = await driver.answer_until("license")
    old_yes = first.button("Yes")
    await driver.press(old_yes)
    assert await driver.state() == "ask_mfa"
    replies = await driver.press(old_yes)  # the licence card's "Yes" again
    assert "Noted" in replies.text
    assert await driver.state() == "ask_mfa"
    replies = await driver.press({"msa": "no-such-verb"})
    assert "earlier question" in replies.text
    assert progress("mfa") in replies.text


async def test_over_long_text_is_cut_and_still_answered(driver: BotDriver) -> None:
    await driver.answer_until("license")
    replies = await driver.say("yes " + "x" * 20_000)
    assert "first 10,000 characters" in replies.text
    assert await driver.state() == "ask_mfa"


async def test_resolved_conversation_can_start_again(driver: BotDriver) -> None:
    replies = await driver.answer_until("test_result")
    replies = await driver.press_answer("test_result", "works")
    replies = await driver.press(replies.button("It works now"))
    assert await driver.state() == "resolved"
    assert "glad it works" in replies.text
    replies = await driver.press(replies.button("Check another mailbox"))
    assert await driver.state() == "ask_mailbox"


@pytest.mark.parametrize(("typed", "fact", "value"), [
    ("we use oauth", "auth_method", "oauth"),
    ("app password", "auth_method", "app_password"),
    ("no licence", "license", "no"),
])
async def test_chat_phrases_that_brush_an_error_keyword_are_facts_not_diagnoses(
    driver: BotDriver, typed: str, fact: str, value: str
) -> None:
    await driver.answer_until("conditional_access")
    replies = await driver.say(typed)
    assert "Diagnosis" not in replies.text
    assert "Noted" in replies.text
    assert (await driver.answers())[fact] == value
    assert await driver.state() == "ask_conditional_access"


async def test_skip_moves_on_and_the_summary_lists_what_to_find_out(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.answer_until("license")
    replies = await driver.say("skip")
    assert "Skipped" in replies.text
    assert (await driver.answers())["license"] == "unsure"
    assert await driver.state() == "ask_mfa"
    await driver.answer_until("test_result")
    summary = await driver.press_answer("test_result", "works")
    assert knowledge.questions["license"].how_to_find_out.text in summary.text


async def test_the_address_cannot_be_skipped(driver: BotDriver, knowledge: Knowledge) -> None:
    await driver.say("start")
    replies = await driver.say("skip")
    assert knowledge.questions["mailbox"].how_to_find_out.text in replies.text
    assert await driver.state() == "ask_mailbox"


@pytest.mark.parametrize(("question", "typed", "expected", "stays"), [
    ("license", "hmm, no MFA", {"mfa": "no"}, True),
    ("org_smtp_auth", "the box is ticked, no MFA", {"org_smtp_auth": "disabled", "mfa": "no"},
     False),
    ("security_defaults", "no, but we do have MFA", {"security_defaults": "no", "mfa": "yes"},
     False),
])
async def test_a_yes_or_no_about_another_topic_does_not_answer_this_question(
    driver: BotDriver, question: str, typed: str, expected: dict[str, str], stays: bool
) -> None:
    await driver.answer_until(question, {"mfa": "unsure"} if question != "license" else None)
    await driver.say(typed)
    answers = await driver.answers()
    assert {k: answers.get(k) for k in expected} == expected
    assert (await driver.state() == f"ask_{question}") is stays
