"""Fixtures shared by every test: settings, the real app on loopback, a local connector."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.support.connector import LocalConnector
from tests.support.harness import Chat
from tests.support.identity import LocalIdentity
from tests.support.threaded import ThreadedServers

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Local-mode settings with the SQLite store in a temporary folder."""
    return Settings(storage_url=f"sqlite:///{tmp_path}/bot.db")


@pytest.fixture
def knowledge():  # type: ignore[no-untyped-def]
    """The real knowledge base."""
    from dialogs.knowledge import default_knowledge

    return default_knowledge()


@pytest.fixture
def engine(knowledge):  # type: ignore[no-untyped-def]
    """The real flow engine with diagnosis."""
    from app import build_engine

    return build_engine()


@pytest.fixture
async def connector(aiohttp_server) -> LocalConnector:  # type: ignore[no-untyped-def]
    """A local Bot Connector on loopback that records the bot's replies."""
    local = LocalConnector()
    server = await aiohttp_server(local.app())
    local.url = str(server.make_url("/"))
    return local


@pytest.fixture
async def bot_client(aiohttp_client, settings: Settings):  # type: ignore[no-untyped-def]
    """The real aiohttp app (create_app) served on loopback."""
    from app import create_app

    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def chat(bot_client, connector: LocalConnector) -> Chat:  # type: ignore[no-untyped-def]
    """A Teams personal chat with the bot, over HTTP."""
    return Chat(bot_client, connector)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIdentity]:
    """A bot registration whose tokens and keys are served on loopback (one per module).

    The bot trusts the local HTTPS token endpoint through ``REQUESTS_CA_BUNDLE``,
    the standard way to give ``requests`` (MSAL's transport) a private CA.
    """
    with ThreadedServers() as servers, pytest.MonkeyPatch.context() as patch:
        local = LocalIdentity(servers, tmp_path_factory.mktemp("identity")).start()
        patch.setenv("REQUESTS_CA_BUNDLE", str(local.ca_path))
        yield local

