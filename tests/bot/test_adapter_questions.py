"""Through TestAdapter: a question the customer types is answered, not taken for a fact.

"When is basic auth turned off?" used to be noted as "How CLOUDEX TMS signs
in: Normal password". A question now gets the knowledge causes that answer it,
each with its fix one press away, and the conversation stays where it was.
"Thanks" gets a welcome instead of "Sorry, I didn't catch that".
"""

from __future__ import annotations

from typing import Any

import pytest

from dialogs import messages
from dialogs.knowledge import Knowledge
from dialogs.understanding import Understanding
from tests.bot.conftest import BotDriver
from tests.support.cards import card_errors
from tests.support.harness import show_fix_data

_READER: list[Understanding] = []


def reader() -> Understanding:
    """One reader for these tests (its model is loaded once)."""
    if not _READER:
        _READER.append(Understanding())
    return _READER[0]


TENANT_ERROR = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
                "for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.")


def topic_buttons(replies: Any) -> list[dict[str, Any]]:
    """The data of the "Show the fix" buttons of the turn's question-answer card."""
    return [data for card in replies.cards for data in show_fix_data(card)]


@pytest.mark.parametrize(("text", "asks"), [
    ("when is basic auth turned off?", True),
    ("Can I use an app password", True),  # no question mark: still a question
    ("what's oauth", True),
    ("do we need a licence for a shared mailbox", True),
    ("what?", False),  # not understood, rather than a question to look up
    ("Why?", False),
    ("yes", False),
    ("we use an app password", False),
    ("it's a shared mailbox", False),
    ("doing fine, mailbox is tms@contoso.com", False),
])
def test_questions_are_told_apart_from_answers(text: str, asks: bool) -> None:
    assert (reader().read(text, "auth_method").intent == "question") is asks


def test_a_doubtful_answer_is_asked_about_not_stored() -> None:
    # "App password?" is an answer with a doubt: read, then confirmed before it is stored.
    reading = reader().read("app password?", "auth_method")
    assert reading.stored == () and reading.to_confirm is not None
    assert reading.to_confirm.value == "app_password"


async def test_a_question_about_the_deadline_is_answered_and_not_noted_as_a_fact(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.install()
    await driver.say(TENANT_ERROR)
    assert await driver.state() == "proposing_fix"
    replies = await driver.say("when is basic auth turned off?")
    assert "Noted" not in replies.text
    assert "auth_method" not in await driver.answers()
    # One short answer from the knowledge, with its steps and its fix one press away.
    answer = knowledge.answers["basic_auth_change"]
    assert answer.for_kind("when") in replies.text
    assert messages.SHOW_THE_STEPS in replies.text
    assert [data["cause"] for data in topic_buttons(replies)] == ["basic_auth_disabled"]
    assert await driver.state() == "proposing_fix"  # the fix above still waits for an answer
    (card,) = replies.cards
    assert card_errors(card) == []


async def test_a_question_while_a_setup_question_is_open_is_answered_then_it_is_asked_again(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.answer_until("auth_method")
    replies = await driver.say("Can I use an app password?")
    # Asking about app passwords does not choose them.
    assert "auth_method" not in await driver.answers()
    assert await driver.state() == "ask_auth_method"
    assert topic_buttons(replies), "the question got no answer card"
    assert knowledge.questions["auth_method"].prompt in replies.text  # asked again, last
    # Typing the answer afterwards still answers it.
    await driver.say("app password")
    assert (await driver.answers())["auth_method"] == "app_password"


async def test_asking_for_the_powershell_of_the_fix_on_screen_gets_just_that(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.answer_until("mailbox_type")  # the mailbox is known: tms@contoso.com
    await driver.say("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                     "disabled for the Mailbox.")
    assert await driver.state() == "proposing_fix"
    replies = await driver.say("what is the powershell for that?")
    assert knowledge.cause("smtp_auth_disabled_mailbox").title in replies.text
    assert ("Set-CASMailbox -Identity 'tms@contoso.com' -SmtpClientAuthenticationDisabled $false"
            in replies.text)
    assert "Get-CASMailbox -Identity 'tms@contoso.com'" in replies.text
    assert await driver.state() == "proposing_fix"
    (card,) = replies.cards
    assert card_errors(card) == []


async def test_show_the_fix_opens_that_cause_and_keeps_the_place(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.answer_until("mfa")
    replies = await driver.say("does MFA block SMTP?")
    data = next(d for d in topic_buttons(replies) if d["cause"] == "mfa_required")
    shown = await driver.press(data)
    assert knowledge.cause("mfa_required").title in shown.text
    assert "Why this happens" in shown.text and "Other ways" in shown.text
    assert await driver.state() == "ask_mfa"


async def test_a_question_the_knowledge_cannot_answer_gets_a_plain_reply_and_a_way_on(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.answer_until("license")
    replies = await driver.say("how are you?")
    assert messages.QUESTION_NOT_ANSWERED in replies.text
    assert topic_buttons(replies) == []
    assert knowledge.questions["license"].prompt in replies.text
    assert await driver.state() == "ask_license"
    assert "license" not in await driver.answers()


@pytest.mark.parametrize("thanks", ["thanks", "Thank you!", "ok thanks"])
async def test_thanks_gets_a_welcome_and_the_way_on_not_an_apology(
    driver: BotDriver, knowledge: Knowledge, thanks: str
) -> None:
    await driver.answer_until("mfa")
    replies = await driver.say(thanks)
    assert messages.YOU_ARE_WELCOME in replies.text
    assert messages.NOT_UNDERSTOOD not in replies.text
    assert knowledge.questions["mfa"].prompt in replies.text
    assert await driver.state() == "ask_mfa" and "mfa" not in await driver.answers()


@pytest.mark.parametrize(("said", "state"), [
    ("thanks, it works now!", "resolved"),
    ("great, that fixed it", "resolved"),
    ("nope, same error", "proposing_fix"),  # the next likely cause is proposed
    ("tried that but it still doesn't work", "proposing_fix"),
])
async def test_a_fix_outcome_said_in_a_sentence_counts_like_its_button(
    driver: BotDriver, said: str, state: str
) -> None:
    await driver.install()
    await driver.say(TENANT_ERROR)
    first = (await driver.snapshot())["facts"]["diagnosis"]["index"]
    replies = await driver.say(said)
    assert messages.NOT_UNDERSTOOD not in replies.text
    assert await driver.state() == state
    if state == "proposing_fix":  # failed: on to the next candidate
        assert (await driver.snapshot())["facts"]["diagnosis"]["index"] == first + 1


async def test_a_negated_success_is_not_taken_for_one(driver: BotDriver) -> None:
    await driver.install()
    await driver.say(TENANT_ERROR)
    await driver.say("it's not resolved yet")
    assert await driver.state() == "proposing_fix"


async def test_a_bare_code_with_several_causes_lists_them_instead_of_unknown(
    driver: BotDriver,
) -> None:
    await driver.install()
    replies = await driver.say("535 5.7.139")
    assert messages.ERROR_WITHOUT_ITS_WORDS in replies.text
    assert messages.UNKNOWN_ERROR not in replies.text
    causes = [data["cause"] for data in topic_buttons(replies)]
    assert {"smtp_auth_disabled_tenant", "smtp_auth_disabled_mailbox"} <= set(causes)
    assert await driver.state() == "welcome"


async def test_an_error_nothing_matches_is_still_unknown(driver: BotDriver) -> None:
    await driver.install()
    replies = await driver.say("error 9.9.9 asdf qwer")
    assert messages.UNKNOWN_ERROR in replies.text and topic_buttons(replies) == []


async def test_a_question_matched_only_through_a_typo_fix_needs_a_clear_match(
    driver: BotDriver,
) -> None:
    await driver.install()
    # "it cost" reads as "host" after typo correction: no wrong-server answer for that.
    replies = await driver.say("how much does it cost?")
    assert topic_buttons(replies) == []
    assert messages.QUESTION_NOT_ANSWERED in replies.text
    # A real typo still finds its topic.
    replies = await driver.say("secuirty defualts?")
    assert [d["cause"] for d in topic_buttons(replies)][:1] == ["security_defaults"]


async def test_a_pasted_error_phrased_as_a_question_is_still_diagnosed(driver: BotDriver) -> None:
    await driver.install()
    await driver.say(f"why do I get this? {TENANT_ERROR}")
    assert await driver.state() == "proposing_fix"


async def test_a_typed_address_still_answers_the_mailbox_question_when_asked_as_one(
    driver: BotDriver,
) -> None:
    await driver.answer_until("mailbox")
    await driver.say("can we use tms@contoso.com?")
    assert (await driver.answers())["mailbox"] == "tms@contoso.com"


@pytest.mark.parametrize("asked", ["how long until it works?", "does it work now?",
                                   "when will this take effect", "is it fixed?"])
async def test_asking_when_the_fix_works_gets_its_waiting_time_not_an_outcome(
    driver: BotDriver, knowledge: Knowledge, asked: str
) -> None:
    await driver.install()
    await driver.say(TENANT_ERROR)
    first = (await driver.snapshot())["facts"]["diagnosis"]["index"]
    replies = await driver.say(asked)
    # "…until it works?" contains "it works": it used to close the conversation as solved.
    assert await driver.state() == "proposing_fix"
    assert (await driver.snapshot())["facts"]["diagnosis"]["index"] == first
    cause = knowledge.cause("smtp_auth_disabled_tenant")
    assert cause.wait in replies.text and cause.title in replies.text


@pytest.mark.parametrize(("said", "outcome"), [
    ("how long until it works?", "question"),
    ("does it work now?", "question"),
    ("still failing?", "fix_failed"),  # a failure, however it is punctuated
    ("it works now", "fix_worked"),
])
def test_a_question_is_no_outcome_but_a_failure_is_one_with_a_question_mark(
    said: str, outcome: str
) -> None:
    assert reader().read(said, "fix").intent == outcome


@pytest.mark.parametrize("asked", ["does this work with GoDaddy 365?",
                                   "can we use office 365 from godaddy?",
                                   "does it work with gmail?"])
async def test_a_question_matching_only_on_words_every_topic_shares_gets_no_topics(
    driver: BotDriver, asked: str
) -> None:
    await driver.answer_until("mfa")
    replies = await driver.say(asked)
    # These used to list shared mailboxes, MFA and auth methods: "work", "365", "use".
    assert topic_buttons(replies) == []
    assert messages.QUESTION_NOT_ANSWERED in replies.text
    assert await driver.state() == "ask_mfa"


async def test_generic_words_do_not_hide_the_topic_of_a_question(driver: BotDriver) -> None:
    await driver.answer_until("mfa")
    replies = await driver.say("can we send from a shared mailbox with Microsoft 365?")
    assert [d["cause"] for d in topic_buttons(replies)][:1] == ["unsupported_mailbox_type"]


async def test_a_fact_told_beside_a_diagnosis_that_brings_up_a_cause_says_so(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.install()
    await driver.say("530 5.7.57 Client not authenticated to send mail")
    assert await driver.state() == "proposing_fix"
    replies = await driver.say("we use a shared mailbox dispatch@contoso.com")
    assert "Noted" in replies.text and messages.FACTS_CHANGE_THE_PICTURE in replies.text
    # A shared mailbox cannot sign in to SMTP AUTH: that cause, with its fix a press away.
    assert [d["cause"] for d in topic_buttons(replies)] == ["unsupported_mailbox_type"]
    assert await driver.state() == "proposing_fix"
    # Telling it again brings up nothing new.
    again = await driver.say("yes it is a shared mailbox")
    assert messages.FACTS_CHANGE_THE_PICTURE not in again.text


async def test_a_negated_answer_is_not_taken_for_its_option(driver: BotDriver) -> None:
    await driver.answer_until("mfa")
    await driver.say("we are not using MFA")
    assert (await driver.answers())["mfa"] == "no"  # was "yes", on the word "MFA"


async def test_a_negated_fact_volunteered_is_not_noted_as_its_opposite(driver: BotDriver) -> None:
    await driver.install()
    replies = await driver.say("it is not a shared mailbox, and we are not using MFA")
    answers = await driver.answers()
    assert "mailbox_type" not in answers  # was "Shared mailbox"
    assert answers.get("mfa") == "no"
    assert "Shared mailbox" not in replies.text


@pytest.mark.parametrize("told", ["our TMS can't send emails", "emails are not going out",
                                  "mail is not being sent", "it stopped working yesterday"])
async def test_the_trouble_told_without_an_error_asks_for_it_and_starts(
    driver: BotDriver, knowledge: Knowledge, told: str
) -> None:
    await driver.install()
    replies = await driver.say(told)
    assert messages.NOT_UNDERSTOOD not in replies.text  # was "Sorry, I didn't catch that."
    assert messages.PROBLEM_DESCRIBED in replies.text
    assert await driver.state() == "ask_mailbox"
    assert knowledge.questions["mailbox"].prompt in replies.text


async def test_the_trouble_told_at_a_question_asks_for_the_error_and_asks_again(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.answer_until("license")
    replies = await driver.say("TMS doesn't send mails anymore")
    assert messages.PROBLEM_DESCRIBED in replies.text
    assert knowledge.questions["license"].prompt in replies.text
    assert await driver.state() == "ask_license" and "license" not in await driver.answers()


@pytest.mark.parametrize("greeting", ["hello there", "Good morning, team", "hi all!"])
async def test_a_greeting_with_more_words_starts_like_a_greeting(
    driver: BotDriver, greeting: str
) -> None:
    await driver.install()
    replies = await driver.say(greeting)
    assert messages.NOT_UNDERSTOOD not in replies.text  # was "Sorry, I didn't catch that."
    assert await driver.state() == "ask_mailbox"


async def test_a_word_that_only_begins_like_a_greeting_is_not_one(driver: BotDriver) -> None:
    await driver.install()
    replies = await driver.say("history")
    assert messages.NOT_UNDERSTOOD in replies.text and await driver.state() == "welcome"
