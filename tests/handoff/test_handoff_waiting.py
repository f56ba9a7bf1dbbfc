"""Nobody free: HANDOFF_TIMEOUT and SUPPORT_HOURS, with an injected clock, over HTTP.

The clock is handed to ``create_app(clock=…)``, so ticket timestamps in the
store and the extension's idea of "now" move together. The timeout must
survive restarts: it is found again by a new instance's startup sweep.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer

from app import create_app
from bot.handoff import HandoffExtension
from bot.keys import SERVICES_KEY
from bot.settings import Settings
from bot.store import open_store
from tests.support.connector import LocalConnector
from tests.support.handoff import FakeClock, messages_to, new_threads, support_post
from tests.support.harness import Chat, texts

AppClient = Callable[..., Any]
RIGA = ZoneInfo("Europe/Riga")
HOURS = "Mon-Fri 08:00-17:00 Europe/Riga"
TIMEOUT_NOTICE = "Everyone at CLOUDEX support is busy right now"


@pytest.fixture
def hours_settings(tmp_path: Path) -> Settings:
    return Settings(storage_url=f"sqlite:///{tmp_path}/bot.db", support_hours=HOURS,
                    handoff_timeout_minutes=10)


def notices(connector: LocalConnector, customer: Chat) -> list[str]:
    return [m["text"] for m in messages_to(connector, customer.conversation_id)
            if TIMEOUT_NOTICE in (m.get("text") or "")]


async def test_nobody_takes_it_in_time_so_the_customer_is_told_once_when(
    aiohttp_client: AppClient, hours_settings: Settings, connector: LocalConnector
) -> None:
    clock = FakeClock(datetime(2026, 12, 2, 10, 0, tzinfo=RIGA))  # a Wednesday morning
    client = await aiohttp_client(create_app(hours_settings, clock=clock))
    support = support_post(client, connector)
    await support.say("use this channel for handoffs")
    customer = Chat(client, connector)
    replies = await customer.say("talk to a person")
    assert "You are number 1 in the queue" in texts(replies)
    assert "not staffed" not in texts(replies)

    clock.advance(minutes=9, seconds=59)
    await support.say("queue")
    assert notices(connector, customer) == []

    # Any turn checks for overdue tickets (at most every 15 s of the clock per instance).
    clock.advance(seconds=20)
    replies = await support.say("queue")
    assert "waiting 10 min" in texts(replies)
    assert notices(connector, customer) == [
        ("Everyone at CLOUDEX support is busy right now, sorry for the wait. Your request stays "
         "in the queue and a person will get back to you here at the latest today at 17:00 "
         "(Europe/Riga time). Meanwhile you can keep going with me.")]
    thread_id = new_threads(connector)[0].conversation_id
    assert any("Nobody has taken this for 10 minutes" in (m.get("text") or "")
               for m in messages_to(connector, thread_id))

    clock.advance(minutes=30)
    await customer.say("hello")
    await support.say("queue")
    assert len(notices(connector, customer)) == 1, "told once, not on every sweep"
    async with await open_store(hours_settings.storage_url) as store:
        [ticket] = await store.tickets.list_tickets()
    assert ticket.status == "waiting"  # the ticket stays open


async def test_outside_support_hours_the_customer_hears_when_support_opens(
    aiohttp_client: AppClient, hours_settings: Settings, connector: LocalConnector
) -> None:
    clock = FakeClock(datetime(2026, 12, 5, 10, 0, tzinfo=RIGA))  # Saturday
    client = await aiohttp_client(create_app(hours_settings, clock=clock))
    await support_post(client, connector).say("use this channel for handoffs")
    customer = Chat(client, connector)
    replies = await customer.say("talk to a person")
    assert ("CLOUDEX support is not staffed right now (our hours: Mon-Fri 08:00-17:00 "
            "Europe/Riga). Your request is in the queue and a person will get back to you here "
            "on Monday at 08:00 (Europe/Riga time).") in texts(replies)
    clock.advance(hours=1)
    await customer.say("hello")
    assert notices(connector, customer) == []  # the after-hours notice already said when


async def test_late_friday_timeout_points_to_monday(
    aiohttp_client: AppClient, hours_settings: Settings, connector: LocalConnector
) -> None:
    clock = FakeClock(datetime(2026, 12, 4, 16, 55, tzinfo=RIGA))  # Friday, 5 minutes to close
    client = await aiohttp_client(create_app(hours_settings, clock=clock))
    customer = Chat(client, connector)
    await customer.say("talk to a person")
    clock.advance(minutes=10)
    await customer.say("hello")
    [notice] = notices(connector, customer)
    assert "on Monday at 08:00 (Europe/Riga time)" in notice


async def test_the_timeout_survives_a_restart_and_the_background_sweep_finds_it(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    clock = FakeClock(datetime(2026, 12, 2, 10, 0, tzinfo=RIGA))
    first = await aiohttp_client(create_app(settings, clock=clock))
    customer = Chat(first, connector)
    await customer.say("talk to a person")
    await first.close()

    clock.advance(minutes=11)
    # A new instance starts; no turn arrives, its background sweep finds the overdue ticket.
    await aiohttp_client(create_app(settings, clock=clock))
    await connector.wait_for(len(connector.received) + 1)
    assert notices(connector, customer) == [
        ("Everyone at CLOUDEX support is busy right now, sorry for the wait. Your request stays "
         "in the queue and a person will get back to you here as soon as someone is free. "
         "Meanwhile you can keep going with me.")]


async def test_the_sweep_loop_runs_periodically_and_two_sweepers_notify_once(
    aiohttp_client: AppClient, settings: Settings, connector: LocalConnector
) -> None:
    clock = FakeClock(datetime(2026, 12, 2, 10, 0, tzinfo=RIGA))
    app = create_app(settings, clock=clock)
    client = await aiohttp_client(app)
    customer = Chat(client, connector)
    await customer.say("talk to a person")
    services = app[SERVICES_KEY]
    sweepers = [HandoffExtension(services, sweep_seconds=0.01) for _ in range(2)]
    for sweeper in sweepers:
        await sweeper.start()
    try:
        clock.advance(minutes=10)
        await connector.wait_for(len(connector.received) + 1)
        told = [await sweeper.sweep() for sweeper in sweepers]
    finally:
        for sweeper in sweepers:
            await sweeper.close()
    assert told == [0, 0]
    assert len(notices(connector, customer)) == 1


@pytest.mark.filterwarnings("error::ResourceWarning",
                            "error::pytest.PytestUnraisableExceptionWarning")
async def test_unreadable_support_hours_stop_the_app_with_the_reason(tmp_path: Path) -> None:
    # What earlier tests left for the garbage collector (in a full run, an unclosed socket of
    # theirs) is not this test's finding: collected first, so only this start's leftovers count.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()
    settings = Settings(storage_url=f"sqlite:///{tmp_path}/bot.db", support_hours="weekdays")
    # The server alone: a test client's own session would outlive the failed start.
    server = TestServer(create_app(settings))
    with pytest.raises(ValueError, match="SUPPORT_HOURS"):
        await server.start_server()
    await server.close()
    # What the failed start had opened (the store, the HTTP session) was closed: nothing
    # is left for the garbage collector to complain about (later, in another test).
    del server
    gc.collect()

