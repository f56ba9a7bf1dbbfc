"""Through TestAdapter: the summary card, the Basic-auth notice, pasted errors and passwords."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialogs.cards import shown_text
from dialogs.knowledge import Knowledge
from tests.bot.conftest import BotDriver, make_driver
from tests.support.cards import card_errors

NOTICE_DATE = "end of December 2026"
TENANT_ERROR = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
                "for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.")


def _changes(card: dict) -> list[dict]:
    """The changes in the summary: the containers with a "Show the fix" button."""
    return [item for item in card["body"] if item.get("type") == "Container"
            and _show_fix(item) is not None]


def _show_fix(item: dict) -> dict | None:
    return next((a["data"] for part in item["items"] if part.get("type") == "ActionSet"
                 for a in part["actions"] if a.get("data", {}).get("msa") == "show_fix"), None)


def _container_titles(card: dict) -> list[str]:
    """The first line of each change in the summary ("1. <title>")."""
    return [item["items"][0]["text"] for item in _changes(card)]


async def test_summary_lists_the_changes_in_fix_order_with_click_paths_powershell_and_waits(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    answers = {"license": "unsure", "mfa": "yes", "security_defaults": "yes",
               "org_smtp_auth": "disabled", "mailbox_smtp_auth": "unsure",
               "conditional_access": "yes", "auth_method": "basic", "test_result": "auth_failed"}
    await driver.answer_until("test_result", answers)
    replies = await driver.press_answer("test_result", "auth_failed")
    assert await driver.state() == "summary"
    (card,) = replies.cards
    titles = [t.split(". ", 1)[1] for t in _container_titles(card)]
    expected = [knowledge.cause(c).title for c in (
        "no_exchange_license", "smtp_auth_disabled_tenant", "smtp_auth_disabled_mailbox",
        "security_defaults", "conditional_access", "mfa_required", "basic_auth_disabled")]
    # The admin's order: licence, the organisation switch, the mailbox switch, security
    # defaults, Conditional Access, then MFA and Basic authentication.
    assert [t for t in titles if t in expected] == expected
    assert _container_titles(card)[0].startswith("1. ")
    for item in _changes(card):
        cause = knowledge.cause(_show_fix(item)["cause"])  # type: ignore[index]
        shown = json.dumps(item, ensure_ascii=False)
        assert cause.wait in shown
        assert "Must fix" in shown or "Recommended" in shown
        # Its recommended fix (behind "Details"): the click path with the address, the PowerShell.
        first = cause.fix.first
        if first.click_path is not None:
            path = cause.fix.click_paths[first.click_path]
            trail = " › ".join(path.steps).replace("{mailbox}", "tms@contoso.com")
            assert shown_text(trail) in shown
        if first.powershell:
            assert "CodeBlock" in shown
    # The mailbox is single-quoted into the PowerShell lines.
    assert "Set-CASMailbox -Identity 'tms@contoso.com' -SmtpClientAuthenticationDisabled $false" \
        in replies.text
    assert NOTICE_DATE in replies.text
    assert "Text for your IT provider" in {a["title"] for a in card["actions"]}


async def test_full_steps_button_shows_the_fix_card(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.answer_until("test_result", {"mailbox_smtp_auth": "disabled"})
    replies = await driver.press_answer("test_result", "auth_failed")
    (card,) = replies.cards
    full_steps = next(_show_fix(i) for i in _changes(card))
    assert full_steps == {"msa": "show_fix", "cause": "smtp_auth_disabled_mailbox"}
    fix = await driver.press(full_steps)
    cause = knowledge.cause("smtp_auth_disabled_mailbox")
    for step in cause.fix.steps:
        assert shown_text(step.replace("{identity}", "'tms@contoso.com'")
                          .replace("{mailbox}", "tms@contoso.com")) in fix.text
    assert await driver.state() == "summary"


@pytest.mark.parametrize(("method", "title"), [("basic", "Normal password"),
                                               ("app_password", "App password")])
async def test_choosing_a_password_sign_in_brings_the_december_2026_notice(
    driver: BotDriver, method: str, title: str
) -> None:
    question = await driver.answer_until("auth_method")
    assert NOTICE_DATE in question.text  # told before choosing, too
    replies = await driver.press(question.button(title))
    assert NOTICE_DATE in replies.text
    assert "OAuth" in replies.text
    summary = await driver.press_answer("test_result", "works")
    assert NOTICE_DATE in summary.text
    assert "Basic authentication (password) for SMTP is turned off" in summary.text


async def test_oauth_customers_are_not_warned_about_basic_auth(driver: BotDriver) -> None:
    question = await driver.answer_until("auth_method")
    replies = await driver.press(question.button("Microsoft sign-in (OAuth)"))
    assert NOTICE_DATE not in replies.text
    summary = await driver.press_answer("test_result", "works")
    assert NOTICE_DATE not in summary.text


async def test_pasted_error_mid_flow_then_still_failing_then_back_into_the_questions(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    await driver.answer_until("mfa")
    replies = await driver.say(TENANT_ERROR)
    assert await driver.state() == "proposing_fix"
    first = knowledge.cause("smtp_auth_disabled_tenant")
    assert first.title in replies.text
    assert "SmtpClientAuthentication is disabled for the Tenant" in replies.text  # the evidence
    assert set(replies.buttons) >= {"Yes, it works", "No, still failing"}
    candidates = (await driver.snapshot())["facts"]["diagnosis"]["candidates"]
    assert candidates[0] == "smtp_auth_disabled_tenant" and len(candidates) >= 2
    replies = await driver.press(replies.button("No, still failing"))
    assert knowledge.cause(candidates[1]).title in replies.text
    assert "next most likely cause" in replies.text
    for _ in candidates[2:]:
        replies = await driver.say("still failing")
    replies = await driver.say("still failing")
    # Out of causes: back to the guided questions, exactly where the customer left them.
    assert "step by step" in replies.text
    assert await driver.state() == "ask_mfa"
    assert (await driver.answers())["license"] == "yes"
    audited = {e.kind for e in await driver.store.audit.recent()}
    assert {"diagnosed", "fix_failed"} <= audited


async def test_back_from_a_diagnosis_returns_to_the_question(driver: BotDriver) -> None:
    await driver.answer_until("security_defaults")
    replies = await driver.say(TENANT_ERROR)
    replies = await driver.press(replies.button("Back"))
    assert "Back to the setup questions" in replies.text
    assert await driver.state() == "ask_security_defaults"


async def test_a_diagnosis_that_worked_resolves_the_conversation(driver: BotDriver) -> None:
    replies = await driver.say(TENANT_ERROR)
    replies = await driver.press(replies.button("Yes, it works"))
    assert await driver.state() == "resolved"
    resolved = await driver.store.audit.recent(kind="resolved")
    assert resolved and resolved[0].detail == {"cause": "smtp_auth_disabled_tenant"}


@pytest.mark.parametrize(("answer", "cause"), [
    ("password", "wrong_credentials"),
    ("we use an app password", "wrong_credentials"),
    ("OAuth", "oauth_token"),
])
async def test_ambiguous_error_asks_one_question_then_names_the_right_cause(
    driver: BotDriver, knowledge: Knowledge, answer: str, cause: str
) -> None:
    await driver.answer_until("license")
    replies = await driver.say("535 5.7.3 Authentication unsuccessful")
    assert await driver.state() == "clarifying_error"
    assert "narrow it down" in replies.text
    replies = await driver.say(answer)
    assert await driver.state() == "proposing_fix"
    assert knowledge.cause(cause).title in replies.text
    assert (await driver.snapshot())["facts"]["diagnosis"]["candidates"][0] == cause


async def test_ambiguous_error_answered_by_button(driver: BotDriver, knowledge: Knowledge) -> None:
    replies = await driver.say("535 5.7.3 Authentication unsuccessful")
    replies = await driver.press(replies.button("OAuth (Microsoft sign-in)"))
    assert knowledge.cause("oauth_token").title in replies.text


async def test_not_knowing_the_follow_up_answer_still_gets_a_diagnosis(
    driver: BotDriver, knowledge: Knowledge
) -> None:
    replies = await driver.say("535 5.7.3 Authentication unsuccessful")
    likeliest = (await driver.snapshot())["facts"]["diagnosis"]["candidates"][0]
    replies = await driver.press(replies.button("I don't know"))
    assert await driver.state() == "proposing_fix"
    assert knowledge.cause(likeliest).title in replies.text
    assert "No, still failing" in replies.buttons


async def test_an_unknown_error_is_said_so_and_the_question_repeated(driver: BotDriver) -> None:
    await driver.answer_until("mfa")
    replies = await driver.say("Error: the frobnicator failed to connect to the flux capacitor")
    assert "couldn't match" in replies.text
    assert await driver.state() == "ask_mfa"


async def test_a_password_is_refused_and_never_stored(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chat, store = await make_driver(engine, f"sqlite:///{tmp_path}/state.db")
    try:
        await chat.answer_until("auth_method")
        replies = await chat.say("my password is Hunter2!!")
        assert "password" in replies.text and "did not store it" in replies.text
        assert await chat.state() == "ask_auth_method"
        replies = await chat.say("The SMTP password: Hunter2!! and it fails with 535 5.7.139")
        assert "did not store it" in replies.text
        stored = json.dumps(await chat.store.state.read([chat.key]))
        audit = json.dumps([e.detail for e in await chat.store.audit.recent()])
        assert "Hunter2" not in stored and "Hunter2" not in audit
        assert "password_refused" in {e.kind for e in await chat.store.audit.recent()}
    finally:
        await store.close()
    # Nothing on disk either: the database and its WAL never saw the text.
    files = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert any(b"tms@contoso.com" in data for data in files.values())  # the scan sees the state
    for name, data in files.items():
        assert b"Hunter2" not in data, name


async def test_every_card_produced_in_these_conversations_is_valid(driver: BotDriver) -> None:
    await driver.install()
    await driver.answer_until("test_result", {"auth_method": "app_password", "mfa": "yes"})
    await driver.press_answer("test_result", "auth_failed")
    await driver.say(TENANT_ERROR)
    await driver.say("535 5.7.3 Authentication unsuccessful")
    await driver.say("help")
    await driver.say("talk to a person")
    assert len(driver.produced_cards) >= 15
    for card in driver.produced_cards:
        assert card_errors(card) == []


async def test_unreadable_text_after_a_fix_gets_a_hint_not_the_whole_card_again(
    driver: BotDriver,
) -> None:
    await driver.say(TENANT_ERROR)
    replies = await driver.say("hmm, ok")
    assert replies.cards == []
    assert "it works" in replies.text and "still failing" in replies.text
    assert await driver.state() == "proposing_fix"


async def test_the_replies_go_out_even_when_after_turn_work_fails(engine) -> None:  # type: ignore[no-untyped-def]
    """After-turn work runs before the replies are sent (its notices join them), not instead."""
    from bot.extensions import BotExtension
    from bot.handler import SupportBot

    class Failing(BotExtension):
        async def after_turn(self, turn_context, turn, result):  # type: ignore[no-untyped-def]
            raise RuntimeError("the audit is down")

    chat, store = await make_driver(engine)
    try:
        chat.adapter.logic = SupportBot(engine, chat.conversations, [Failing()]).on_turn
        with pytest.raises(RuntimeError, match="the audit is down"):
            await chat.adapter.send("start")
        sent = [a for a in chat.adapter.activity_buffer if a.type == "message"]
        assert sent and sent[0].attachments, "the first question was not sent"
        assert await chat.state() == "ask_mailbox"
    finally:
        await store.close()
