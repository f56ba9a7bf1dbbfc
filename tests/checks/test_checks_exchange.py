"""SMTP AUTH switches: the fake Exchange admin endpoint and pasted PowerShell output."""

from __future__ import annotations

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks import CheckStatus
from checks.exchange import (
    NOT_READ,
    POWERSHELL_TENANT,
    UNSUPPORTED_LABEL,
    PastedOutputError,
    evaluate_switches,
    parse_pasted_output,
    powershell_mailbox,
    result_from_pasted,
)
from tests.checks.fakes import StartTenant, TenantScenario

S = TenantScenario()


@pytest.mark.parametrize(
    ("tenant_off", "mailbox_off", "status", "cause"),
    [
        (False, None, CheckStatus.PASS, None),
        (True, None, CheckStatus.FAIL, "smtp_auth_disabled_tenant"),
        (True, False, CheckStatus.PASS, None),  # mailbox $false overrides the tenant
        (False, True, CheckStatus.FAIL, "smtp_auth_disabled_mailbox"),
        (True, True, CheckStatus.FAIL, "smtp_auth_disabled_mailbox"),
    ],
)
async def test_switches_through_invoke_command(
    start_tenant: StartTenant,
    session: aiohttp.ClientSession,
    tenant_off: bool,
    mailbox_off: bool | None,
    status: CheckStatus,
    cause: str | None,
) -> None:
    tenant = await start_tenant(
        S.with_(transport_smtp_auth_disabled=tenant_off, cas_smtp_auth_disabled=mailbox_off)
    )
    result = await tenant.run_check(session, "smtp_auth_switches", as_mailbox=False)
    assert (result.status, result.cause_id) == (status, cause), result
    assert UNSUPPORTED_LABEL in result.evidence
    assert "unsupported" in result.title.lower()


async def test_invoke_command_request_shape(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    await tenant.run_check(session, "smtp_auth_switches", as_mailbox=False)
    calls = tenant.exchange.calls("exchange")
    assert {c.path for c in calls} == {f"/adminapi/beta/{S.tenant_id}/InvokeCommand"}
    bodies = sorted((c.json for c in calls), key=lambda b: b["CmdletInput"]["CmdletName"])
    assert bodies == [
        {
            "CmdletInput": {
                "CmdletName": "Get-CASMailbox",
                "Parameters": {"Identity": S.mailbox_upn},
            }
        },
        {"CmdletInput": {"CmdletName": "Get-TransportConfig", "Parameters": {}}},
    ]
    for call in calls:
        assert call.method == "POST"
        assert call.headers["X-AnchorMailbox"] == f"UPN:{S.admin_upn}"
        assert call.headers["X-ResponseFormat"] == "json"
    assert "https://outlook.office365.com/.default" in tenant.tokens.calls


@pytest.mark.parametrize("status", [401, 403, 404, 500])
async def test_refused_endpoint_falls_back_to_powershell(
    start_tenant: StartTenant, session: aiohttp.ClientSession, status: int
) -> None:
    tenant = await start_tenant(S.with_(exchange_error=status))
    result = await tenant.run_check(session, "smtp_auth_switches", as_mailbox=False)
    assert result.status is CheckStatus.UNKNOWN
    assert "Run this PowerShell and paste the output" in result.evidence
    assert result.cause_id is None
    assert POWERSHELL_TENANT in result.evidence
    assert powershell_mailbox(S.mailbox_upn) in result.evidence
    assert str(status) in result.evidence


async def test_unknown_mailbox_keeps_the_tenant_reading(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(transport_smtp_auth_disabled=True))
    result = await tenant.run_check(
        session, "smtp_auth_switches", as_mailbox=False, mailbox_upn="ghost@contoso.example"
    )
    assert result.status is CheckStatus.UNKNOWN
    assert result.cause_id == "smtp_auth_disabled_tenant"
    assert "ManagementObjectNotFoundException" in result.evidence
    assert "Get-CASMailbox -Identity 'ghost@contoso.example'" in result.evidence


async def test_missing_exchange_consent_is_unknown_with_powershell(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S, refuse_scopes=["https://outlook.office365.com/.default"])
    result = await tenant.run_check(session, "smtp_auth_switches", as_mailbox=False)
    assert result.status is CheckStatus.UNKNOWN
    assert tenant.exchange.requests == []


def test_powershell_line_quotes_the_address() -> None:
    assert powershell_mailbox("o'brien@contoso.example") == (
        "Get-CASMailbox -Identity 'o''brien@contoso.example' | "
        "Format-List SmtpClientAuthenticationDisabled"
    )


def test_evaluate_switches_not_read_combinations() -> None:
    both = evaluate_switches(NOT_READ, NOT_READ, "a@contoso.example")
    assert both.status is CheckStatus.UNKNOWN and POWERSHELL_TENANT in both.evidence
    only_tenant = evaluate_switches(False, NOT_READ, "a@contoso.example")
    assert only_tenant.status is CheckStatus.UNKNOWN
    assert only_tenant.cause_id == "smtp_auth_disabled_mailbox"
    assert POWERSHELL_TENANT not in only_tenant.evidence
    inherits = evaluate_switches(NOT_READ, None, "a@contoso.example")
    assert inherits.status is CheckStatus.UNKNOWN and POWERSHELL_TENANT in inherits.evidence


# ------------------------------------------------------------------ pasted output

FL_TRUE = "\nSmtpClientAuthenticationDisabled : True\n\n"
FL_BLANK = "\nSmtpClientAuthenticationDisabled : \n\n"
FT_FALSE = """
SmtpClientAuthenticationDisabled
--------------------------------
                           False

"""
FT_BLANK = """
SmtpClientAuthenticationDisabled
--------------------------------

"""
FT_NAMED = """
Name SmtpClientAuthenticationDisabled
---- --------------------------------
tms                              True
"""
FT_NAMED_BLANK = """
Name SmtpClientAuthenticationDisabled
---- --------------------------------
tms
"""
FT_TRUNCATED = """
Name                 PrimarySmtpAddress            SmtpClientAuthenticationDis...
----                 ------------------            ------------------------------
tms                  tms@contoso.example                                   False
"""
SESSION = """PS C:\\> Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled

SmtpClientAuthenticationDisabled : True

PS C:\\> Get-CASMailbox -Identity 'tms@contoso.example' | fl SmtpClientAuthenticationDisabled

SmtpClientAuthenticationDisabled :

PS C:\\>"""


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        (FL_TRUE, None, {"unattributed": True}),
        (FL_TRUE, "tenant", {"tenant": True}),
        (FL_BLANK, "mailbox", {"mailbox": None}),
        ("SmtpClientAuthenticationDisabled : $false", "mailbox", {"mailbox": False}),
        (FT_FALSE, "tenant", {"tenant": False}),
        (FT_BLANK, "mailbox", {"mailbox": None}),
        (FT_NAMED, "mailbox", {"mailbox": True}),
        (FT_NAMED_BLANK, "mailbox", {"mailbox": None}),
        (FT_TRUNCATED, "mailbox", {"mailbox": False}),
        (SESSION, None, {"tenant": True, "mailbox": None}),
        (SESSION.replace("\n", "\r\n"), None, {"tenant": True, "mailbox": None}),
        ('{\n  "SmtpClientAuthenticationDisabled": false\n}', "mailbox", {"mailbox": False}),
        ('{"SmtpClientAuthenticationDisabled":null}', "mailbox", {"mailbox": None}),
        ("The term 'Get-CASMailbox' is not recognized as a name of a cmdlet", None, {}),
        ("hello", None, {}),
        ("", "tenant", {}),
    ],
)
def test_parse_pasted_output(
    text: str, default: str | None, expected: dict[str, bool | None]
) -> None:
    assert parse_pasted_output(text, default=default) == expected  # type: ignore[arg-type]


def test_several_mailboxes_with_different_values_are_refused() -> None:
    text = FT_NAMED + "other                            False\n"
    with pytest.raises(PastedOutputError):
        parse_pasted_output(text, default="mailbox")


_VALUES = st.sampled_from([True, False, None])


def _render(value: bool | None, style: str, case: str) -> str:
    word = {True: "True", False: "False", None: ""}[value]
    prop = {
        "lower": "smtpclientauthenticationdisabled",
        "same": "SmtpClientAuthenticationDisabled",
    }[case]
    if style == "list":
        return f"{prop} : {word}"
    if style == "json":
        literal = "null" if value is None else str(value).lower()
        return f'{{"SmtpClientAuthenticationDisabled": {literal}}}'
    return (
        f"{prop}\n{'-' * len(prop)}\n{word.rjust(len(prop))}\n"
        if word
        else f"{prop}\n{'-' * len(prop)}\n"
    )


@given(
    tenant=_VALUES,
    mailbox=_VALUES,
    styles=st.tuples(*[st.sampled_from(["list", "table", "json"])] * 2),
    case=st.sampled_from(["lower", "same"]),
    noise=st.sampled_from(["", "\n\n", "   \n", "WARNING: some warning\n"]),
)
def test_pasted_session_round_trip(
    tenant: bool | None, mailbox: bool | None, styles: tuple[str, str], case: str, noise: str
) -> None:
    text = (
        f"PS> Get-TransportConfig | fl SmtpClientAuthenticationDisabled\n{noise}"
        f"{_render(tenant, styles[0], case)}\n\n"
        f"PS> get-casmailbox tms@contoso.example | ft SmtpClientAuthenticationDisabled\n{noise}"
        f"{_render(mailbox, styles[1], case)}\n"
    )
    assert parse_pasted_output(text) == {"tenant": tenant, "mailbox": mailbox}


async def test_result_from_pasted(start_tenant: StartTenant) -> None:
    tenant = await start_tenant(S)
    context = tenant.context()
    result = result_from_pasted(SESSION, context)
    assert (result.status, result.cause_id) == (CheckStatus.FAIL, "smtp_auth_disabled_tenant")
    assert result.check_id == "smtp_auth_switches" and "pasted" in result.evidence
    # A second paste (mailbox only, no prompt line) completes an earlier tenant reading.
    follow_up = result_from_pasted(
        FL_TRUE.replace("True", "False"), context, known={"tenant": True}
    )
    assert follow_up.status is CheckStatus.PASS
    nothing = result_from_pasted("garbage", context)
    assert (
        nothing.status is CheckStatus.UNKNOWN
        and "No SmtpClientAuthenticationDisabled" in nothing.evidence
    )
