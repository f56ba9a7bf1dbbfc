"""Fixtures shared by every test: settings, the real app on loopback, a local connector."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.support.connector import LocalConnector
from tests.support.harness import Chat

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
async def chat(bot_client, connector: LocalConnector) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    """A Teams personal chat with the bot, over HTTP."""
    yield Chat(bot_client, connector)
