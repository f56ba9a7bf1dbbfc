"""Who is staff: members of staff tenants per the Teams roster, and Entra group membership.

The group check runs against a local fake Entra + Graph over HTTPS with a
throw-away CA, as msal needs: the bot's app token comes from msal's
client-credentials flow against it (OpenID configuration, then the token
endpoint), and the membership check from Graph. The roster is a stand-in here
(:class:`FakeRoster`), to drive the rule's cache with a fake clock; over HTTP
the local Bot Connector answers it (tests/security/test_guests_are_not_staff.py).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp import web
from botbuilder.schema import Activity

from bot.roster import Member, RosterUnavailable
from bot.settings import Settings
from bot.staff import AppGraphToken, StaffDirectory
from tests.checks.fakes import TlsMaterial
from tests.staff.conftest import CUSTOMER_TENANT
from tests.support.teams import activity

HOME_TENANT = "22222222-3333-4444-5555-666666666666"
GROUP = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
MEMBER = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OUTSIDER = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
BROKEN = "deadbeef-0000-4000-8000-000000000000"
UNKNOWN = "abcdefab-cdef-4abc-8def-abcdefabcdef"


@dataclass
class FakeEntra:
    """Answers like the Microsoft identity platform token endpoint and Graph checkMemberGroups."""

    token_requests: list[dict[str, str]] = field(default_factory=list)
    graph_requests: list[tuple[str, str, Any]] = field(default_factory=list)
    base: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self.openid)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self.token)
        app.router.add_post("/v1.0/users/{user}/checkMemberGroups", self.check)
        return app

    async def openid(self, request: web.Request) -> web.Response:
        tenant = f"{self.base}/{request.match_info['tenant']}"
        return web.json_response({
            "issuer": f"{tenant}/v2.0", "token_endpoint": f"{tenant}/oauth2/v2.0/token",
            "authorization_endpoint": f"{tenant}/oauth2/v2.0/authorize",
            "jwks_uri": f"{tenant}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post"]})

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append({"tenant": request.match_info["tenant"], **form})
        if form.get("client_secret") != "secret":
            return web.json_response({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
                "error_codes": [7000215]}, status=401)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599,
                                  "access_token": "app-token"})

    async def check(self, request: web.Request) -> web.Response:
        user = request.match_info["user"]
        body = await request.json()
        self.graph_requests.append((user, request.headers.get("Authorization", ""), body))
        if request.headers.get("Authorization") != "Bearer app-token":
            return web.json_response({"error": {"code": "InvalidAuthenticationToken"}}, status=401)
        if user == BROKEN:
            return web.json_response({"error": {"code": "serviceNotAvailable"}}, status=503)
        if user not in {MEMBER, OUTSIDER}:
            return web.json_response({"error": {"code": "Request_ResourceNotFound"}}, status=404)
        groups = body.get("groupIds", [])
        return web.json_response({"value": [g for g in groups if user == MEMBER]})


@pytest.fixture(scope="module")
def tls() -> Iterator[TlsMaterial]:
    """A throw-away CA and a certificate for 127.0.0.1."""
    material = TlsMaterial.generate()
    yield material
    material.cleanup()


@pytest.fixture
async def entra(aiohttp_server: Any, tls: TlsMaterial) -> tuple[FakeEntra, str]:
    """The fake Entra/Graph server (HTTPS; aiohttp_server stops it) and its base URL."""
    fake = FakeEntra()
    server = await aiohttp_server(fake.app(), ssl=tls.server_context())
    fake.base = str(server.make_url("")).rstrip("/")
    assert fake.base.startswith("https://")
    return fake, fake.base


@pytest.fixture
def ca_file(tls: TlsMaterial, tmp_path: Path) -> str:
    """The fake's CA as a file (what TLS_CA_FILE names)."""
    path = tmp_path / "ca.pem"
    path.write_bytes(tls.ca_pem)
    return str(path)


@pytest.fixture
async def http(tls: TlsMaterial) -> AsyncIterator[aiohttp.ClientSession]:
    """The bot's shared session, trusting the fake's CA."""
    context = ssl.create_default_context(cadata=tls.ca_pem.decode())
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield session


@dataclass
class Turn:
    """The parts of a TurnContext the staff rule reads (no connector: the roster is faked)."""

    activity: Activity
    adapter: Any = None
    turn_state: dict[Any, Any] = field(default_factory=dict)


def teams_activity(tenant: str, object_id: str, user_id: str = "29:someone",
                   conversation_id: str = "a:x") -> Turn:
    """A turn of a Teams message from ``object_id`` in ``tenant``, as the adapter reads it."""
    body = activity("message", service_url="http://127.0.0.1:1/",
                    conversation_id=conversation_id, tenant_id=tenant, text="kb smtp",
                    user_id=user_id)
    body["from"]["aadObjectId"] = object_id
    return Turn(Activity().deserialize(body))


@dataclass
class FakeRoster:
    """Answers roster lookups from a dict (user id -> entry); counts and can fail or stall."""

    entries: dict[str, Member] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    failing: bool = False
    stall: asyncio.Event | None = None

    async def member(self, turn: Any, user_id: str, tenant_id: str) -> Member:
        self.calls.append(user_id)
        if self.stall is not None:
            await self.stall.wait()
        if self.failing or user_id not in self.entries:
            raise RosterUnavailable("not there")
        return self.entries[user_id]


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def group_settings(base: str, ca_file: str, secret: str = "secret") -> Settings:
    return Settings(app_id="bot-app-id", app_password=secret, app_tenant_id=HOME_TENANT,
                    authority=base, graph_url=f"{base}/v1.0", staff_group_id=GROUP,
                    tls_ca_file=ca_file)


async def test_group_members_of_the_home_tenant_are_staff(
    entra: tuple[FakeEntra, str], ca_file: str, http: aiohttp.ClientSession
) -> None:
    fake, base = entra
    settings = group_settings(base, ca_file)
    token = AppGraphToken(settings)
    assert token.available
    directory = StaffDirectory(settings, http, token)
    assert await directory.is_staff(teams_activity(HOME_TENANT, MEMBER))
    assert not await directory.is_staff(teams_activity(HOME_TENANT, OUTSIDER))
    assert not await directory.is_staff(teams_activity(HOME_TENANT, UNKNOWN))
    # Cached: asking again reaches neither Entra nor Graph.
    assert await directory.is_staff(teams_activity(HOME_TENANT, MEMBER))
    assert [r[0] for r in fake.graph_requests] == [MEMBER, OUTSIDER, UNKNOWN]
    assert all(r[2] == {"groupIds": [GROUP]} for r in fake.graph_requests)
    (request,) = fake.token_requests  # one app token (msal's cache), reused for every lookup
    assert {k: request.get(k) for k in ("tenant", "grant_type", "client_id", "client_secret",
                                        "scope")} == {
        "tenant": HOME_TENANT, "grant_type": "client_credentials", "client_id": "bot-app-id",
        "client_secret": "secret", "scope": "https://graph.microsoft.com/.default"}


async def test_customers_are_never_looked_up(
    entra: tuple[FakeEntra, str], ca_file: str, http: aiohttp.ClientSession
) -> None:
    fake, base = entra
    settings = group_settings(base, ca_file)
    directory = StaffDirectory(settings, http, AppGraphToken(settings))
    assert not await directory.is_staff(teams_activity(CUSTOMER_TENANT, MEMBER))
    assert not await directory.is_staff(teams_activity(HOME_TENANT, "not-a-guid/../x"))
    assert fake.graph_requests == [] and fake.token_requests == []


async def test_a_failing_lookup_means_not_staff(
    entra: tuple[FakeEntra, str], ca_file: str, http: aiohttp.ClientSession
) -> None:
    fake, base = entra
    settings = group_settings(base, ca_file)
    directory = StaffDirectory(settings, http, AppGraphToken(settings))
    assert not await directory.is_staff(teams_activity(HOME_TENANT, BROKEN))
    bad = group_settings(base, ca_file, secret="wrong")
    refused = StaffDirectory(bad, http, AppGraphToken(bad))
    assert not await refused.is_staff(teams_activity(HOME_TENANT, MEMBER))
    assert [r[0] for r in fake.graph_requests] == [BROKEN]
    assert [r["client_secret"] for r in fake.token_requests] == ["secret", "wrong"]


async def test_a_refused_secret_says_why_and_never_shows_the_secret(
    entra: tuple[FakeEntra, str], ca_file: str,
) -> None:
    _, base = entra
    token = AppGraphToken(group_settings(base, ca_file, secret="wrong-secret-value"))
    with pytest.raises(RuntimeError, match="invalid_client") as refused:
        await token()
    assert "wrong-secret-value" not in str(refused.value)


async def test_an_authority_with_a_certificate_msal_does_not_trust_is_refused(
    entra: tuple[FakeEntra, str], tmp_path: Path,
) -> None:
    fake, base = entra
    stranger = TlsMaterial.generate()
    try:
        other_ca = tmp_path / "other-ca.pem"
        other_ca.write_bytes(stranger.ca_pem)
        with pytest.raises((requests.exceptions.SSLError, ValueError)):
            await AppGraphToken(group_settings(base, str(other_ca)))()
    finally:
        stranger.cleanup()
    assert fake.token_requests == []


def test_without_credentials_staff_is_tenant_based() -> None:
    settings = Settings(staff_tenant_ids=("AAAAAAAA-0000-0000-0000-000000000000",),
                        staff_group_id=GROUP)
    directory = StaffDirectory(settings, None, None)
    assert not directory.checks_group
    assert not AppGraphToken(settings).available


def member(user_id: str = "29:someone", tenant: str = HOME_TENANT, role: str = "user") -> Member:
    return Member(id=user_id, tenant_id=tenant, role=role)


async def test_staff_tenants_match_case_insensitively() -> None:
    settings = Settings(staff_tenant_ids=(HOME_TENANT.upper(),))
    roster = FakeRoster({"29:someone": member()})
    directory = StaffDirectory(settings, roster=roster)  # type: ignore[arg-type]
    assert await directory.is_staff(teams_activity(HOME_TENANT, MEMBER))
    assert not await directory.is_staff(teams_activity(CUSTOMER_TENANT, MEMBER))
    assert roster.calls == ["29:someone"]  # a customer's tenant is never looked up


@pytest.mark.parametrize(("entry", "why"), [
    (member(role="guest"), "a B2B guest of the staff tenant"),
    (member(role="anonymous"), "an anonymous meeting participant"),
    (member(role=""), "a roster entry without userRole"),
    (member(tenant=CUSTOMER_TENANT), "an external user of a shared channel (own tenant)"),
    (member(tenant=""), "a roster entry without tenantId"),
    (member(user_id="29:someone-else"), "an entry that is not the sender's"),
])
async def test_only_members_of_a_staff_tenant_are_staff(entry: Member, why: str) -> None:
    roster = FakeRoster({"29:someone": entry})
    directory = StaffDirectory(Settings(app_tenant_id=HOME_TENANT),
                               roster=roster)  # type: ignore[arg-type]
    assert not await directory.is_staff(teams_activity(HOME_TENANT, MEMBER)), why
    assert roster.calls == ["29:someone"]


async def test_answers_are_kept_15_minutes_and_failures_1_minute_in_that_conversation() -> None:
    clock = Clock()
    roster = FakeRoster({"29:dana": member("29:dana")})
    directory = StaffDirectory(Settings(app_tenant_id=HOME_TENANT), clock=clock,
                               roster=roster)  # type: ignore[arg-type]
    dana = teams_activity(HOME_TENANT, MEMBER, "29:dana")
    assert await directory.is_staff(dana)
    clock.now += 14 * 60
    assert await directory.is_staff(dana)
    assert roster.calls == ["29:dana"]
    clock.now += 61  # past 15 minutes: asked again
    assert await directory.is_staff(dana)
    assert roster.calls == ["29:dana"] * 2

    roster.failing = True
    clock.now += 15 * 60 + 1
    assert not await directory.is_staff(dana)
    roster.failing = False
    assert not await directory.is_staff(dana)  # the failure is kept a minute there...
    elsewhere = teams_activity(HOME_TENANT, MEMBER, "29:dana", conversation_id="19:other")
    assert await directory.is_staff(elsewhere)  # ...but not elsewhere
    assert roster.calls == ["29:dana"] * 4
    clock.now += 61
    assert await directory.is_staff(dana)  # the member answer, cached from elsewhere
    assert roster.calls == ["29:dana"] * 4


async def test_a_burst_of_turns_asks_the_roster_once() -> None:
    roster = FakeRoster({"29:dana": member("29:dana")}, stall=asyncio.Event())
    directory = StaffDirectory(Settings(app_tenant_id=HOME_TENANT),
                               roster=roster)  # type: ignore[arg-type]
    asking = [asyncio.ensure_future(directory.is_staff(
        teams_activity(HOME_TENANT, MEMBER, "29:dana"))) for _ in range(8)]
    await asyncio.sleep(0.01)
    assert roster.stall is not None
    roster.stall.set()
    assert await asyncio.gather(*asking) == [True] * 8
    assert roster.calls == ["29:dana"]


@pytest.mark.parametrize(("body", "expected"), [
    # Microsoft's samples ("Get single member details"): a member and an anonymous user.
    ({"id": "29:a", "objectId": MEMBER, "givenName": "Larry", "surname": "Brown",
      "email": "Larry.Brown@fabrikam.com", "userPrincipalName": "labrown@fabrikam.com",
      "tenantId": HOME_TENANT.upper(), "userRole": "user"}, Member("29:a", HOME_TENANT, "user")),
    ({"id": "29:a", "name": "Anon1 (Guest)", "tenantId": HOME_TENANT, "userRole": "anonymous"},
     Member("29:a", HOME_TENANT, "anonymous")),
    # The SDK's TeamsChannelAccount spelling, a guest, and an entry without a role.
    ({"id": "29:a", "aadObjectId": MEMBER, "tenantId": HOME_TENANT, "userRole": "Guest"},
     Member("29:a", HOME_TENANT, "guest")),
    ({"id": "29:a", "tenantId": HOME_TENANT, "userRole": None}, Member("29:a", HOME_TENANT, "")),
])
def test_roster_entries_are_read_as_teams_sends_them(
    body: dict[str, Any], expected: Member
) -> None:
    assert Member.from_json(body) == expected


@pytest.mark.parametrize("body", [None, [], {"name": "no id"}, {"id": 5}])
def test_an_answer_that_is_not_a_member_is_refused(body: Any) -> None:
    with pytest.raises(RosterUnavailable):
        Member.from_json(body)


async def test_a_guest_the_staff_group_lists_is_staff_and_other_guests_are_not(
    entra: tuple[FakeEntra, str], ca_file: str, http: aiohttp.ClientSession
) -> None:
    # The tenant says nothing about guests; the group is CLOUDEX's explicit list of people.
    fake, base = entra
    settings = Settings(app_id="bot-app-id", app_password="secret", app_tenant_id=HOME_TENANT,
                        authority=base, graph_url=f"{base}/v1.0", staff_group_id=GROUP,
                        staff_tenant_ids=(HOME_TENANT,), tls_ca_file=ca_file)
    roster = FakeRoster({"29:listed": member("29:listed", role="guest"),
                         "29:other": member("29:other", role="guest")})
    directory = StaffDirectory(settings, http, AppGraphToken(settings),
                               roster=roster)  # type: ignore[arg-type]
    assert await directory.is_staff(teams_activity(HOME_TENANT, MEMBER, "29:listed"))
    assert not await directory.is_staff(teams_activity(HOME_TENANT, OUTSIDER, "29:other"))
    assert roster.calls == ["29:listed", "29:other"]
    assert [r[0] for r in fake.graph_requests] == [MEMBER, OUTSIDER]
