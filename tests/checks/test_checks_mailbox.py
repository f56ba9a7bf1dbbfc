"""The mailbox type: Graph for the signed-in user's own mailbox, Exchange for any other.

Microsoft documents ``userPurpose`` three ways (a string, ``{"value": …}``, and
a top-level ``value`` on the property path); all read the same. Graph's
``mailboxSettings`` of *another* user is refused (403 ``ErrorAccessDenied``)
even for Global Administrators, so another mailbox is read with
``Get-Mailbox`` and Graph is never asked.
"""

from __future__ import annotations

import aiohttp
import pytest

from checks import CheckStatus
from checks.base import as_bool, entity_of, unwrap_value
from checks.mailbox import user_purpose_of
from dialogs.live.phrases import sentence_of
from tests.checks.fakes import PURPOSE_SHAPES, RECIPIENT_TYPES, StartTenant, TenantScenario

S = TenantScenario()
OWN = S.signed_in_as_mailbox()


@pytest.mark.parametrize("shape", PURPOSE_SHAPES)
@pytest.mark.parametrize("purpose", ["user", "linked", "shared", "room", "equipment", "others"])
async def test_own_mailbox_reads_user_purpose_in_every_documented_shape(
    start_tenant: StartTenant, session: aiohttp.ClientSession, shape: str, purpose: str
) -> None:
    tenant = await start_tenant(OWN.with_(user_purpose=purpose, user_purpose_shape=shape))
    result = await tenant.run_check(session, "mailbox_type")
    assert (result.status, result.finding) == (CheckStatus.PASS, "mailbox_type.read")
    assert result.facts["user_purpose"] == purpose and result.facts["source"] == "graph"
    assert tenant.graph.calls("mailboxSettings")[0].path == "/v1.0/me/mailboxSettings"


async def test_own_mailbox_without_a_licence_has_no_mailbox(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(OWN.with_(user_purpose=None))
    result = await tenant.run_check(session, "mailbox_type")
    assert (result.status, result.finding, result.cause_id) == (
        CheckStatus.FAIL, "mailbox_type.no_mailbox", "no_exchange_license")
    assert "MailboxNotEnabledForRESTAPI" in result.detail


@pytest.mark.parametrize("purpose", ["user", "shared", "room", "equipment"])
async def test_another_users_mailbox_is_read_through_exchange_never_graph(
    start_tenant: StartTenant, session: aiohttp.ClientSession, purpose: str
) -> None:
    tenant = await start_tenant(S.with_(user_purpose=purpose, full_access=(S.admin_upn,)))
    result = await tenant.run_check(session, "mailbox_type")
    assert result.status is CheckStatus.PASS, result
    assert result.facts["recipient_type"] == RECIPIENT_TYPES[purpose]
    assert result.facts["source"] == "exchange"
    assert result.facts["full_access"] == S.admin_upn
    # The endpoint that refuses other users' mailboxes was not asked at all.
    assert tenant.graph.calls("mailboxSettings") == []
    assert set(tenant.exchange.cmdlets()) == {"Get-Mailbox", "Get-MailboxPermission"}


async def test_another_mailbox_that_exchange_does_not_have(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(user_purpose=None))
    result = await tenant.run_check(session, "mailbox_type")
    assert (result.status, result.finding, result.cause_id) == (
        CheckStatus.FAIL, "mailbox_type.no_mailbox", "no_exchange_license")


async def test_a_refused_exchange_endpoint_says_what_to_run_not_which_graph_permission(
    start_tenant: StartTenant, session: aiohttp.ClientSession
) -> None:
    tenant = await start_tenant(S.with_(exchange_error=403))
    result = await tenant.run_check(session, "mailbox_type")
    assert result.status is CheckStatus.UNKNOWN and result.finding == "mailbox_type.unread"
    sentence = sentence_of(result)
    assert ("Get-EXOMailbox -Identity 'tms@contoso.example' | Format-List "
            "RecipientTypeDetails") in sentence
    assert "MailboxSettings.Read" not in sentence
    assert tenant.graph.calls("mailboxSettings") == []


# ----- the tolerant readers, on Microsoft's own documented bodies ------------------------------
@pytest.mark.parametrize("body", [
    {"userPurpose": "shared"},
    {"userPurpose": {"value": "shared"}},
    {"@odata.context": "…/mailboxSettings/userPurpose", "value": "shared"},
    {"userPurpose": {"@odata.type": "#microsoft.graph.userPurpose", "value": "shared"},
     "timeZone": "UTC", "futureProperty": [1]},
])
def test_user_purpose_in_every_shape(body: dict[str, object]) -> None:
    assert user_purpose_of(body) == "shared"


@pytest.mark.parametrize("body", [{}, {"userPurpose": None}, {"userPurpose": {"value": ""}},
                                  {"userPurpose": 3}, {"value": {"nested": "x"}}])
def test_a_missing_user_purpose_is_none_not_a_guess(body: dict[str, object]) -> None:
    assert user_purpose_of(body) is None


def test_registration_details_bare_or_wrapped() -> None:
    bare = {"id": "u1", "isMfaRegistered": True, "unknownField": 5}
    wrapped = {"@odata.context": "…", "value": dict(bare)}
    assert entity_of(bare, marker="isMfaRegistered") == bare
    assert entity_of(wrapped, marker="isMfaRegistered") == bare
    assert as_bool(entity_of({}, marker="isMfaRegistered").get("isMfaRegistered")) is None


def test_booleans_are_read_tolerantly_and_never_guessed() -> None:
    assert [as_bool(v) for v in (True, "True", "$false", {"value": False}, None, "yes", 1)] == [
        True, True, False, False, None, None, None]
    assert unwrap_value({"value": 1, "other": 2}) == {"value": 1, "other": 2}
