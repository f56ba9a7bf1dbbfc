"""Reads through the Exchange admin endpoint, and pasted PowerShell output read back.

The switches are judged by the domain (:mod:`dialogs.live.switches`) whichever
way they were read; these tests drive the checks against the fake endpoint and
the paste parser on the shapes admins really paste.
"""

from __future__ import annotations

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks import CheckStatus
from checks.exchange import (
    ExchangeAdminClient,
    basic_smtp_policy,
    full_access_holders,
    read_mailbox,
)
from dialogs.live.phrases import sentence_of
from dialogs.live.switches import (
    NOT_READ,
    POWERSHELL_TENANT,
    PastedOutputError,
    judge_switches,
    parse_pasted_output,
    paste_commands,
    powershell_mailbox,
    read_paste,
    result_from_pasted,
)
from tests.checks.fakes import StartTenant, TenantScenario, auth_policy

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
    result = await tenant.run_check(session, "smtp_auth_switches")
    assert (result.status, result.cause_id) == (status, cause), result
    assert result.facts["source"] == "exchange"
    assert "Microsoft does not officially support" in sentence_of(result)
    assert paste_commands(result, S.mailbox_upn) == []


async def test_invoke_command_request_shape(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    await tenant.run_check(session, "smtp_auth_switches")
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


async def test_only_get_cmdlets_are_ever_sent(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S)
    client = ExchangeAdminClient(session, tenant.tokens)
    with pytest.raises(ValueError, match="only Get- cmdlets"):
        await client.invoke(tenant.context(), "Set-TransportConfig",
                            {"SmtpClientAuthenticationDisabled": False})
    assert tenant.exchange.requests == []
    from checks import collect

    await collect(tenant.context(), tenant.checks(session), token_tenant_id=S.tenant_id)
    assert tenant.exchange.cmdlets() and all(c.startswith("Get-")
                                             for c in tenant.exchange.cmdlets())


@pytest.mark.parametrize("status", [401, 403, 500])
async def test_refused_endpoint_falls_back_to_powershell(
    start_tenant: StartTenant, session: aiohttp.ClientSession, status: int
) -> None:
    tenant = await start_tenant(S.with_(exchange_error=status))
    result = await tenant.run_check(session, "smtp_auth_switches")
    assert result.status is CheckStatus.UNKNOWN and result.finding == "switches.unread"
    assert result.cause_id is None
    assert paste_commands(result, S.mailbox_upn) == [
        POWERSHELL_TENANT, powershell_mailbox(S.mailbox_upn)]
    assert str(status) in result.detail
    if status == 403:
        assert "View-Only Organization Management" in sentence_of(result)


async def test_a_mailbox_exchange_does_not_have_is_not_a_refusal(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(transport_smtp_auth_disabled=True))
    result = await tenant.run_check(session, "smtp_auth_switches",
                                    mailbox_upn="ghost@contoso.example")
    assert result.status is CheckStatus.SKIPPED and result.finding == "switches.no_mailbox"
    assert "refused" not in sentence_of(result)
    # Nothing to paste: there is no mailbox, and the organisation's switch was read.
    assert paste_commands(result, "ghost@contoso.example") == []


async def test_only_the_unread_switch_is_asked_for(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(exchange_refuse=("Get-CASMailbox",),
                                        transport_smtp_auth_disabled=True))
    result = await tenant.run_check(session, "smtp_auth_switches")
    assert result.status is CheckStatus.UNKNOWN
    assert result.cause_id == "smtp_auth_disabled_tenant"
    assert paste_commands(result, S.mailbox_upn) == [powershell_mailbox(S.mailbox_upn)]


async def test_missing_exchange_consent_is_unknown_with_powershell(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S, refuse_scopes=["https://outlook.office365.com/.default"])
    result = await tenant.run_check(session, "smtp_auth_switches")
    assert result.status is CheckStatus.UNKNOWN and result.facts["refusal"] == "token.unavailable"
    assert len(paste_commands(result, S.mailbox_upn)) == 2
    assert tenant.exchange.requests == []


def test_powershell_line_quotes_the_address() -> None:
    assert powershell_mailbox("o'brien@contoso.example") == (
        "Get-CASMailbox -Identity 'o''brien@contoso.example' | "
        "Format-List SmtpClientAuthenticationDisabled"
    )


def test_judge_switches_not_read_combinations() -> None:
    both = judge_switches(NOT_READ, NOT_READ)
    assert both.status is CheckStatus.UNKNOWN and both.facts == {"tenant": "unread",
                                                                  "mailbox": "unread"}
    only_tenant = judge_switches(False, NOT_READ)
    assert only_tenant.status is CheckStatus.UNKNOWN
    assert only_tenant.cause_id == "smtp_auth_disabled_mailbox"
    inherits = judge_switches(NOT_READ, None)
    assert inherits.status is CheckStatus.UNKNOWN and inherits.facts["tenant"] == "unread"


# ------------------------------------------------------------ mailboxes, rights, policies


@pytest.mark.parametrize(("purpose", "recipient_type"), [
    ("user", "UserMailbox"), ("shared", "SharedMailbox"), ("room", "RoomMailbox"),
    ("equipment", "EquipmentMailbox"), (None, None),
])
async def test_get_mailbox_reads_the_recipient_type(
    start_tenant: StartTenant, session: aiohttp.ClientSession, purpose: str | None,
    recipient_type: str | None,
) -> None:
    tenant = await start_tenant(S.with_(user_purpose=purpose))
    client = ExchangeAdminClient(session, tenant.tokens)
    found = await read_mailbox(client, tenant.context(), deadline=1e12)
    assert (found.recipient_type if found else None) == recipient_type


async def test_full_access_holders_skip_self_and_denied(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(full_access=(S.admin_upn, "Helpdesk@contoso.example")))
    client = ExchangeAdminClient(session, tenant.tokens)
    holders = await full_access_holders(client, tenant.context(), deadline=1e12)
    assert holders == [S.admin_upn, "helpdesk@contoso.example"]


@pytest.mark.parametrize(("policies", "default", "own", "expected"), [
    ([], None, None, (None, None)),
    ([auth_policy("Block Basic", allow_basic_smtp=False)], "Block Basic", None,
     ("Block Basic", False)),
    ([auth_policy("Block Basic", allow_basic_smtp=False),
      auth_policy("Allow SMTP", allow_basic_smtp=True)], "Block Basic", "Allow SMTP",
     ("Allow SMTP", True)),  # the user's own policy wins over the organisation's default
])
async def test_the_authentication_policy_that_applies(
    start_tenant: StartTenant, session: aiohttp.ClientSession, policies: list[dict[str, object]],
    default: str | None, own: str | None, expected: tuple[str | None, bool | None],
) -> None:
    tenant = await start_tenant(S.with_(auth_policies=policies, default_auth_policy=default,
                                        user_auth_policy=own))
    client = ExchangeAdminClient(session, tenant.tokens)
    policy = await basic_smtp_policy(client, tenant.context(), deadline=1e12)
    assert (policy.policy, policy.allows_basic_smtp) == expected


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


def test_result_from_pasted() -> None:
    values, readable = read_paste(SESSION, {})
    result = result_from_pasted(values, readable=readable)
    assert (result.status, result.cause_id) == (CheckStatus.FAIL, "smtp_auth_disabled_tenant")
    assert result.check_id == "smtp_auth_switches" and result.facts["source"] == "pasted"
    # A second paste (mailbox only, no prompt line) completes an earlier tenant reading.
    values, readable = read_paste(FL_TRUE.replace("True", "False"), {"tenant": True})
    assert result_from_pasted(values, readable=readable).status is CheckStatus.PASS
    values, readable = read_paste("garbage", {})
    nothing = result_from_pasted(values, readable=readable)
    assert nothing.status is CheckStatus.UNKNOWN and not readable
    assert nothing.facts["source"] == "paste_unreadable"
