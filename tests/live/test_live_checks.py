"""Checked conversations over HTTP: the real app, a fake tenant, MSAL against a local Entra.

Each test drives a Teams conversation through ``/api/messages`` (replies and
card edits land on the local Bot Connector), signs in through Teams SSO or
the sign-in card, and reads the results card the bot posts proactively.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from checks import EXCHANGE_SCOPE, GRAPH_SCOPE
from dialogs.knowledge import default_knowledge
from tests.checks.fakes import CAUSE_CHECKS, CAUSE_SCENARIOS, TenantScenario
from tests.live.conftest import CONNECTION, LiveBotFactory, as_mailbox, is_final, results_cards
from tests.support.cards import card_errors, cards_in
from tests.support.harness import buttons, texts

OTHER_TENANT = "0b9a8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
TITLES = {
    "license": "Exchange Online licence",
    "mailbox_type": "Mailbox type",
    "account_enabled": "Account can sign in",
    "security_defaults": "Security defaults",
    "conditional_access": "Conditional Access policies",
    "smtp_sign_ins": "Recent Authenticated SMTP sign-ins",
    "mfa_registration": "MFA registration",
    "smtp_auth_switches": "SMTP AUTH switches",
    "smtp_probe": "Live SMTP test",
}


def card_text(card: dict[str, Any]) -> str:
    """Every visible text of one card."""
    return texts([{"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}])


def fixes_section(card: dict[str, Any]) -> str:
    """The text from "What to fix" on (empty when the card names no fix)."""
    text = card_text(card)
    return text.split("What to fix, in this order", 1)[1] if "What to fix" in text else ""


def row(card: dict[str, Any], title: str) -> str:
    """The status line and evidence of one check on the results card."""
    lines = card_text(card).splitlines()
    for i, line in enumerate(lines):
        if title in line and line[:1] in "✓✗⚠?–…":
            return "\n".join(lines[i:i + 2])
    raise AssertionError(f"no row {title!r} in\n{card_text(card)}")


# ----------------------------------------------------------------------------- causes
@pytest.mark.parametrize("cause_id", sorted(CAUSE_SCENARIOS))
async def test_each_cause_scenario_names_its_fix(
    live_bot: LiveBotFactory, cause_id: str
) -> None:
    knowledge = default_knowledge()
    bot = await live_bot(as_mailbox(TenantScenario.for_cause(cause_id)))
    card = await bot.checked_conversation()
    fixes = fixes_section(card)
    cause = knowledge.cause(cause_id)
    assert f". {cause.title} (" in fixes, card_text(card)
    # Fixes come in the knowledge base's order, each once.
    named = [c for c in knowledge.cause_ids if f". {knowledge.cause(c).title} (" in fixes]
    positions = [fixes.index(f". {knowledge.cause(c).title} (") for c in named]
    assert positions == sorted(positions)
    # The checks that speak to the cause show a failure (✗) or warning (⚠).
    for check_id in CAUSE_CHECKS[cause_id]:
        assert row(card, TITLES[check_id])[:1] in "✗⚠", row(card, TITLES[check_id])


async def test_healthy_tenant_passes_everything_and_offers_a_rerun(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.healthy()))
    card = await bot.checked_conversation()
    text = card_text(card)
    assert "What to fix" not in text and "✗" not in text and "?" not in text.split("\n")[0]
    assert text.count("✓") == 9
    assert "Re-run checks" in buttons([{"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}])
    assert "AUTH XOAUTH2 as tms@contoso.example accepted" in text
    assert bot.identity.grants()[0] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert not bot.tenant.smtp.mail_from_seen


async def test_welcome_card_offers_the_check_and_the_consent_card_explains_permissions(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(TenantScenario.healthy())
    welcome = await bot.chat.install()
    assert buttons(welcome)["Check my tenant"] == {"msa": "run_checks"}
    consent = await bot.chat.say("check my tenant")
    text = texts(consent)
    for permission in ("User.Read", "User.Read.All", "MailboxSettings.Read", "Policy.Read.All",
                       "AuditLog.Read.All", "Exchange.Manage", "SMTP.Send"):
        assert permission in text
    assert (f"{bot.settings.authority}/{bot.chat.tenant_id}/adminconsent?client_id="
            f"{bot.identity.client_id}") in text
    assert "I'll ask you about the same settings one question at a time" in text
    (card,) = [c for r in consent for c in cards_in(r)]
    assert card_errors(card) == []
    # Declining goes on with the guided questions.
    declined = await bot.chat.press(buttons(consent)["No thanks, ask me the questions"])
    assert "Question 1 of" in texts(declined)
    assert bot.tenant.request_count == 0 and bot.identity.token_requests == []


async def test_admin_signed_in_checks_another_mailbox_and_skips_the_smtp_login(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(TenantScenario.healthy())
    card = await bot.checked_conversation(mailbox="tms@contoso.example")
    text = card_text(card)
    assert "Mailbox: **tms@contoso.example** · signed in as admin@contoso.example" in text
    assert "AUTH XOAUTH2" not in " ".join(bot.tenant.smtp.commands)
    assert "What to fix" not in text


# ------------------------------------------------------------------- timing and progress
async def test_checks_run_concurrently_and_the_card_is_updated_as_results_arrive(
    live_bot: LiveBotFactory,
) -> None:
    delay = 0.6
    endpoints = ("licenseDetails", "mailboxSettings", "user", "securityDefaults",
                 "conditionalAccess", "signIns", "registrationDetails", "exchange", "smtp")
    scenario = as_mailbox(TenantScenario.healthy()).with_(delays=dict.fromkeys(endpoints, delay))
    bot = await live_bot(scenario)
    await bot.ask_for_checks()
    await bot.consent()
    started = time.perf_counter()
    status, replies, _ = await bot.sso()
    answered = time.perf_counter() - started
    assert status == 200
    assert [r["type"] for r in replies][:2] == ["typing", "message"]
    assert "Checking your tenant now" in texts(replies)
    card = await bot.final_card()
    total = time.perf_counter() - started
    # Nine checks of 0.6 s each would take 5.4 s one after another.
    assert total < 3 * delay + 1.0, total
    assert answered < delay, answered  # the SSO turn did not wait for the checks
    cards = results_cards(bot.posted())
    assert len(cards) >= 2 and not is_final(cards[0])
    edits = [r for r in bot.connector.received if r.method == "PUT"]
    assert edits, "the results card was edited in place"
    assert card_errors(card) == []


async def test_a_slow_check_is_marked_timed_out_and_the_first_result_comes_quickly(
    live_bot: LiveBotFactory,
) -> None:
    scenario = as_mailbox(TenantScenario.healthy()).with_(delays={"signIns": 5.0})
    bot = await live_bot(scenario, check_timeout_seconds=1.0)
    await bot.ask_for_checks()
    await bot.consent()
    started = time.perf_counter()
    await bot.sso()
    await bot.wait_for(lambda p: any("✓" in card_text(c) for c in results_cards(p)), timeout=2.0)
    first = time.perf_counter() - started
    card = await bot.final_card()
    total = time.perf_counter() - started
    assert first < 2.0 and total < 12.0, (first, total)
    assert "Timed out after 1 s" in row(card, "Recent Authenticated SMTP sign-ins")
    assert row(card, "Recent Authenticated SMTP sign-ins").startswith("?")


# ------------------------------------------------------------------------- sign-in paths
async def test_failed_sso_exchange_answers_412_then_the_sign_in_card_works(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.healthy()))
    await bot.ask_for_checks()
    replies = await bot.consent()
    (oauth,) = [a["content"] for r in replies for a in r.get("attachments") or []
                if a["contentType"] == "application/vnd.microsoft.card.oauth"]
    assert oauth["connectionName"] == CONNECTION
    assert oauth["tokenExchangeResource"]["uri"] == f"api://botid-{bot.identity.client_id}"
    assert oauth["buttons"][0]["type"] == "signin"
    # A token the authority does not accept (wrong signature) -> 412, nothing posted.
    forged = bot.identity.sso_token() + "x"
    status, posted, body = await bot.sso(forged)
    assert status == 412 and posted == []
    assert body["failureDetail"].startswith("The bot is unable to exchange token")
    assert body["connectionName"] == CONNECTION
    # Teams falls back to the card; the user signs in; Teams sends the magic code.
    code = bot.identity.complete_card_sign_in(bot.chat.user_id, CONNECTION)
    status, replies, _ = await bot.chat.post(bot.invoke("signin/verifyState", {"state": code}))
    assert status == 200
    assert "Checking your tenant now" in texts(replies)
    card = await bot.final_card()
    assert "What to fix" not in card_text(card)
    calls = [name for name, _ in bot.identity.service_requests]
    assert calls[:2] == ["GetToken", "GetSignInResource"] and calls[-1] == "GetToken"
    assert bot.identity.service_requests[-1][1]["code"] == code


async def test_sso_without_graph_consent_answers_412(live_bot: LiveBotFactory) -> None:
    bot = await live_bot(TenantScenario.healthy(), refuse_scopes=(GRAPH_SCOPE,))
    await bot.ask_for_checks()
    await bot.consent()
    status, posted, _ = await bot.sso()
    assert status == 412 and posted == []
    assert bot.tenant.request_count == 0


async def test_an_sso_token_for_another_app_answers_412_without_asking_entra(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(TenantScenario.healthy())
    await bot.ask_for_checks()
    await bot.consent()
    token = bot.identity.sso_token(audience="api://botid-00000000-1111-2222-3333-444444444444")
    status, posted, _ = await bot.sso(token)
    assert status == 412 and posted == []
    assert bot.identity.token_requests == []


async def test_a_wrong_magic_code_says_so(live_bot: LiveBotFactory) -> None:
    bot = await live_bot(TenantScenario.healthy())
    await bot.ask_for_checks()
    await bot.consent()
    status, replies, _ = await bot.chat.post(bot.invoke("signin/verifyState", {"state": "000000"}))
    assert status == 200
    assert "The sign-in didn't work (the sign-in was not completed)" in texts(replies)
    assert bot.tenant.request_count == 0


async def test_duplicate_token_exchanges_run_the_checks_once(live_bot: LiveBotFactory) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.healthy()))
    await bot.ask_for_checks()
    await bot.consent()
    exchange = bot.invoke("signin/tokenExchange", {
        "id": "same-exchange-from-two-clients", "connectionName": CONNECTION,
        "token": bot.identity.sso_token()})
    first = await bot.chat.post(exchange)
    second = await bot.chat.post(dict(exchange, id="another-activity-id"))
    assert first[0] == 200 and second[0] == 200
    assert "Checking your tenant now" in texts(first[1])
    assert "Checking your tenant now" not in texts(second[1])
    await bot.final_card()
    initial_posts = [r for r in bot.connector.received
                     if r.method == "POST" and results_cards([r.body])]
    assert len(initial_posts) == 1


async def test_rerun_needs_no_second_sign_in(live_bot: LiveBotFactory) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.for_cause("security_defaults")))
    card = await bot.checked_conversation()
    grants_after_first = len(bot.identity.token_requests)
    rerun = buttons([{"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}])
    replies = await bot.chat.press(rerun["Re-run checks"])
    assert "Checking your tenant now" in texts(replies)
    assert "What I ask permission for" not in texts(replies)
    await bot.wait_for(lambda p: len([c for c in results_cards(p) if is_final(c)]) == 2)
    # Tokens came from the user's MSAL cache: nothing new was asked of the authority.
    assert len(bot.identity.token_requests) == grants_after_first


# ------------------------------------------------------------------------------ limits
async def test_runs_are_limited_per_user_per_hour_across_instances(
    live_bot: LiveBotFactory, aiohttp_client: Any,
) -> None:
    from app import create_app
    from tests.support.harness import Chat

    bot = await live_bot(as_mailbox(TenantScenario.healthy()), check_runs_per_hour=1)
    await bot.checked_conversation()
    requests_after_run = bot.tenant.request_count
    limited = await bot.chat.say("run checks")
    assert "You've run the live checks 1 times in the last hour" in texts(limited)
    # A second bot instance on the same store refuses the same user too.
    other = Chat(await aiohttp_client(create_app(bot.settings)), bot.connector,
                 tenant_id=bot.chat.tenant_id)
    replies = await other.press({"msa": "run_checks"})
    assert "in the last hour, which is the limit" in texts(replies)
    assert bot.tenant.request_count == requests_after_run


# ---------------------------------------------------------------------- tenant isolation
async def test_signing_in_from_another_organisation_is_refused(live_bot: LiveBotFactory) -> None:
    bot = await live_bot(TenantScenario.healthy())
    bot.chat.tenant_id = OTHER_TENANT  # the chat's tenant is not the one the token is for
    await bot.ask_for_checks()
    await bot.consent()
    status, _, _ = await bot.sso()
    assert status == 200
    posted = await bot.wait_for(lambda p: "I won't run these checks" in texts(p))
    assert "another organisation" in texts(posted)
    assert bot.tenant.graph.requests == [] and bot.tenant.smtp.connections == 0
    assert results_cards(posted) == []


async def test_a_mailbox_outside_the_verified_domains_is_refused(
    live_bot: LiveBotFactory,
) -> None:
    bot = await live_bot(TenantScenario.healthy())
    await bot.ask_for_checks()
    await bot.consent(mailbox="tms@fabrikam.example")
    await bot.sso()
    posted = await bot.wait_for(lambda p: "I won't run these checks" in texts(p))
    assert "tms@fabrikam.example is not in one of this tenant's verified domains" in texts(posted)
    assert {r.endpoint for r in bot.tenant.graph.requests} == {"me", "organization"}
    assert bot.tenant.exchange.requests == [] and bot.tenant.smtp.connections == 0


async def test_a_typed_address_that_is_not_one_is_asked_again(live_bot: LiveBotFactory) -> None:
    bot = await live_bot(TenantScenario.healthy())
    await bot.ask_for_checks()
    replies = await bot.consent(mailbox="tms at contoso")
    assert "doesn't look like a mailbox address" in texts(replies)
    assert bot.identity.service_requests == []


# ------------------------------------------------------------------- PowerShell fallback
TRANSPORT_PASTE = """PS C:\\> Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled

SmtpClientAuthenticationDisabled : True
"""
MAILBOX_PASTE = """PS C:\\> Get-CASMailbox -Identity 'tms@contoso.example' | Format-List SmtpClientAuthenticationDisabled

SmtpClientAuthenticationDisabled :
"""


async def test_a_refused_exchange_endpoint_falls_back_to_pasted_powershell(
    live_bot: LiveBotFactory,
) -> None:
    knowledge = default_knowledge()
    bot = await live_bot(as_mailbox(TenantScenario.healthy()).with_(exchange_error=403))
    card = await bot.checked_conversation()
    text = card_text(card)
    assert row(card, "SMTP AUTH switches").startswith("?")
    assert "refused" in row(card, "SMTP AUTH switches")
    assert "Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled" in text
    assert ("Get-CASMailbox -Identity 'tms@contoso.example' | Format-List "
            "SmtpClientAuthenticationDisabled") in text
    # Half the output first: still one switch to go.
    replies = await bot.chat.say(TRANSPORT_PASTE)
    (partial,) = [c for r in replies for c in cards_in(r)]
    assert row(partial, "SMTP AUTH switches").startswith("?")
    assert "Get-CASMailbox" in card_text(partial)
    # Then the mailbox: blank inherits the organisation's "off".
    replies = await bot.chat.say(MAILBOX_PASTE)
    (final,) = [c for r in replies for c in cards_in(r)]
    assert card_errors(final) == []
    assert row(final, "SMTP AUTH switches").startswith("✗")
    assert "read from the PowerShell output you pasted" in row(final, "SMTP AUTH switches")
    assert knowledge.cause("smtp_auth_disabled_tenant").title in fixes_section(final)
    assert "Couldn't read the SMTP AUTH switches" not in card_text(final)
    # Once read, PowerShell output is no longer taken for a paste.
    after = await bot.chat.say(MAILBOX_PASTE)
    assert "Thanks, I read the SMTP AUTH switches" not in texts(after)


async def test_no_exchange_consent_also_offers_the_paste(live_bot: LiveBotFactory) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.healthy()), refuse_scopes=(EXCHANGE_SCOPE,))
    card = await bot.checked_conversation()
    switches = row(card, "SMTP AUTH switches")
    assert switches.startswith("?")
    assert "has not consented" in switches and "AADSTS65001" in switches
    assert "Couldn't read the SMTP AUTH switches" in card_text(card)
    assert bot.tenant.exchange.requests == []


# ------------------------------------------------------------------------------ metrics
async def test_every_result_is_counted(live_bot: LiveBotFactory) -> None:
    bot = await live_bot(as_mailbox(TenantScenario.for_cause("conditional_access")))
    await bot.checked_conversation()
    response = await bot.chat.client.get("/metrics")
    metrics = await response.text()
    assert 'msa_checks_total{check="conditional_access",result="fail"} 1' in metrics
    assert 'msa_checks_total{check="license",result="pass"} 1' in metrics


async def test_asking_again_while_the_checks_run_does_not_start_a_second_run(
    live_bot: LiveBotFactory,
) -> None:
    scenario = as_mailbox(TenantScenario.healthy()).with_(delays={"signIns": 1.5})
    bot = await live_bot(scenario)
    await bot.ask_for_checks()
    await bot.consent()
    await bot.sso()
    replies = await bot.chat.say("run checks")
    assert "The checks are still running" in texts(replies)
    await bot.final_card()
    assert len([r for r in bot.connector.received
                if r.method == "POST" and results_cards([r.body])]) == 1
