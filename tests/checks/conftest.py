"""Fixtures for the live-check tests: one TLS certificate, a session, fake tenants."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.checks.fakes import FakeTenant, StartTenant, TenantScenario, TlsMaterial


@pytest.fixture(scope="session")
def tls() -> Iterator[TlsMaterial]:
    """A CA and server certificate generated once per test session."""
    material = TlsMaterial.generate()
    yield material
    material.cleanup()


@pytest.fixture
async def session(tls: TlsMaterial) -> AsyncIterator[aiohttp.ClientSession]:
    """The HTTP session the checks use, as the bot would inject it (trusting the fakes' CA)."""
    connector = aiohttp.TCPConnector(ssl=tls.client_context())
    async with aiohttp.ClientSession(connector=connector) as client:
        yield client


@pytest.fixture
async def start_tenant(tls: TlsMaterial) -> AsyncIterator[StartTenant]:
    """Start a :class:`FakeTenant` for a scenario; everything stops after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(scenario: TenantScenario | None = None, **kwargs: Any) -> FakeTenant:
            return await stack.enter_async_context(FakeTenant(scenario, tls=tls, **kwargs))

        yield start
