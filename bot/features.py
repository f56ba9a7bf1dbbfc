"""The list of extensions the bot runs with, built from the services it has.

Each feature (live checks, human handoff, staff tools) adds its extension
here, so the handler and the app factory stay the same as features grow.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from botbuilder.integration.aiohttp import CloudAdapter

from bot.conversation import ConversationStateStore
from bot.extensions import BotExtension
from bot.handoff import HandoffExtension
from bot.live_checks import LiveChecksExtension
from bot.metrics import Metrics
from bot.observe import TurnEventsRecorder
from bot.settings import Settings
from bot.staff import StaffExtension
from bot.store.base import Clock, Store, utc_now
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
    # The time source for timeouts and records; tests pass a fake one.
    clock: Clock = utc_now


def build_extensions(services: BotServices) -> list[BotExtension]:
    """Return the extensions in the order they see a turn."""
    extensions: list[BotExtension] = []
    # First: while an agent has the customer, the handoff takes every turn.
    handoff = HandoffExtension(services)
    extensions.append(handoff)
    extensions.append(StaffExtension.from_services(services))
    # Findings only a person can resolve go straight to the support channel.
    extensions.append(LiveChecksExtension(services, escalate=handoff.escalate))
    # Keep the recorder last: it sees the outcome of turns the flow handled.
    extensions.append(TurnEventsRecorder(services.metrics, services.store.audit))
    return extensions
