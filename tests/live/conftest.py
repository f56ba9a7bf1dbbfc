"""Fixtures for the live-check conversations: the real app, a fake tenant and a fake Entra.

``live_bot(scenario)`` starts a :class:`~tests.checks.fakes.FakeTenant` (Graph,
Exchange admin, STARTTLS SMTP), a :class:`~tests.live.fake_identity.FakeIdentity`
(the authority MSAL talks to and the Bot Framework token service) and the real
app from ``create_app`` with settings pointing at them, and returns a
:class:`LiveBot` that drives a Teams conversation over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from tests.checks.conftest import start_tenant, tls  # noqa: F401 (fixtures)
from tests.checks.fakes import FakeTenant, StartTenant, TenantScenario, TlsMaterial
from tests.live.fake_identity import FakeIdentity
from tests.support.cards import card_errors, cards_in
from tests.support.connector import LocalConnector
from tests.support.harness import Chat, texts
from tests.support.teams import activity

CONNECTION = "msa-signin"
_ids = itertools.count(1)


def as_mailbox(scenario: TenantScenario) -> TenantScenario:
    """The scenario with the sending mailbox's own user signing in."""
    return scenario.signed_in_as_mailbox()


def results_cards(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The live-check results cards among posted activities, oldest first."""
    found = []
    for body in bodies:
        for card in cards_in(body):
            first = (card.get("body") or [{}])[0]
            if first.get("text") == "Live check of your tenant":
                found.append(card)
    return found


def is_final(card: dict[str, Any]) -> bool:
    """True for a results card that says every check answered."""
    return " checks done" in texts([{"attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}])


@dataclass
class LiveBot:
    """One Teams conversation with the real bot, wired to a fake tenant and fake Entra."""

    chat: Chat
    tenant: FakeTenant
    identity: FakeIdentity
    settings: Settings
    connector: LocalConnector

    def posted(self) -> list[dict[str, Any]]:
        """Everything the bot posted (or edited) in this conversation, in order."""
        return self.connector.for_conversation(self.chat.conversation_id)

    def invoke(self, name: str, value: dict[str, Any]) -> dict[str, Any]:
        """A Teams invoke activity for this conversation."""
        body = activity("adaptive_card_action", service_url=self.connector.url,
                        conversation_id=self.chat.conversation_id, user_id=self.chat.user_id,
                        user_name=self.chat.user_name, tenant_id=self.chat.tenant_id)
        body["name"] = name
        body["value"] = value
        body.pop("replyToId", None)
        return body

    async def ask_for_checks(self) -> list[dict[str, Any]]:
        """Press "Check my tenant"; returns the replies (the consent card)."""
        return await self.chat.press({"msa": "run_checks"})

    async def consent(self, mailbox: str | None = None) -> list[dict[str, Any]]:
        """Press "Sign in and check" on the consent card."""
        data: dict[str, Any] = {"msa": "checks_sign_in"}
        if mailbox is not None:
            data["mailbox"] = mailbox
        return await self.chat.press(data)

    async def sso(self, token: str | None = None) -> tuple[int, list[dict[str, Any]], Any]:
        """Teams' silent SSO: the ``signin/tokenExchange`` invoke with an SSO token."""
        return await self.chat.post(self.invoke("signin/tokenExchange", {
            "id": f"exchange-{next(_ids)}", "connectionName": CONNECTION,
            "token": token if token is not None else self.identity.sso_token()}))

    async def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], within: float = 15.0
    ) -> list[dict[str, Any]]:
        """Wait (polling, up to ``within`` s) until the posted activities satisfy ``predicate``."""
        deadline = time.monotonic() + within
        while True:
            posted = self.posted()
            if predicate(posted):
                return posted
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; posted so far:\n{texts(posted)[-3000:]}")
            await asyncio.sleep(0.02)

    async def final_card(self, within: float = 15.0) -> dict[str, Any]:
        """The results card once every check has answered (and it is valid)."""
        posted = await self.wait_for(
            lambda p: any(is_final(c) for c in results_cards(p)), within)
        card = [c for c in results_cards(posted) if is_final(c)][-1]
        assert card_errors(card) == []
        return card

    async def checked_conversation(self, mailbox: str | None = None) -> dict[str, Any]:
        """Install, ask for the checks, consent, sign in with SSO; returns the final card."""
        await self.chat.install()
        consent = await self.ask_for_checks()
        assert "What each permission allows" in texts(consent)
        replies = await self.consent(mailbox)
        assert any(a.get("contentType") == "application/vnd.microsoft.card.oauth"
                   for r in replies for a in r.get("attachments") or []), texts(replies)
        status, _, _ = await self.sso()
        assert status == 200
        return await self.final_card()


LiveBotFactory = Callable[..., Awaitable[LiveBot]]
IdentityFactory = Callable[..., Awaitable[FakeIdentity]]


@pytest.fixture
async def start_identity(
    start_tenant: StartTenant,  # noqa: F811
    tls: TlsMaterial,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[IdentityFactory]:
    """A fake tenant and the fake Entra in front of it: ``await start_identity(scenario)``."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            scenario: TenantScenario | None = None,
            *,
            refuse_scopes: tuple[str, ...] = (),
            device_pending_polls: int = 1,
        ) -> FakeIdentity:
            tenant = await start_tenant(scenario, refuse_scopes=refuse_scopes)
            identity = await FakeIdentity(tenant, tls, tmp_path / "identity",
                                          device_pending_polls=device_pending_polls).start()
            stack.push_async_callback(identity.close)
            return identity

        yield start


def live_settings(identity: FakeIdentity, folder: Path, **overrides: Any) -> Settings:
    """Settings that point the bot at the fake tenant and the fake Entra."""
    tenant = identity.tenant
    settings = Settings(
        storage_url=f"sqlite:///{folder}/bot.db",
        graph_url=tenant.graph.url,
        exchange_admin_url=tenant.exchange.url,
        smtp_host="127.0.0.1",
        smtp_port=tenant.smtp.port,
        authority=identity.authority,
        tls_ca_file=str(identity.ca_file),
        signin_client_id=identity.client_id,
        signin_client_secret=identity.client_secret,
        oauth_connection_name=CONNECTION,
        oauth_api_url=identity.token_service_url,
        check_timeout_seconds=5.0,
    )
    return replace(settings, **overrides)


@pytest.fixture
async def live_bot(
    start_identity: IdentityFactory,
    tmp_path: Path,
    aiohttp_client: Any,
    connector: LocalConnector,
) -> LiveBotFactory:
    """Start a fake tenant + fake Entra + the real app: ``await live_bot(scenario, **settings)``."""
    from app import create_app

    async def start(
        scenario: TenantScenario | None = None,
        *,
        refuse_scopes: tuple[str, ...] = (),
        device_pending_polls: int = 1,
        **overrides: Any,
    ) -> LiveBot:
        identity = await start_identity(scenario, refuse_scopes=refuse_scopes,
                                        device_pending_polls=device_pending_polls)
        settings = live_settings(identity, tmp_path, **overrides)
        client = await aiohttp_client(create_app(settings))
        chat = Chat(client, connector, tenant_id=identity.tenant.scenario.tenant_id)
        return LiveBot(chat, identity.tenant, identity, settings, connector)

    return start
