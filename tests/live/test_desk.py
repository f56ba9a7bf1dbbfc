"""The live-checks desk on in-memory ports: no TurnContext, no HTTP, no Bot Framework.

The desk is the whole policy of the live checks (consent, refusals before a
word is said, the hourly limit, one card updated as results arrive, the
mailbox type's requirements, pastes, what needs a person); these tests drive
it through its ports as the edge does.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

import pytest

from dialogs.effects import AskPerson, Audit, Count
from dialogs.knowledge import default_knowledge
from dialogs.live import phrases
from dialogs.live.desk import LiveChecksDesk, Who
from dialogs.live.limits import RunLimiter
from dialogs.live.ports import (
    MailboxUser,
    OtherOrganisation,
    PreflightError,
    RunPlan,
    SignedIn,
)
from dialogs.live.results import CheckResult, CheckStatus
from dialogs.session import Reply
from tests.support.cards import card_errors, visible_words
from tests.support.harness import texts

TENANT = "8f1c5a2e-0b7d-4c1e-9a55-3f2d6c7b9e10"
ADMIN = SignedIn(TENANT, "admin-id", "admin@contoso.example", ("contoso.example",))
WHO = Who("user-key", TENANT)
P, F, W, U, S = (CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.UNKNOWN,
                 CheckStatus.SKIPPED)


def result(check_id: str, status: CheckStatus, finding: str, cause: str | None = None,
           **facts: str) -> CheckResult:
    return CheckResult(check_id, status, finding, facts, cause)


HEALTHY = [
    result("license", P, "license.active", plans="EXCHANGE_S_STANDARD in SPB"),
    result("mailbox_type", P, "mailbox_type.read", recipient_type="UserMailbox",
           kind="UserMailbox", source="exchange"),
    result("account_enabled", P, "account.enabled", upn="tms@contoso.example", enabled="true"),
    result("security_defaults", P, "security_defaults.off"),
    result("conditional_access", P, "ca.none", count="2", active="1"),
    result("mfa", P, "mfa.off", registered="yes"),
    result("smtp_sign_ins", P, "sign_ins.none", days="7"),
    result("smtp_auth_switches", P, "switches.on", tenant="on", mailbox="inherits"),
    result("smtp_probe", P, "smtp.accepted", where="smtp.office365.com:587", tls="TLSv1.3",
           user="tms@contoso.example"),
    result("smtp_readiness", P, "readiness.oauth", days="7", apps="'CLOUDEX TMS' (12)"),
]


def replace_results(base: list[CheckResult], *changed: CheckResult) -> list[CheckResult]:
    by_id = {r.check_id: r for r in changed}
    return [by_id.get(r.check_id, r) for r in base]


# ----- in-memory ports -------------------------------------------------------------------
class MemoryConversation:
    def __init__(self, answers: Mapping[str, Any] | None = None,
                 live: dict[str, Any] | None = None) -> None:
        self.key = "conversation-1"
        self.lang = "en"
        self.state: dict[str, Any] = live or {}
        self._answers = dict(answers or {})

    async def live(self) -> dict[str, Any]:
        return copy.deepcopy(self.state)

    async def answers(self) -> Mapping[str, Any]:
        return dict(self._answers)

    async def language(self) -> str:
        return self.lang

    async def change(self, mutate: Callable[[dict[str, Any]], None]) -> None:
        mutate(self.state)


class MemoryScreen:
    def __init__(self) -> None:
        self.shown: list[Reply] = []
        self.updates: list[tuple[str | None, Reply]] = []

    async def show(self, reply: Reply) -> str | None:
        self.shown.append(reply)
        return f"message-{len(self.shown)}"

    async def replace(self, message_id: str | None, reply: Reply) -> str | None:
        self.updates.append((message_id, reply))
        return message_id

    def said(self) -> list[str]:
        return [r.text for r in self.shown if r.text]

    def cards(self) -> list[dict[str, Any]]:
        found = [r.card for r in self.shown if r.card]
        return found + [r.card for _, r in self.updates if r.card]

    def final(self) -> dict[str, Any]:
        return self.cards()[-1]


class ListTenant:
    def __init__(self, signed: SignedIn | Exception = ADMIN, *,
                 mailbox: MailboxUser | str | None = "found", token_tenant: str = TENANT
                 ) -> None:
        self.signed, self.mailbox, self._tenant = signed, mailbox, token_tenant
        self.lookups: list[str] = []

    def token_tenant(self) -> str | None:
        return self._tenant

    async def signed_in(self) -> SignedIn:
        if isinstance(self.signed, Exception):
            raise self.signed
        return self.signed

    async def find_mailbox(self, address: str) -> MailboxUser | None:
        self.lookups.append(address)
        if self.mailbox == "found":
            return MailboxUser(address, "mailbox-id")
        return self.mailbox if not isinstance(self.mailbox, str) else None


class ListSuite:
    """Yields given results; ``delays`` (seconds per check) set the completion order."""

    def __init__(self, results: Sequence[CheckResult], delays: Mapping[str, float] | None = None
                 ) -> None:
        self.results, self.delays = list(results), dict(delays or {})
        self.plans: list[RunPlan] = []

    def check_ids(self) -> Sequence[str]:
        return [r.check_id for r in self.results]

    def start(self, plan: RunPlan) -> AsyncGenerator[CheckResult, None]:
        self.plans.append(plan)
        return self._run()

    async def _run(self) -> AsyncGenerator[CheckResult, None]:
        order = sorted(self.results, key=lambda r: self.delays.get(r.check_id, 0.0))
        started = asyncio.get_running_loop().time()
        for item in order:
            wait = self.delays.get(item.check_id, 0.0) - (asyncio.get_running_loop().time()
                                                            - started)
            if wait > 0:
                await asyncio.sleep(wait)
            yield item


class MemoryRunLog:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[list[float], int]] = {}

    async def read(self, key: str) -> tuple[list[float], str]:
        runs, version = self.rows.get(key, ([], 0))
        return list(runs), str(version) if key in self.rows else "new"

    async def write(self, key: str, runs: list[float], version: str) -> bool:
        current = str(self.rows[key][1]) if key in self.rows else "new"
        if current != version:
            return False
        self.rows[key] = (runs, self.rows.get(key, ([], 0))[1] + 1)
        return True


def desk(per_hour: int = 6, *, configured: bool = True) -> tuple[LiveChecksDesk, MemoryRunLog]:
    log = MemoryRunLog()
    return LiveChecksDesk(default_knowledge(), RunLimiter(log, per_hour), configured=configured,
                          consent_url=lambda t: f"https://login.example/{t}/adminconsent",
                          coalesce_s=0.01), log


def runs_counted(log: MemoryRunLog) -> int:
    return sum(len(runs) for runs, _ in log.rows.values())


def card_text(card: dict[str, Any]) -> str:
    return texts([{"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}])


def rows(card: dict[str, Any]) -> dict[str, str]:
    """Title -> the visible row line ("✓ **Title**…")."""
    found = {}
    for line in card_text(card).splitlines():
        if line[:1] in "✓✗⚠?–…" and "**" in line:
            title = line.split("**")[1]
            found[title] = line
    return found


# ----- requests ----------------------------------------------------------------------------
async def test_without_sign_in_set_up_the_checks_say_so() -> None:
    d, _ = desk(configured=False)
    nxt = await d.asked(WHO, MemoryConversation())
    assert not nxt.run and nxt.replies[0].text == phrases.NOT_SET_UP


async def test_asking_shows_the_consent_card_with_every_permission_explained() -> None:
    d, _ = desk()
    nxt = await d.asked(WHO, MemoryConversation({"mailbox": "tms@contoso.example"}))
    assert not nxt.run and not nxt.sign_in
    card = nxt.replies[0].card
    assert card is not None and card_errors(card) == []
    text = json.dumps(card, ensure_ascii=False)
    for permission in phrases.PERMISSIONS:
        assert permission.name in text and permission.allows in text
        assert permission.bot_does in text
    assert "never a Set- command" in text and "no mail is ever sent" in text
    assert visible_words(card) <= 120, visible_words(card)
    mailbox = next(e for e in card["body"] if e.get("type") == "Input.Text")
    assert mailbox["value"] == "tms@contoso.example"


async def test_a_consented_customer_runs_without_the_card_when_signed_in() -> None:
    d, _ = desk()
    nxt = await d.asked(WHO, MemoryConversation(live={"consented": True}))
    assert nxt.run and not nxt.sign_in  # the edge shows the consent card only without a sign-in


async def test_a_typed_address_that_is_not_one_is_refused() -> None:
    d, _ = desk()
    conversation = MemoryConversation()
    nxt = await d.sign_in_pressed(WHO, conversation, "tms at contoso")
    assert nxt.replies[0].text == phrases.BAD_ADDRESS and not nxt.run
    assert conversation.state == {}


async def test_sign_in_pressed_remembers_the_mailbox_and_asks_to_sign_in() -> None:
    d, _ = desk()
    conversation = MemoryConversation()
    nxt = await d.sign_in_pressed(WHO, conversation, " <mailto:TMS@contoso.example> ")
    assert nxt.run and nxt.sign_in
    assert conversation.state == {"mailbox": "TMS@contoso.example", "pending": True,
                                  "consented": True}
    assert (await d.signed_in(conversation)).run


# ----- a run: refusals come before any word and cost nothing ------------------------------------
@pytest.mark.parametrize("tenant", [
    ListTenant(token_tenant="0b9a8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"),
    ListTenant(OtherOrganisation("Graph answered for another organisation")),
])
async def test_another_organisation_is_refused_before_checking_and_not_counted(
    tenant: ListTenant,
) -> None:
    d, log = desk()
    screen, suite = MemoryScreen(), ListSuite(HEALTHY)
    outcome = await d.run(WHO, MemoryConversation(live={"mailbox": "tms@contoso.example"}),
                          tenant, suite, screen)
    assert outcome.refused and not outcome.started
    assert screen.said() == [phrases.OTHER_ORGANISATION]
    assert phrases.CHECKING not in screen.said() and screen.cards() == []
    assert suite.plans == [] and runs_counted(log) == 0


async def test_a_mailbox_outside_the_verified_domains_is_refused_and_not_counted() -> None:
    d, log = desk()
    screen, suite = MemoryScreen(), ListSuite(HEALTHY)
    outcome = await d.run(WHO, MemoryConversation(live={"mailbox": "tms@fabrikam.example"}),
                          ListTenant(), suite, screen)
    assert outcome.refused
    assert screen.said() == [phrases.OUTSIDE_DOMAINS.format(mailbox="tms@fabrikam.example")]
    assert suite.plans == [] and runs_counted(log) == 0


async def test_a_mailbox_nobody_has_is_said_plainly_without_checking() -> None:
    d, log = desk()
    screen, suite = MemoryScreen(), ListSuite(HEALTHY)
    outcome = await d.run(WHO, MemoryConversation(live={"mailbox": "tsm@contoso.example"}),
                          ListTenant(mailbox=None), suite, screen)
    assert not outcome.started and not outcome.refused
    assert screen.said() == [phrases.MAILBOX_NOT_FOUND.format(mailbox="tsm@contoso.example")]
    assert suite.plans == [] and runs_counted(log) == 0


async def test_a_preflight_failure_names_a_certificate_problem() -> None:
    d, _ = desk()
    screen = MemoryScreen()
    error = PreflightError("graph.certificate", {
        "host": "graph.microsoft.com", "reason": "unable to get local issuer certificate"})
    await d.run(WHO, MemoryConversation(), ListTenant(error), ListSuite(HEALTHY), screen)
    (said,) = screen.said()
    assert "certificate of graph.microsoft.com is not trusted" in said
    assert "unable to get local issuer certificate" in said


async def test_the_hourly_limit_counts_runs_that_start() -> None:
    d, log = desk(per_hour=1)
    conversation = MemoryConversation(live={"mailbox": "tms@contoso.example"})
    first = await d.run(WHO, conversation, ListTenant(), ListSuite(HEALTHY), MemoryScreen())
    assert first.started and runs_counted(log) == 1
    screen = MemoryScreen()
    second = await d.run(WHO, conversation, ListTenant(), ListSuite(HEALTHY), screen)
    assert not second.started and "which is the limit" in screen.said()[0]
    assert "in the last hour" in (await d.asked(WHO, conversation)).replies[0].text


# ----- a run ---------------------------------------------------------------------------------
async def test_a_run_says_checking_then_updates_one_card_until_done() -> None:
    d, _ = desk()
    conversation = MemoryConversation({"auth_method": "oauth"},
                                      live={"mailbox": "tms@contoso.example"})
    screen = MemoryScreen()
    suite = ListSuite(HEALTHY, delays={"smtp_probe": 0.15, "smtp_readiness": 0.3})
    outcome = await d.run(WHO, conversation, ListTenant(), suite, screen)
    assert screen.said() == [phrases.CHECKING]
    assert len(screen.updates) >= 2 and {m for m, _ in screen.updates} == {"message-2"}
    assert "Checking…" in card_text(screen.cards()[0])
    final = screen.final()
    assert card_errors(final) == [] and "All 10 checks done" in card_text(final)
    assert all(line.startswith("✓") for line in rows(final).values()), rows(final)
    assert outcome.started and outcome.escalation is None and outcome.audit["causes"] == []
    (plan,) = suite.plans
    assert (plan.mailbox, plan.mailbox_id, plan.auth_method) == (
        "tms@contoso.example", "mailbox-id", "oauth")
    stored = conversation.state["last"]
    assert stored["mailbox"] == "tms@contoso.example" and len(stored["results"]) == 10
    assert stored["results"][0]["title"] == "Exchange Online licence"
    assert visible_words(final) <= 150


async def test_findings_only_a_person_can_resolve_come_back_as_an_escalation() -> None:
    d, _ = desk()
    blocked = result("smtp_probe", F, "smtp.refused", "sender_blocked",
                     reply="550 5.1.8 Access denied, bad outbound sender")
    outcome = await d.run(WHO, MemoryConversation(), ListTenant(),
                          ListSuite(replace_results(HEALTHY, blocked)), MemoryScreen())
    assert outcome.escalation is not None
    assert outcome.escalation.causes == ("sender_blocked",)
    assert "sender_blocked" in outcome.escalation.detail
    assert {c["check_id"] for c in outcome.escalation.checks} >= {"smtp_probe"}
    # The edge learns it as an effect to run (the runner asks the handoff), not a callback.
    (ask,) = [e for e in outcome.effects if isinstance(e, AskPerson)]
    assert ask.reason == "checks" and ask.detail == outcome.escalation.detail
    assert ask.checks == outcome.escalation.checks and ask.customer is None
    (audit,) = [e for e in outcome.effects if isinstance(e, Audit)]
    assert audit.kind == "live_checks" and audit.detail["causes"] == ["sender_blocked"]
    assert Count("msa_checks_total", {"check": "smtp_probe", "result": "fail"}) in (
        outcome.effects)


@pytest.mark.parametrize("cause", ["unsupported_mailbox_type", "smtp_auth_disabled_tenant",
                                   "security_defaults", "no_exchange_license"])
async def test_a_finding_with_a_self_service_fix_is_not_escalated(cause: str) -> None:
    d, _ = desk()
    failing = result("smtp_auth_switches", F, "switches.tenant_off", cause)
    outcome = await d.run(WHO, MemoryConversation(), ListTenant(),
                          ListSuite(replace_results(HEALTHY, failing)), MemoryScreen())
    assert outcome.escalation is None and outcome.audit["causes"] == [cause]
    assert not [e for e in outcome.effects if isinstance(e, AskPerson)]


async def test_a_shared_mailbox_needs_no_licence_and_keeps_its_sign_in_blocked() -> None:
    d, _ = desk()
    shared = replace_results(
        HEALTHY,
        result("license", F, "license.none", "no_exchange_license", skus="no licences at all"),
        result("mailbox_type", P, "mailbox_type.read", recipient_type="SharedMailbox",
               kind="SharedMailbox", source="exchange", full_access="admin@contoso.example"),
        result("account_enabled", F, "account.blocked", "account_blocked",
               upn="tms@contoso.example", enabled="false"),
    )
    screen = MemoryScreen()
    # The licence and sign-in rows answer first; the mailbox type comes last.
    suite = ListSuite(shared, delays={"mailbox_type": 0.2})
    outcome = await d.run(WHO, MemoryConversation(), ListTenant(), suite, screen)
    before_type = [c for c in screen.cards() if "✓ **Mailbox type**" not in card_text(c)]
    assert before_type and all("✗" not in card_text(c) for c in before_type), \
        "the licence/sign-in rows are held until the mailbox type is known"
    final = card_text(screen.final())
    assert "✓ **Exchange Online licence**" in final and "needs no licence" in final
    assert "✓ **Account sign-in**" in final and "as Microsoft advises" in final
    assert "Full Access (admin@contoso.example)" in final
    assert "What to fix" not in final and "✗" not in final
    assert outcome.escalation is None and outcome.audit["causes"] == []


async def test_a_shared_mailbox_with_a_password_app_is_told_how_it_sends() -> None:
    d, _ = desk()
    shared = replace_results(
        HEALTHY,
        result("mailbox_type", P, "mailbox_type.read", user_purpose="shared", kind="shared",
               source="graph"),
        result("smtp_sign_ins", F, "sign_ins.failed", "account_blocked", code="50057"),
    )
    screen = MemoryScreen()
    outcome = await d.run(WHO, MemoryConversation({"auth_method": "basic"}), ListTenant(),
                          ListSuite(shared), screen)
    assert outcome.audit["causes"] == ["unsupported_mailbox_type"]
    assert "⚠ **Mailbox type**" in card_text(screen.final())
    assert outcome.escalation is None


async def test_a_room_mailbox_cannot_send_and_the_fix_says_which_to_use() -> None:
    d, _ = desk()
    room = replace_results(
        HEALTHY,
        result("mailbox_type", P, "mailbox_type.read", recipient_type="RoomMailbox",
               kind="RoomMailbox", source="exchange"),
        result("license", F, "license.none", "no_exchange_license", skus="none"),
        result("account_enabled", F, "account.blocked", "account_blocked", enabled="false"),
    )
    screen = MemoryScreen()
    outcome = await d.run(WHO, MemoryConversation(), ListTenant(), ListSuite(room), screen)
    final = screen.final()
    assert rows(final)["Mailbox type"].startswith("✗")
    assert rows(final)["Account sign-in"].startswith("–")
    assert outcome.audit["causes"] == ["unsupported_mailbox_type"]
    assert outcome.escalation is None
    assert visible_words(final) <= 150 + 25


async def test_an_unknown_recipient_type_is_a_question_mark_not_a_failure() -> None:
    d, _ = desk()
    odd = replace_results(HEALTHY, result(
        "mailbox_type", P, "mailbox_type.read", recipient_type="SchedulingMailbox",
        kind="SchedulingMailbox", source="exchange"))
    screen = MemoryScreen()
    outcome = await d.run(WHO, MemoryConversation(), ListTenant(), ListSuite(odd), screen)
    assert rows(screen.final())["Mailbox type"].startswith("?")
    assert outcome.audit["causes"] == []


async def test_asking_again_while_a_run_is_going_says_so() -> None:
    d, log = desk()
    conversation = MemoryConversation()
    slow = ListSuite(HEALTHY, delays={"smtp_readiness": 0.3})
    first = asyncio.create_task(d.run(WHO, conversation, ListTenant(), slow, MemoryScreen()))
    await asyncio.sleep(0.05)
    screen = MemoryScreen()
    second = await d.run(WHO, conversation, ListTenant(), ListSuite(HEALTHY), screen)
    assert not second.started and screen.said() == [phrases.STILL_RUNNING]
    assert (await first).started and runs_counted(log) == 1


# ----- pastes ----------------------------------------------------------------------------------
TRANSPORT = "PS> Get-TransportConfig | fl SmtpClientAuthenticationDisabled\n\n" \
            "SmtpClientAuthenticationDisabled : True\n"
MAILBOX = "PS> Get-CASMailbox -Identity 'tms@contoso.example' | fl " \
          "SmtpClientAuthenticationDisabled\n\nSmtpClientAuthenticationDisabled :\n"


async def refused_run() -> tuple[LiveChecksDesk, MemoryConversation, MemoryScreen]:
    d, _ = desk()
    conversation = MemoryConversation(live={"mailbox": "tms@contoso.example"})
    unread = result("smtp_auth_switches", U, "switches.unread", "smtp_auth_disabled_tenant",
                    tenant="unread", mailbox="unread", refusal="exchange.forbidden",
                    code="Forbidden", source="exchange")
    screen = MemoryScreen()
    await d.run(WHO, conversation, ListTenant(), ListSuite(replace_results(HEALTHY, unread)),
                screen)
    return d, conversation, screen


async def test_a_paste_is_only_read_when_asked_for() -> None:
    d, _ = desk()
    assert await d.pasted(MemoryConversation(), TRANSPORT) is None
    d, conversation, _ = await refused_run()
    assert await d.pasted(conversation, "hello there") is None


async def test_the_paste_fallback_asks_only_for_what_is_unread() -> None:
    d, conversation, screen = await refused_run()
    final = card_text(screen.final())
    assert "Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled" in final
    assert "Get-CASMailbox -Identity 'tms@contoso.example'" in final
    pasted = await d.pasted(conversation, TRANSPORT)
    assert pasted is not None and pasted.replies[0].text == phrases.PASTE_THANKS
    partial = card_text(pasted.replies[0].card or {})
    assert "Get-TransportConfig | Format-List" not in partial  # read already: not asked again
    assert "Get-CASMailbox -Identity 'tms@contoso.example'" in partial
    done = await d.pasted(conversation, MAILBOX)
    assert done is not None and done.result is not None
    assert (done.result.status, done.result.cause_id) == (F, "smtp_auth_disabled_tenant")
    card = done.replies[0].card or {}
    assert card_errors(card) == [] and "Couldn't read the SMTP AUTH switches" not in card_text(card)
    assert "Read from the PowerShell output you pasted" in card_text(card)
    assert await d.pasted(conversation, MAILBOX) is None  # nothing is awaited any more


async def test_a_paste_of_several_mailboxes_asks_for_one() -> None:
    d, conversation, _ = await refused_run()
    several = ("Name SmtpClientAuthenticationDisabled\n---- --------------------------------\n"
               "tms                              True\nother                           False\n")
    outcome = await d.pasted(conversation, several)
    assert outcome is not None and outcome.result is None
    assert "tms@contoso.example only" in (outcome.replies[0].text or "")


async def test_a_paste_without_a_value_says_what_is_missing() -> None:
    d, conversation, _ = await refused_run()
    outcome = await d.pasted(conversation, "PS> Get-TransportConfig\nWARNING: no access")
    assert outcome is not None and outcome.replies[0].text == phrases.PASTE_UNREADABLE
