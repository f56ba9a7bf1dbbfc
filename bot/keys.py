"""Typed keys for what the aiohttp application holds (no module globals anywhere)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from botbuilder.integration.aiohttp import CloudAdapter

    from bot.handler import SupportBot
    from bot.metrics import Metrics
    from bot.services import BotServices
    from bot.settings import Settings
    from bot.store import Store

SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings")
STORE_KEY: web.AppKey[Store] = web.AppKey("store")
ADAPTER_KEY: web.AppKey[CloudAdapter] = web.AppKey("adapter")
BOT_KEY: web.AppKey[SupportBot] = web.AppKey("bot")
SERVICES_KEY: web.AppKey[BotServices] = web.AppKey("services")
METRICS_KEY: web.AppKey[Metrics] = web.AppKey("metrics")
