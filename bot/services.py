"""What features may use: the services built once per process in the app's cleanup context.

A module of its own so that features (handoff, live checks, staff tools) and
the list that wires them (:mod:`bot.features`) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from botbuilder.integration.aiohttp import CloudAdapter

from bot.conversation import ConversationStateStore
from bot.effects import EffectRunner
from bot.identity import StaffDirectory
from bot.metrics import Metrics
from bot.settings import Settings
from bot.store import Store
from bot.store.base import Clock, utc_now
from dialogs.engine import FlowEngine


@dataclass
class BotServices:
    """What extensions may use; created once per process in the app's cleanup context."""

    settings: Settings
    store: Store
    engine: FlowEngine
    conversations: ConversationStateStore
    adapter: CloudAdapter
    http: aiohttp.ClientSession
    metrics: Metrics
    # Who is CLOUDEX staff: one rule for every feature (bot/identity.py).
    staff: StaffDirectory
    # Runs what desks decide: replies, the outbox, card updates (bot/effects.py).
    effects: EffectRunner
    # The time source for timeouts and records; tests pass a fake one.
    clock: Clock = utc_now
