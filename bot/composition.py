"""The one composition root: everything a running bot holds, opened and closed in one place.

The server (:func:`app.create_app`, in the app's ``cleanup_ctx``) and the
terminal chat (:mod:`bot.terminal`, ``make chat``) both open the bot here, so
they run the same features (handoff, live checks, staff tools, the turn
recorder) over the same store, effect runner, outbox and retention job. They
differ only in what they pass in: the adapter (the Bot Connector or the
terminal), the metrics, and the staff rule (the terminal's own user is staff
there, and only there: see ``bot.terminal.TerminalStaff``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.conversation import ConversationStateStore
from bot.effects import EffectRunner
from bot.extensions import BotExtension
from bot.features import build_extensions, staff_directory
from bot.handler import SupportBot
from bot.identity import StaffDirectory
from bot.metrics import Metrics
from bot.services import BotServices
from bot.settings import Settings
from bot.store import open_store
from bot.store.base import Clock, utc_now
from bot.store.retention import Retention, RetentionJob
from bot.tls import http_session
from dialogs.engine import FlowEngine

_LOGGER = logging.getLogger(__name__)
StaffRule = Callable[[Settings, aiohttp.ClientSession], StaffDirectory]


@dataclass(frozen=True)
class RunningBot:
    """The bot and the services it was built from, while it runs."""

    bot: SupportBot
    services: BotServices


@asynccontextmanager
async def open_bot(settings: Settings, engine: FlowEngine, adapter: Any, metrics: Metrics, *,
                   clock: Clock | None = None,
                   staff: StaffRule = staff_directory) -> AsyncIterator[RunningBot]:
    """Open the store and the shared session, wire every feature, start background work.

    Args:
        settings: read once at start.
        engine: the domain engine (built once: knowledge, search, the machine).
        adapter: sends what the bot says (``send_to``, ``create_thread``, ``update_in``
            and the SDK's own ``BotAdapter`` methods).
        metrics: the counters the features and the effect runner update.
        clock: the UTC time source (tests age handoff tickets with their own).
        staff: builds the one staff rule from the settings and the session.

    Yields:
        The running bot; everything it opened is closed on the way out, also
        when starting it failed half-way.
    """
    now = clock or utc_now
    store = await open_store(settings.storage_url, clock=now)
    # No cookie jar (a cookie one tenant's endpoint sets must never ride along on another's
    # request; keeping cookies also costs about a quarter of each reply's client time), and
    # TLS that trusts the one CA setting (bot/tls.py).
    http = http_session(settings)
    effects: EffectRunner | None = None
    retention: RetentionJob | None = None
    started: list[BotExtension] = []
    try:  # a start that fails (a bad setting) still closes what it opened
        adapter.use_http_session(http)  # replies go out over the one shared session
        conversations = ConversationStateStore(store.state, store.turns)
        effects = EffectRunner(store, adapter, metrics)
        services = BotServices(settings=settings, store=store, engine=engine,
                               conversations=conversations, adapter=adapter, http=http,
                               metrics=metrics, staff=staff(settings, http), effects=effects,
                               clock=now)
        # Who may use staff-only paths, said once at start (loudly when it is everyone).
        _LOGGER.log(logging.WARNING if services.staff.everyone
                    or not services.staff.describe().startswith("staff are") else logging.INFO,
                    "staff rule: %s", services.staff.describe())
        bot = SupportBot(engine, conversations, build_extensions(services), effects)
        for extension in bot.extensions:
            started.append(extension)
            await extension.start()
        effects.outbox.start()
        retention = RetentionJob(Retention(store.db, settings.retention_days, clock=now))
        retention.start()
        yield RunningBot(bot, services)
    finally:
        if retention is not None:
            await retention.close()
        for extension in started:
            await extension.close()
        if effects is not None:
            await effects.close()
        await http.close()
        await store.close()
