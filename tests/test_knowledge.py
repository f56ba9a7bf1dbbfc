"""Tests for dialogs/knowledge.json and its loader.

Three groups: the file keeps the data contract (and the loader catches every
kind of breach), the customer's source document is fully covered while its
mistakes are corrected, and the helpers (option matching, findings) behave.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.knowledge import (
    CAUSE_IDS,
    QUESTION_IDS,
    UNSURE,
    Cause,
    ClickPath,
    Knowledge,
    KnowledgeError,
    Severity,
    SmtpAuthSupport,
    default_knowledge,
    default_path,
    load_knowledge,
    normalise,
    parse_knowledge,
)
from dialogs.powershell import IdentityRequired, needs_identity, render_all

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE_FILE = ROOT / "dialogs" / "knowledge.json"

M365_URL = "https://admin.microsoft.com"
EAC_URL = "https://admin.exchange.microsoft.com"
ENTRA_URL = "https://entra.microsoft.com"

MAILBOX_SWITCH_ON = "Set-CASMailbox -Identity {identity} -SmtpClientAuthenticationDisabled $false"
MAILBOX_SWITCH_READ = (
    "Get-CASMailbox -Identity {identity} | Format-List SmtpClientAuthenticationDisabled"
)
TENANT_SWITCH_ON = "Set-TransportConfig -SmtpClientAuthenticationDisabled $false"
TENANT_SWITCH_READ = "Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled"

# Cmdlets from the ExchangeOnlineManagement module used in the file; each needs
# Connect-ExchangeOnline first. Graph cmdlets all carry "-Mg" in their name.
EXCHANGE_CMDLET = re.compile(
    r"\b(?:Get|Set|New|Add|Remove)-(?:CASMailbox|TransportConfig|EXOMailbox|EXOMailboxStatistics|"
    r"Recipient|RecipientPermission|MailboxPermission|ServicePrincipal|AuthenticationPolicy|"
    r"OrganizationConfig|User|BlockedSenderAddress|MessageTraceV2|Mailbox)\b"
)
GRAPH_CMDLET = re.compile(r"\b\w+-Mg\w+")


@pytest.fixture(scope="module")
def kb() -> Knowledge:
    """Load the packaged knowledge afresh (independent of the shared cache)."""
    return load_knowledge()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """Return the decoded JSON, for tests that break it on purpose."""
    document: dict[str, Any] = json.loads(KNOWLEDGE_FILE.read_text(encoding="utf-8"))
    return document


def cause_text(cause: Cause) -> str:
    """Everything a cause says, as one string (for 'is this fact mentioned' checks)."""
    parts = [cause.title, cause.summary, cause.why, cause.wait, cause.forward_text]
    parts += [*cause.symptoms, *cause.fix.steps, *cause.check.powershell, *cause.fix.powershell]
    parts += [link.url for link in cause.links] + [link.title for link in cause.links]
    for path in (*cause.check.click_paths, *cause.fix.click_paths):
        parts += [path.portal, path.url, *path.steps]
    return "\n".join(parts)


def all_powershell_lists(kb: Knowledge) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every PowerShell list in the knowledge, with where it lives."""
    for cause in kb.causes:
        yield f"{cause.id}.check", cause.check.powershell
        yield f"{cause.id}.fix", cause.fix.powershell
    for question in kb.questions.values():
        yield f"questions.{question.id}", question.how_to_find_out.powershell


def all_click_paths(kb: Knowledge) -> Iterator[tuple[str, ClickPath]]:
    """Every click path in the knowledge, with where it lives."""
    for cause in kb.causes:
        for path in (*cause.check.click_paths, *cause.fix.click_paths):
            yield cause.id, path
    for question in kb.questions.values():
        for path in question.how_to_find_out.click_paths:
            yield f"questions.{question.id}", path


def prose_strings(node: Any, key: str = "") -> Iterator[str]:
    """Every customer-facing string in the JSON (search terms excluded)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from prose_strings(v, k)
    elif isinstance(node, list):
        if key in {"keywords", "synonyms", "error_codes"}:
            return
        for item in node:
            yield from prose_strings(item, key)
    elif isinstance(node, str):
        yield node


# --------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------


def test_packaged_file_loads_and_validates(kb: Knowledge) -> None:
    assert kb.version == 1
    assert sorted(kb.cause_ids) == sorted(CAUSE_IDS)
    assert len(kb.causes) == 21
    assert tuple(kb.questions) == QUESTION_IDS
    assert kb.assessment_rules and kb.mailbox_types and kb.summary_table
    assert default_path() == KNOWLEDGE_FILE


def test_causes_are_in_fix_order(kb: Knowledge) -> None:
    order = kb.cause_ids
    chain = [
        "no_exchange_license",
        "unsupported_mailbox_type",
        "smtp_auth_disabled_tenant",
        "smtp_auth_disabled_mailbox",
        "security_defaults",
        "conditional_access",
        "mfa_required",
        "basic_auth_disabled",
    ]
    assert order[: len(chain)] == tuple(chain)
    transport = ["wrong_endpoint", "starttls_required", "tls_version", "auth_mechanism"]
    assert all(order.index("basic_auth_disabled") < order.index(t) for t in transport)
    assert order[-1] == "unknown"


def test_every_cause_is_complete(kb: Knowledge) -> None:
    for cause in kb.causes:
        assert cause.title and cause.summary and cause.why and cause.wait, cause.id
        assert cause.symptoms and cause.keywords and cause.fix.steps, cause.id
        assert cause.check.click_paths or cause.check.powershell, cause.id
        assert any(link.url.startswith("https://learn.microsoft.com/") for link in cause.links), (
            cause.id
        )
        assert "{mailbox}" in cause.forward_text, cause.id
        assert cause.forward_text.startswith("Hello"), cause.id
        if cause.id != "unknown":
            assert cause.patterns, f"{cause.id} has no diagnosis patterns"


def test_every_question_explains_how_to_find_out(kb: Knowledge) -> None:
    for question in kb.questions.values():
        how = question.how_to_find_out
        assert how.text and how.click_paths and how.powershell, question.id
        assert question.related_causes, question.id
        if question.id == "mailbox":
            assert question.options == ()
        else:
            assert question.option(UNSURE).title == "I don't know"


def test_every_powershell_line_renders_safely(kb: Knowledge) -> None:
    for where, lines in all_powershell_lists(kb):
        rendered = render_all(lines, "o'brien@contoso.com")
        for template, line in zip(lines, rendered, strict=True):
            assert "{identity}" not in line, where
            if needs_identity(template):
                assert "'o''brien@contoso.com'" in line, where
        if any(needs_identity(line) for line in lines):
            with pytest.raises(IdentityRequired):
                render_all(lines, None)


def test_cmdlets_come_after_their_connect_line(kb: Knowledge) -> None:
    for where, lines in all_powershell_lists(kb):
        for i, line in enumerate(lines):
            before = lines[:i]
            if EXCHANGE_CMDLET.search(line):
                assert "Connect-ExchangeOnline" in before, f"{where}: {line}"
            if GRAPH_CMDLET.search(line) and not line.startswith("Connect-MgGraph"):
                assert any(b.startswith("Connect-MgGraph -Scopes ") for b in before), (
                    f"{where}: {line}"
                )
        exchange_only = [line for line in lines if line != "Connect-ExchangeOnline"]
        if exchange_only and all(EXCHANGE_CMDLET.search(line) for line in exchange_only):
            assert lines[0] == "Connect-ExchangeOnline", where


def test_click_paths_use_todays_admin_centers(kb: Knowledge) -> None:
    allowed = {
        M365_URL,
        EAC_URL,
        ENTRA_URL,
        "https://security.microsoft.com",
        "https://mysignins.microsoft.com/security-info",
        "https://aka.ms/smtprelay",
    }
    for where, path in all_click_paths(kb):
        assert path.url in allowed, f"{where}: {path.url}"
        assert path.steps, where
        # The seed sends people to admin.exchange.microsoft.com > Users > Active users,
        # which is the Microsoft 365 admin center's menu, not the Exchange admin center's.
        if path.url == EAC_URL:
            assert path.steps[0] != "Users", where


def test_mailbox_type_options_all_have_a_mailbox_type(kb: Knowledge) -> None:
    ids = {t.id for t in kb.mailbox_types}
    assert set(kb.question("mailbox_type").values) - {UNSURE} <= ids


def test_objects_are_immutable(kb: Knowledge) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        kb.causes[0].title = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        kb.questions["license"] = kb.questions["mfa"]  # type: ignore[index]


def test_lookups(kb: Knowledge) -> None:
    assert kb.cause("tls_version").id == "tls_version"
    assert kb.mailbox_type("shared").smtp_auth is SmtpAuthSupport.NEEDS_LICENSED_USER
    with pytest.raises(KeyError):
        kb.cause("nope")
    with pytest.raises(KeyError):
        kb.question("nope")
    with pytest.raises(KeyError):
        kb.question("license").option("maybe")


def test_forward_text_fills_the_mailbox(kb: Knowledge) -> None:
    cause = kb.cause("smtp_auth_disabled_mailbox")
    text = cause.forward("tms@contoso.com")
    assert "tms@contoso.com" in text and "{mailbox}" not in text
    assert "{mailbox}" not in cause.forward(None)


def test_default_knowledge_is_cached_and_not_built_at_import() -> None:
    assert default_knowledge() is default_knowledge()
    probe = "import dialogs.knowledge as k; print(k.default_knowledge.cache_info().currsize)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0"


# --------------------------------------------------------------------------
# The loader rejects broken files, naming the place
# --------------------------------------------------------------------------


def _broken(raw: dict[str, Any], change: Any) -> KnowledgeError:
    doc = copy.deepcopy(raw)
    change(doc)
    with pytest.raises(KnowledgeError) as info:
        parse_knowledge(doc, source="test.json")
    return info.value


def _cause(doc: dict[str, Any], cause_id: str) -> dict[str, Any]:
    return next(c for c in doc["causes"] if c["id"] == cause_id)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["causes"].pop(0), "missing cause id(s) ['no_exchange_license']"),
        (lambda d: d["causes"].insert(0, copy.deepcopy(d["causes"][1])), "appears 2 times"),
        (lambda d: d["causes"].append(d["causes"].pop(0)), "'unknown' must be the last cause"),
        (lambda d: _cause(d, "tls_version").update(id="tls"), "unknown cause id(s) ['tls']"),
        (lambda d: _cause(d, "tls_version").pop("wait"), "missing key(s) ['wait']"),
        (lambda d: _cause(d, "tls_version").update(links=[]), "links: must not be empty"),
        (
            lambda d: _cause(d, "tls_version")["links"].append({"title": "x", "url": "http://x"}),
            "https://",
        ),
        (
            lambda d: _cause(d, "smtp_auth_disabled_mailbox")["fix"]["powershell"].append(
                "Set-CASMailbox {mailbox}"
            ),
            "only {identity} may be used",
        ),
        (
            lambda d: _cause(d, "smtp_auth_disabled_mailbox")["fix"]["powershell"].append(
                "Set-CASMailbox -Identity <mailbox>"
            ),
            "must be runnable as is",
        ),
        (
            lambda d: _cause(d, "tls_version").update(forward_text="Hi {upn}"),
            "only {mailbox} and {identity} may be used",
        ),
        (
            lambda d: _cause(d, "tls_version").update(
                patterns=[{"regex": "(", "weight": 0.5, "label": "x"}]
            ),
            "does not compile",
        ),
        (
            lambda d: _cause(d, "tls_version").update(
                patterns=[{"regex": "x", "weight": 2, "label": "x"}]
            ),
            "number from 0 to 1",
        ),
        (lambda d: d["questions"]["license"]["options"].pop(), "must include an 'unsure' option"),
        (
            lambda d: d["questions"]["mailbox"]["options"].append(
                {"value": "x", "title": "X", "synonyms": []}
            ),
            "has no options",
        ),
        (lambda d: d["questions"].pop("mfa"), "missing key(s) ['mfa']"),
        (
            lambda d: d["questions"]["license"]["options"][0]["synonyms"].append("nope"),
            "selects both",
        ),
        (
            lambda d: d["questions"]["license"].update(related_causes=["nope"]),
            "unknown cause 'nope'",
        ),
        (
            lambda d: d["assessment_rules"].append(
                {
                    "when": {"license": "maybe"},
                    "cause": "unknown",
                    "severity": "warning",
                    "note": "x",
                }
            ),
            "'maybe' is not an option of 'license'",
        ),
        (
            lambda d: d["assessment_rules"].append(
                {"when": {"colour": "red"}, "cause": "unknown", "severity": "warning", "note": "x"}
            ),
            "unknown fact 'colour'",
        ),
        (
            lambda d: d["assessment_rules"].append(
                {"when": {"license": "no"}, "cause": "nope", "severity": "warning", "note": "x"}
            ),
            "unknown cause 'nope'",
        ),
        (
            lambda d: d["assessment_rules"].append(
                {"when": {"license": "no"}, "cause": "unknown", "severity": "fatal", "note": "x"}
            ),
            "must be one of ['blocker', 'warning']",
        ),
        (
            lambda d: d["summary_table"].append({"reason": "r", "solution": "s", "cause": "nope"}),
            "unknown cause 'nope'",
        ),
        (lambda d: d["mailbox_types"].pop(1), "no entry for mailbox_type option 'shared'"),
        (lambda d: d["notices"].clear(), "missing notice 'basic_auth_retirement'"),
        (lambda d: d["notices"]["basic_auth_retirement"].update(date="end of 2026"), "ISO date"),
        (lambda d: d.update(version=2), "must be 1"),
        (lambda d: d.update(extra=1), "unknown key(s) ['extra']"),
    ],
)
def test_loader_rejects_contract_breaches(raw: dict[str, Any], change: Any, expected: str) -> None:
    error = _broken(raw, change)
    assert any(expected in problem for problem in error.problems), error.problems
    assert str(error).startswith("test.json:")


def test_loader_reports_every_problem_at_once(raw: dict[str, Any]) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["causes"].pop(0)
        doc["questions"]["license"]["options"].pop()

    error = _broken(raw, change)
    assert len(error.problems) >= 2


def test_loader_rejects_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="cannot read"):
        load_knowledge(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="not valid JSON"):
        load_knowledge(bad)


def test_loader_accepts_a_copy_of_the_packaged_file(tmp_path: Path) -> None:
    copy_path = tmp_path / "knowledge.json"
    copy_path.write_text(KNOWLEDGE_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_knowledge(copy_path).cause_ids == load_knowledge().cause_ids


# --------------------------------------------------------------------------
# The customer's source document: everything in, mistakes out
# --------------------------------------------------------------------------


def test_seed_enable_authenticated_smtp_steps(kb: Knowledge) -> None:
    cause = kb.cause("smtp_auth_disabled_mailbox")
    m365 = [p for p in cause.fix.click_paths if p.url == M365_URL]
    assert m365, "the seed's Microsoft 365 admin center route must be there"
    assert list(m365[0].steps[:5]) == [
        "Users",
        "Active users",
        "{mailbox}",
        "Mail",
        "Manage email apps",
    ]
    assert any("Authenticated SMTP" in s for s in m365[0].steps)
    assert m365[0].steps[-1] == "Save changes"
    assert MAILBOX_SWITCH_ON in cause.fix.powershell
    assert cause.fix.powershell[0] == "Connect-ExchangeOnline"
    assert MAILBOX_SWITCH_READ in cause.check.powershell
    # Seed: "if customer cannot run PowerShell, give them this line to pass to their IT provider".
    assert "IT provider" in cause_text(cause)
    assert (
        "Set-CASMailbox -Identity {identity} -SmtpClientAuthenticationDisabled $false"
        in cause.forward_text
    )


def test_seed_tenant_switch(kb: Knowledge) -> None:
    cause = kb.cause("smtp_auth_disabled_tenant")
    text = cause_text(cause)
    assert "Turn off SMTP AUTH protocol for your organization" in text
    assert TENANT_SWITCH_ON in cause.fix.powershell
    assert TENANT_SWITCH_READ in cause.check.powershell
    assert MAILBOX_SWITCH_READ in cause.check.powershell
    assert any(
        p.url == EAC_URL and list(p.steps[:2]) == ["Settings", "Mail flow"]
        for p in cause.fix.click_paths
    )
    # Mailbox $null inherits the tenant, $false overrides it.
    assert "$null" in cause.why and "$false" in cause.why
    # Tenant-level SMTP AUTH off blocks OAuth too.
    assert "OAuth" in cause.why


def test_seed_wait_times_are_present_and_honest(kb: Knowledge) -> None:
    tenant = kb.cause("smtp_auth_disabled_tenant").wait
    assert re.search(r"3[–-]5 minutes", tenant) and "hour" in tenant
    defaults = kb.cause("security_defaults").wait
    assert "15 minutes" in defaults and "hour" in defaults
    mailbox = kb.cause("smtp_auth_disabled_mailbox").wait
    assert "60 minutes" in mailbox and "minutes" in mailbox.split(";")[0]


def test_seed_mailbox_types(kb: Knowledge) -> None:
    support = {t.id: t.smtp_auth for t in kb.mailbox_types}
    assert support["user"] is SmtpAuthSupport.SUPPORTED
    # Seed: "available for shared mailboxes": the switch is, but there is no password.
    assert support["shared"] is SmtpAuthSupport.NEEDS_LICENSED_USER
    for not_ok in ("room", "equipment", "group", "unlicensed", "soft_deleted"):
        assert support[not_ok] is SmtpAuthSupport.NOT_SUPPORTED, not_ok
    shared = kb.mailbox_type("shared").note
    assert "Send as" in shared and "OAuth" in shared and "password" in shared
    user = kb.mailbox_type("user").note
    for licence in (
        "Plan 1",
        "2",
        "Business Basic",
        "Business Standard",
        "Business Premium",
        "E3",
        "E5",
        "F3",
        "Kiosk",
    ):
        assert licence in user, licence
    assert "EXCHANGE_S_FOUNDATION" in user
    assert "Microsoft 365 Groups" in kb.cause("unsupported_mailbox_type").why
    assert "soft-deleted or recently restored" in kb.cause("unsupported_mailbox_type").why
    assert "Room / Equipment" in kb.cause("unsupported_mailbox_type").why


def test_seed_licence_check(kb: Knowledge) -> None:
    cause = kb.cause("no_exchange_license")
    path = cause.check.click_paths[0]
    assert path.url == M365_URL
    assert list(path.steps[:4]) == ["Users", "Active users", "{mailbox}", "Licenses and apps"]
    assert any("Exchange Online" in s for s in path.steps)
    for licence in ("Exchange Online Plan 1", "Business Standard", "Business Premium", "E3", "E5"):
        assert licence in cause.why, licence
    how = kb.question("license").how_to_find_out.text
    assert "If Exchange Online is missing, SMTP will not be available" in how


def test_seed_modern_auth_section(kb: Knowledge) -> None:
    assert "requiring MFA for all protocols" in kb.cause("conditional_access").why
    assert "legacy auth blocked" in kb.cause("conditional_access").why
    assert "legacy auth blocked at the tenant level" in kb.cause("basic_auth_disabled").why
    assert "whatever the Exchange settings" in kb.cause("security_defaults").summary


def test_security_defaults_uses_the_entra_admin_center(kb: Knowledge) -> None:
    cause = kb.cause("security_defaults")
    path = cause.check.click_paths[0]
    assert path.url == ENTRA_URL
    assert list(path.steps[:4]) == [
        "Identity",
        "Overview",
        "Properties",
        "Manage security defaults",
    ]
    how = kb.question("security_defaults").how_to_find_out
    assert how.click_paths[0].url == ENTRA_URL
    assert (
        "Get-MgPolicyIdentitySecurityDefaultEnforcementPolicy | Format-List IsEnabled"
        in how.powershell
    )
    # Turning them off is not the first advice: OAuth is, and the risk is stated.
    assert "OAuth" in cause.fix.steps[0]
    assert "Conditional Access" in cause.fix.steps[1]


def test_seed_app_password_is_present_but_framed(kb: Knowledge) -> None:
    cause = kb.cause("mfa_required")
    text = cause_text(cause)
    assert (
        "https://doc.ozols.lv/books/ozols-tms-english/page/8-e-mail-server-configuration-for-work-with-ozols-tms"
        in text
    )
    assert "app password" in text.lower()
    assert "per-user MFA" in text
    assert "security defaults" in text and "Conditional Access" in text
    assert "December 2026" in text
    # Seed: without MFA the normal password works.
    assert any("Without MFA the normal account password works" in step for step in cause.fix.steps)
    # OAuth comes first, the app password is only a fallback.
    assert "OAuth" in cause.fix.steps[0]
    assert "Temporary fallback" in cause.fix.steps[1]


SEED_SUMMARY_ROWS = {
    "Tenant-wide SMTP AUTH disabled": "smtp_auth_disabled_tenant",
    "hidden in the new admin center": "smtp_auth_disabled_mailbox",
    "No Exchange Online licence": "no_exchange_license",
    "Security defaults enabled": "security_defaults",
    "Legacy authentication blocked by Conditional Access": "conditional_access",
    "Mailbox type unsupported": "unsupported_mailbox_type",
    "Needs PowerShell": "smtp_auth_disabled_mailbox",
}


def test_seed_summary_table_is_there_and_corrected(kb: Knowledge) -> None:
    for reason, cause_id in SEED_SUMMARY_ROWS.items():
        rows = [row for row in kb.summary_table if reason in row.reason]
        assert len(rows) == 1, reason
        assert rows[0].cause == cause_id, reason
    hidden = next(r for r in kb.summary_table if "hidden" in r.reason)
    assert not hidden.solution.startswith("Use Classic")
    assert "not needed" in hidden.solution and "Manage email apps" in hidden.solution
    powershell = next(r for r in kb.summary_table if r.reason == "Needs PowerShell")
    assert "-SmtpClientAuthenticationDisabled $false" in powershell.solution
    assert "Connect-ExchangeOnline" in powershell.solution
    # Rows the seed lacks: MFA, Basic retirement, TLS.
    assert {"mfa_required", "basic_auth_disabled", "tls_version"} <= {
        r.cause for r in kb.summary_table
    }


def test_seed_mistake_enabled_parameter_is_absent() -> None:
    assert "SmtpClientAuthenticationEnabled" not in KNOWLEDGE_FILE.read_text(encoding="utf-8")


def test_seed_mistake_azure_ad_naming_is_absent() -> None:
    text = KNOWLEDGE_FILE.read_text(encoding="utf-8")
    assert "Azure Active Directory" not in text
    assert "portal.azure.com" not in text
    assert "Azure AD" not in text


def test_legacy_tls_is_never_presented_as_a_fix_for_smtp_office365(
    kb: Knowledge, raw: dict[str, Any]
) -> None:
    for text in prose_strings(raw):
        if re.search(r"legacy TLS", text, re.IGNORECASE):
            assert "smtp-legacy.office365.com" in text, text
    for where, lines in all_powershell_lists(kb):
        if where.endswith(".fix"):
            assert not any("AllowLegacyTLSClients" in line for line in lines), where
    tls = kb.cause("tls_version")
    assert "does nothing for clients connecting to smtp.office365.com" in tls.why
    assert "TLS 1.2" in tls.summary


def test_permanently_disabled_claim_is_corrected(kb: Knowledge) -> None:
    assert "not permanent" in kb.cause("smtp_auth_disabled_tenant").why
    assert "January 2020" in kb.cause("smtp_auth_disabled_mailbox").why


# --------------------------------------------------------------------------
# Basic authentication retirement and OAuth
# --------------------------------------------------------------------------


def test_basic_auth_retirement_notice(kb: Knowledge) -> None:
    notice = kb.notice("basic_auth_retirement")
    assert notice.date == date(2026, 12, 31)
    assert "end of December 2026" in notice.text
    assert "OAuth" in notice.text and "app passwords" in notice.text
    assert "turn it back on" in notice.text and "2027" in notice.text


@pytest.mark.parametrize("cause_id", ["basic_auth_disabled", "mfa_required"])
def test_december_2026_is_stated_with_the_oauth_recommendation(
    kb: Knowledge, cause_id: str
) -> None:
    cause = kb.cause(cause_id)
    assert "December 2026" in cause.why
    assert "December 2026" in cause.forward_text
    text = cause_text(cause)
    assert "https://outlook.office.com/SMTP.Send" in text
    assert "SMTP.SendAsApp" in text
    assert "New-ServicePrincipal" in text and "Add-MailboxPermission" in text
    assert "XOAUTH2" in text


def test_unknown_cause_points_to_microsofts_tests_and_a_person(kb: Knowledge) -> None:
    text = cause_text(kb.cause("unknown"))
    assert "https://aka.ms/smtprelay" in text
    assert "SmtpClientDiag" in text and "Test-SmtpClientSubmission" in text
    assert "talk to a person" in text


# --------------------------------------------------------------------------
# Option matching
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "reply", "value"),
    [
        ("license", "yep", "yes"),
        ("license", "Yes!", "yes"),
        ("license", "nope", "no"),
        ("license", "no idea", "unsure"),
        ("license", "I don't know", "unsure"),
        ("license", "I DON’T KNOW", "unsure"),
        ("license", "not licensed", "no"),
        ("license", "it has Business Premium", "yes"),
        ("mailbox_type", "it's a shared mailbox", "shared"),
        ("mailbox_type", "Shared", "shared"),
        ("mailbox_type", "a normal user mailbox", "user"),
        ("mailbox_type", "meeting room", "room"),
        ("mailbox_type", "Microsoft 365 group", "group"),
        ("auth_method", "we use app passwords", "app_password"),
        ("auth_method", "app_password", "app_password"),
        ("auth_method", "modern auth", "oauth"),
        ("auth_method", "OAuth2", "oauth"),
        ("auth_method", "just the normal password", "basic"),
        ("mfa", "no MFA", "no"),
        ("mfa", "yeah we have MFA", "yes"),
        ("security_defaults", "they are enabled", "yes"),
        ("security_defaults", "not enabled", "no"),
        ("org_smtp_auth", "the box is not ticked", "enabled"),
        ("org_smtp_auth", "it's ticked", "disabled"),
        ("mailbox_smtp_auth", "I don't see it", "missing"),
        ("mailbox_smtp_auth", "unticked", "disabled"),
        ("conditional_access", "we block legacy auth", "yes"),
        ("conditional_access", "no conditional access", "no"),
        ("test_result", "535 5.7.139 Authentication unsuccessful", "auth_failed"),
        ("test_result", "it works now", "works"),
        ("test_result", "haven't tried", "not_tested"),
        ("test_result", "timed out", "connection_failed"),
        # A negator right before an option phrase turns it around.
        ("mfa", "we don't use MFA", "no"),
        ("mailbox_type", "no, it's a user mailbox", "user"),  # the leading "no," is no negator
        ("mailbox_type", "not shared, a normal user", "user"),
    ],
)
def test_natural_replies_select_the_right_option(
    kb: Knowledge, question: str, reply: str, value: str
) -> None:
    option = kb.question(question).match_option(reply)
    assert option is not None, reply
    assert option.value == value


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("license", ""),
        ("license", "banana"),
        ("license", "yes and no"),
        ("license", "yesterday"),  # whole words only: "yes" must not match inside "yesterday"
        ("license", "nobody"),
        ("mailbox_type", "sharedmailboxes"),
        ("mailbox", "tms@contoso.com"),  # the mailbox question is free text
        # These chose "MFA: yes" and "Shared mailbox" on the words "MFA" and "shared mailbox".
        ("mfa", "we are not using MFA"),
        ("mfa", "we don't have any MFA"),
        ("mailbox_type", "it is not a shared mailbox"),
    ],
)
def test_unclear_replies_select_nothing(kb: Knowledge, question: str, reply: str) -> None:
    assert kb.question(question).match_option(reply) is None


def test_every_option_is_selected_by_its_own_value_and_title(kb: Knowledge) -> None:
    for question in kb.questions.values():
        for option in question.options:
            assert question.match_option(option.value) == option, (question.id, option.value)
            assert question.match_option(option.title) == option, (question.id, option.title)


def test_normalise() -> None:
    assert normalise("  Don’t KNOW!! ") == "dont know"
    assert normalise("app_password") == "app password"
    assert normalise("5.7.139") == "5 7 139"


# --------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------


def _ids(kb: Knowledge, facts: dict[str, str]) -> list[tuple[str, str]]:
    return [(f.cause.id, f.severity.value) for f in kb.findings(facts)]


def test_no_answers_no_findings(kb: Knowledge) -> None:
    assert kb.findings({}) == []


def test_healthy_oauth_setup_has_no_findings(kb: Knowledge) -> None:
    facts = {
        "license": "yes",
        "mailbox_type": "user",
        "mfa": "yes",
        "security_defaults": "yes",
        "org_smtp_auth": "disabled",
        "mailbox_smtp_auth": "enabled",
        "conditional_access": "yes",
        "auth_method": "oauth",
        "test_result": "works",
    }
    # Only the reminder that a tenant-wide "off" is overridden only by an explicit $false.
    assert _ids(kb, facts) == [("smtp_auth_disabled_tenant", "warning")]
    facts["org_smtp_auth"] = "enabled"
    assert _ids(kb, facts) == []


def test_healthy_password_setup_only_warns_about_december_2026(kb: Knowledge) -> None:
    facts = {
        "license": "yes",
        "mailbox_type": "user",
        "mfa": "no",
        "security_defaults": "no",
        "org_smtp_auth": "enabled",
        "mailbox_smtp_auth": "enabled",
        "conditional_access": "no",
        "auth_method": "basic",
        "test_result": "works",
    }
    findings = kb.findings(facts)
    assert [(f.cause.id, f.severity) for f in findings] == [
        ("basic_auth_disabled", Severity.WARNING)
    ]
    assert "December 2026" in findings[0].note


def test_no_licence_is_the_first_blocker(kb: Knowledge) -> None:
    assert _ids(kb, {"license": "no", "mailbox_smtp_auth": "missing"})[0] == (
        "no_exchange_license",
        "blocker",
    )


def test_shared_mailbox_with_password_is_a_blocker_but_with_oauth_a_warning(kb: Knowledge) -> None:
    assert ("unsupported_mailbox_type", "blocker") in _ids(
        kb, {"mailbox_type": "shared", "auth_method": "basic"}
    )
    assert _ids(kb, {"mailbox_type": "shared", "auth_method": "oauth"}) == [
        ("unsupported_mailbox_type", "warning")
    ]


def test_blockers_come_first_then_fix_order(kb: Knowledge) -> None:
    facts = {
        "mailbox_type": "shared",
        "auth_method": "basic",
        "security_defaults": "yes",
        "org_smtp_auth": "disabled",
        "mfa": "yes",
    }
    assert _ids(kb, facts) == [
        ("unsupported_mailbox_type", "blocker"),
        ("smtp_auth_disabled_tenant", "blocker"),
        ("security_defaults", "blocker"),
        ("mfa_required", "blocker"),
        ("basic_auth_disabled", "warning"),
    ]


def test_missing_switch_points_at_licence_and_mailbox_type(kb: Knowledge) -> None:
    ids = _ids(kb, {"mailbox_smtp_auth": "missing"})
    assert ("no_exchange_license", "warning") in ids
    assert ("unsupported_mailbox_type", "warning") in ids


def test_unsure_only_matches_rules_that_ask_for_it(kb: Knowledge) -> None:
    facts = {qid: UNSURE for qid in QUESTION_IDS if qid != "mailbox"}
    for finding in kb.findings(facts):
        rule = kb.assessment_rules[finding.rule_index]
        assert all(UNSURE in condition.values for condition in rule.when)


def test_every_cause_except_transport_edge_cases_is_reachable_from_answers(kb: Knowledge) -> None:
    reachable = {rule.cause for rule in kb.assessment_rules}
    # These are only recognised from the error text (diagnosis patterns), not from answers.
    text_only = {"account_blocked", "auth_mechanism", "not_authenticated"}
    assert set(CAUSE_IDS) - reachable == text_only


FACTS = st.fixed_dictionaries(
    {},
    optional={
        qid: st.sampled_from(
            json.loads(KNOWLEDGE_FILE.read_text(encoding="utf-8"))["questions"][qid]["options"]
        ).map(lambda option: option["value"])
        for qid in QUESTION_IDS
        if qid != "mailbox"
    },
)


@given(FACTS)
def test_findings_properties(facts: dict[str, str]) -> None:
    kb = default_knowledge()
    findings = kb.findings(facts)
    ids = [f.cause.id for f in findings]
    assert len(ids) == len(set(ids)), "each cause once"
    ranks = [0 if f.severity is Severity.BLOCKER else 1 for f in findings]
    assert ranks == sorted(ranks), "blockers before warnings"
    for severity in Severity:
        same = [kb.cause_ids.index(f.cause.id) for f in findings if f.severity is severity]
        assert same == sorted(same), "fix order within a severity"
    for finding in findings:
        rule = kb.assessment_rules[finding.rule_index]
        assert rule.matches(facts) and rule.cause == finding.cause.id
        # The first matching rule for the cause decided.
        earlier = [r for r in kb.assessment_rules[: finding.rule_index] if r.cause == rule.cause]
        assert not any(r.matches(facts) for r in earlier)
    matched = {r.cause for r in kb.assessment_rules if r.matches(facts)}
    assert matched == set(ids), "no matching cause is dropped"


def test_forward_text_quotes_the_mailbox_inside_powershell(kb: Knowledge) -> None:
    # The forwarded text names the mailbox in prose, but inside a PowerShell line
    # it is the validated, single-quoted literal like every other PowerShell.
    forwarded = kb.cause("smtp_auth_disabled_mailbox").forward("o'brien@contoso.com")
    assert "-Identity 'o''brien@contoso.com' -SmtpClientAuthenticationDisabled $false" in forwarded
    hostile = kb.cause("smtp_auth_disabled_mailbox").forward("x@y.com'; Remove-Mailbox z")
    assert "Remove-Mailbox" not in hostile.split("Set-CASMailbox", 1)[1].split("$false", 1)[0]


def test_per_knowledge_builds_once_per_object_and_stays_bounded() -> None:
    from dialogs.knowledge import per_knowledge

    built: list[object] = []

    @per_knowledge
    def index(knowledge: object) -> int:
        built.append(knowledge)
        return len(built)

    first, second = object(), object()
    assert index(first) == index(first) == 1
    assert index(second) == 2
    for _ in range(10):
        index(object())
    assert index(first) == 13  # evicted after more than eight others, built again
