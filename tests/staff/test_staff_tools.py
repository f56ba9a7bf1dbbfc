"""The staff commands as pure functions: parsing, PowerShell safety, cards and statistics."""

from __future__ import annotations

import base64
import io
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from dialogs import cards
from dialogs.diagnosis import diagnoser_for
from dialogs.knowledge import Knowledge
from dialogs.staff import (
    SampleRow,
    StaffCommand,
    StaffTools,
    compute_stats,
    format_duration,
    gallery_builders,
    parse_command,
    parse_days,
)
from tests.support.cards import card_errors

NOW = datetime.fromisoformat("2026-11-28T12:00:00+00:00")


@pytest.fixture
def tools(knowledge: Knowledge) -> StaffTools:
    """The staff tools over the packaged knowledge."""
    return StaffTools(knowledge)


def code_lines(card: dict[str, Any]) -> list[str]:
    """Every PowerShell line in the card's code blocks."""
    return [line for block in card["body"] if block.get("type") == "CodeBlock"
            for line in block["codeSnippet"].splitlines()]


@pytest.mark.parametrize(("text", "name", "argument"), [
    ("kb smtp disabled", "kb", "smtp disabled"),
    ("KB Security Defaults", "kb", "Security Defaults"),
    ("/kb 5.7.139", "kb", "5.7.139"),
    ("kb", "kb", ""),
    ("ps mailbox tms@contoso.com", "ps mailbox", "tms@contoso.com"),
    ("PS Mailbox  tms@contoso.com ", "ps mailbox", "tms@contoso.com"),
    ('ps mailbox <a href="mailto:tms@contoso.com">tms@contoso.com</a>', "ps mailbox",
     "tms@contoso.com"),
    ("ps tenant", "ps tenant", ""),
    ("ps check tms@contoso.com", "ps check", "tms@contoso.com"),
    ("ps", "ps", ""),
    ("ps reboot", "ps", "reboot"),
    ("diagnose 535 5.7.139 Authentication unsuccessful", "diagnose",
     "535 5.7.139 Authentication unsuccessful"),
    ("diagnose\n535 5.7.139\nsecond line", "diagnose", "535 5.7.139\nsecond line"),
    ("explain mfa_required", "explain", "mfa_required"),
    ("stats", "stats", ""),
    ("stats 7", "stats", "7"),
])
def test_commands_are_recognised(text: str, name: str, argument: str) -> None:
    assert parse_command(text) == StaffCommand(name, argument)


@pytest.mark.parametrize("text", [
    "", "hello", "smtp disabled", "kbsmtp", "my password is secret", "start over",
    "statistics please", "explainer", "psst",
])
def test_other_text_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_ps_mailbox_is_the_exact_powershell_with_the_quoted_identity(tools: StaffTools) -> None:
    (reply,) = tools.run(StaffCommand("ps mailbox", "tms@contoso.com"))
    assert reply.card is not None and card_errors(reply.card) == []
    assert code_lines(reply.card) == [
        "Connect-ExchangeOnline",
        "Get-CASMailbox -Identity 'tms@contoso.com' | Format-List SmtpClientAuthenticationDisabled",
        "Connect-ExchangeOnline",
        "Set-CASMailbox -Identity 'tms@contoso.com' -SmtpClientAuthenticationDisabled $false",
    ]


def test_ps_tenant_is_the_organisation_switch(tools: StaffTools) -> None:
    (reply,) = tools.run(StaffCommand("ps tenant"))
    assert reply.card is not None and card_errors(reply.card) == []
    assert code_lines(reply.card) == [
        "Connect-ExchangeOnline",
        "Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled",
        "Connect-ExchangeOnline",
        "Set-TransportConfig -SmtpClientAuthenticationDisabled $false",
    ]


def test_ps_check_reads_every_deciding_setting_once(tools: StaffTools) -> None:
    (reply,) = tools.run(StaffCommand("ps check", "o'brien@contoso.com"))
    assert reply.card is not None and card_errors(reply.card) == []
    lines = code_lines(reply.card)
    quoted = "'o''brien@contoso.com'"
    for expected in (
        f"Get-CASMailbox -Identity {quoted} | Format-List SmtpClientAuthenticationDisabled",
        "Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled",
        f"Get-Recipient -Identity {quoted} | Format-List RecipientTypeDetails",
        "Get-MgPolicyIdentitySecurityDefaultEnforcementPolicy | Format-List IsEnabled",
        "Get-AuthenticationPolicy | Format-List Name, AllowBasicAuthSmtp",
    ):
        assert expected in lines
    assert lines.count("Connect-ExchangeOnline") == 1
    (graph,) = [line for line in lines if line.startswith("Connect-MgGraph")]
    assert graph == "Connect-MgGraph -Scopes User.Read.All,Policy.Read.All,AuditLog.Read.All"
    assert not any(line.startswith(("Set-", "Update-", "Remove-")) for line in lines)
    assert len(lines) == len(set(lines))


@pytest.mark.parametrize("identity", [
    "a@b.com;Remove-Mailbox x",
    "$(Remove-Mailbox -Identity boss@contoso.com)@contoso.com",
    "tms@contoso.com' ; Remove-Mailbox -Identity 'boss@contoso.com",
    "tms@contoso.com | Remove-Mailbox",
    "tms@contoso.com`nRemove-Mailbox",
    "tms@contoso.com\u2019;Remove-Mailbox",
    "tms@contoso.com\nRemove-Mailbox x",
    "`$env:USERNAME@contoso.com",
    "{tms}@contoso.com",
    "tms@@contoso.com",
    "tms",
    "tms@localhost",
    "\"tms\"@contoso.com",
    "t\u00e9st@contoso.com",
])
@pytest.mark.parametrize("sub", ["ps mailbox", "ps check"])
def test_powershell_identity_injection_is_refused_with_a_reask(
    tools: StaffTools, sub: str, identity: str
) -> None:
    command = parse_command(f"{sub} {identity}")
    assert command is not None and command.name == sub
    (reply,) = tools.run(command)
    assert reply.card is None
    assert "not a mailbox address I will put into PowerShell" in reply.text
    assert f"{sub} tms@contoso.com" in reply.text


def test_ps_without_an_address_asks_for_one(tools: StaffTools) -> None:
    (reply,) = tools.run(StaffCommand("ps mailbox"))
    assert reply.card is None and "Which mailbox?" in reply.text
    (usage,) = tools.run(StaffCommand("ps", ""))
    assert "ps mailbox" in usage.text and "ps tenant" in usage.text


def test_kb_card_lists_results_with_show_fix_buttons(tools: StaffTools) -> None:
    (reply,) = tools.run(StaffCommand("kb", "secuirty defualts"))
    assert reply.card is not None and card_errors(reply.card) == []
    buttons = [action["data"] for block in reply.card["body"] if block["type"] == "Container"
               for item in block["items"] if item["type"] == "ActionSet"
               for action in item["actions"]]
    assert buttons[0] == {"msa": "show_fix", "cause": "security_defaults"}
    assert "Searched for: *security defaults*" in str(reply.card)


def test_kb_with_a_pasted_log_keeps_the_title_short(tools: StaffTools) -> None:
    pasted = "2026-11-28 10:00:01 ERROR smtp: 535 5.7.139 Authentication unsuccessful, " * 20
    (reply,) = tools.run(StaffCommand("kb", pasted))
    assert reply.card is not None and card_errors(reply.card) == []
    assert len(reply.card["body"][0]["text"]) <= len("Knowledge: ") + 80


def test_diagnose_is_the_customer_fix_card_headed_by_the_evidence(
    tools: StaffTools, knowledge: Knowledge
) -> None:
    text = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
            "for the Tenant")
    (reply,) = tools.run(StaffCommand("diagnose", text))
    assert reply.card is not None and card_errors(reply.card) == []
    fix = cards.fix_card(knowledge, "smtp_auth_disabled_tenant", {})
    assert reply.card["body"][-len(fix["body"]):] == fix["body"]
    assert reply.card["actions"][: len(fix["actions"])] == fix["actions"]
    matched = reply.card["body"][1]  # the pasted words, shown as written (never markdown)
    assert matched["type"] == "RichTextBlock"
    assert [run["text"] for run in matched["inlines"]] == [
        "Matched: ", tools.diagnoser.diagnose(text).best.evidence]


def test_diagnose_without_a_known_error_offers_search_results(tools: StaffTools) -> None:
    (reply,) = tools.run(StaffCommand("diagnose", "the printer says no"))
    assert reply.card is not None and card_errors(reply.card) == []
    assert all(a["data"]["msa"] == "show_fix" for a in reply.card["actions"])


def test_explain_is_exactly_the_fix_card(tools: StaffTools, knowledge: Knowledge) -> None:
    (reply,) = tools.run(StaffCommand("explain", "Security-Defaults"))
    assert reply.card == cards.fix_card(knowledge, "security_defaults", {})


def test_explain_an_unknown_id_suggests_causes(tools: StaffTools) -> None:
    (reply,) = tools.run(StaffCommand("explain", "mfa"))
    assert reply.card is not None and card_errors(reply.card) == []
    assert reply.card["actions"][0]["data"] == {"msa": "show_fix", "cause": "mfa_required"}


def seeded_rows() -> list[SampleRow]:
    """Audit rows with known answers for a 7-day period ending at NOW."""
    def row(delta: timedelta, kind: str, conversation: str | None, cause: str = "") -> SampleRow:
        return SampleRow(NOW - delta, kind, conversation, {"cause": cause} if cause else {})

    day, minute = timedelta(days=1), timedelta(minutes=1)
    return [
        # c1: diagnosed, resolved 10 minutes later (and "resolved" again later: counted once).
        row(3 * day, "diagnosed", "c1", "mfa_required"),
        row(3 * day - 10 * minute, "resolved", "c1", "mfa_required"),
        row(2 * day, "resolved", "c1", "mfa_required"),
        # c2: a fix failed, then a person was asked for (twice: one handoff).
        row(2 * day, "diagnosed", "c2", "security_defaults"),
        row(2 * day - 3 * minute, "fix_failed", "c2", "security_defaults"),
        row(2 * day - 5 * minute, "person_requested", "c2"),
        row(2 * day - 6 * minute, "person_requested", "c2"),
        # c3: started over, then resolved 32 minutes after its first event.
        row(1 * day, "start_over", "c3"),
        row(1 * day - 2 * minute, "diagnosed", "c3", "mfa_required"),
        row(1 * day - 32 * minute, "resolved", "c3", "mfa_required"),
        # c4: began before the period, resolved inside it: 4 days to resolution.
        row(10 * day, "diagnosed", "c4", "smtp_auth_disabled_mailbox"),
        row(6 * day, "resolved", "c4", "smtp_auth_disabled_mailbox"),
        # c5: only before the period; c6: only after "now" (clock skew): both ignored.
        row(8 * day, "diagnosed", "c5", "mfa_required"),
        row(-1 * minute, "diagnosed", "c6", "mfa_required"),
        # A diagnosis without a conversation counts as a diagnosis only.
        row(timedelta(hours=1), "diagnosed", None, "tls_version"),
    ]


def test_stats_are_computed_from_the_audit_rows() -> None:
    stats = compute_stats(seeded_rows(), now=NOW, days=7)
    assert stats.conversations == 4  # c1, c2, c3, c4
    assert stats.resolved == 3  # c1, c3, c4
    assert stats.resolution_rate == 0.75
    assert stats.handoffs == 1
    assert stats.diagnoses == 4
    assert stats.top_causes == (("mfa_required", 2), ("security_defaults", 1),
                                ("tls_version", 1))
    assert stats.fixes_failed == 1
    assert stats.start_overs == 1
    # 600 s (c1), 1,920 s (c3), 345,600 s (c4): the median is c3's 32 minutes.
    assert stats.median_seconds_to_resolution == 1920.0
    assert format_duration(stats.median_seconds_to_resolution) == "32 min"


def test_stats_of_an_empty_period() -> None:
    stats = compute_stats(seeded_rows(), now=NOW - timedelta(days=30), days=1)
    assert (stats.conversations, stats.resolved, stats.handoffs, stats.diagnoses) == (0, 0, 0, 0)
    assert stats.resolution_rate is None and stats.median_seconds_to_resolution is None


def test_stats_card_shows_the_figures_and_a_small_bar_chart(tools: StaffTools) -> None:
    (reply,) = tools.run(StaffCommand("stats", "7"), audit_rows=seeded_rows(), now=NOW)
    assert reply.card is not None and card_errors(reply.card) == []
    facts = {f["title"]: f["value"] for block in reply.card["body"]
             if block["type"] == "FactSet" for f in block["facts"]}
    assert facts["Conversations"] == "4"
    assert facts["Resolved"] == "3 (75%)"
    assert facts["Handoffs to a person"] == "1"
    assert facts["Median time to resolution"] == "32 min"
    (image,) = [b for b in reply.card["body"] if b["type"] == "Image"]
    prefix = "data:image/png;base64,"
    assert image["url"].startswith(prefix)
    picture = Image.open(io.BytesIO(base64.b64decode(image["url"][len(prefix):])))
    assert picture.format == "PNG" and picture.width <= 1024 and picture.height <= 1024


def test_without_pillow_the_stats_card_lists_the_top_causes(
    tools: StaffTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pillow is the ``charts`` extra: a bot installed without it still answers ``stats``."""
    monkeypatch.setattr("dialogs.staff.can_draw", lambda: False)
    (reply,) = tools.run(StaffCommand("stats", "7"), audit_rows=seeded_rows(), now=NOW)
    assert reply.card is not None and card_errors(reply.card) == []
    assert not [b for b in reply.card["body"] if b["type"] == "Image"]
    listed = [f["value"] for block in reply.card["body"] if block["type"] == "FactSet"
              for f in block["facts"]]
    assert tools.knowledge.cause("mfa_required").title in listed
    assert tools.knowledge.cause("security_defaults").title in listed


def test_can_draw_tells_whether_pillow_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from dialogs.chart import can_draw

    assert can_draw()
    monkeypatch.setitem(sys.modules, "PIL", None)  # what an uninstalled package looks like
    assert not can_draw()


@pytest.mark.parametrize(("argument", "days"), [
    ("", 30), ("7", 7), ("7d", 7), ("14 days", 14), ("365", 365), ("0", None), ("366", None),
    ("-3", None), ("week", None),
])
def test_stats_period(argument: str, days: int | None) -> None:
    assert parse_days(argument) == days


def test_every_staff_card_in_the_gallery_is_valid(knowledge: Knowledge) -> None:
    staff = {name: build(knowledge) for name, build in gallery_builders().items()}
    assert len(staff) >= 10 and all(name.startswith("staff-") for name in staff)
    problems = {name: card_errors(card) for name, card in staff.items() if card_errors(card)}
    assert problems == {}


def test_compose_items_insert_the_customer_fix_card(
    tools: StaffTools, knowledge: Knowledge
) -> None:
    items = tools.compose_items("app password", limit=3)
    assert items[0].cause_id == "mfa_required"
    for item in items:
        assert item.card == cards.fix_card(knowledge, item.cause_id, {})
        assert item.title and item.preview


def test_tools_share_the_cached_diagnoser(tools: StaffTools, knowledge: Knowledge) -> None:
    assert tools.diagnoser is diagnoser_for(knowledge)


def test_ps_with_a_topic_gets_that_topics_powershell(tools: StaffTools) -> None:
    command = parse_command("ps security defaults")
    assert command is not None
    (reply,) = tools.run(command)  # used to answer with the usage text
    assert reply.card is not None and card_errors(reply.card) == []
    assert "Update-MgPolicyIdentitySecurityDefaultEnforcementPolicy -IsEnabled:$false" \
        in str(reply.card)


def test_ps_with_a_topic_and_an_address_quotes_the_address_into_the_lines(
    tools: StaffTools,
) -> None:
    command = parse_command("ps send as o'brien@contoso.com")
    assert command is not None
    (reply,) = tools.run(command)
    assert reply.card is not None
    assert "Get-RecipientPermission -Identity 'o''brien@contoso.com'" in str(reply.card)


@pytest.mark.parametrize("argument", ["smtp auth $(Remove-Mailbox boss)@contoso.com",
                                      "mfa a@contoso.com b@contoso.com"])
def test_ps_with_a_topic_refuses_an_address_it_will_not_put_into_powershell(
    tools: StaffTools, argument: str
) -> None:
    (reply,) = tools.run(StaffCommand("ps", argument))
    assert reply.card is None
    assert "not a mailbox address I will put into PowerShell" in reply.text


def test_ps_with_words_no_topic_matches_says_so_with_the_usage(tools: StaffTools) -> None:
    (reply,) = tools.run(StaffCommand("ps", "reboot"))  # a typo-corrected brush is no match
    assert reply.card is None
    assert 'No knowledge topic matches "reboot"' in reply.text and "ps tenant" in reply.text
