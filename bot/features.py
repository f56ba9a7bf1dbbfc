"""The list of extensions the bot runs with, built from the services it has.

Each feature (live checks, human handoff, staff tools) adds its extension
here, so the handler and the app factory stay the same as features grow.
"""

from __future__ import annotations

import aiohttp

from bot.extensions import BotExtension
from bot.handoff import HandoffExtension
from bot.identity import StaffDirectory
from bot.live_checks import LiveChecksExtension
from bot.observe import TurnEventsRecorder
from bot.services import BotServices
from bot.settings import Settings
from bot.staff import AppGraphToken, StaffExtension

__all__ = ["BotServices", "build_extensions", "staff_directory"]


def staff_directory(settings: Settings, http: aiohttp.ClientSession | None) -> StaffDirectory:
    """The one staff rule, with the group check when the bot has credentials for Graph."""
    token = AppGraphToken(settings) if http is not None else None
    return StaffDirectory(settings, http, token if token is not None and token.available else None)


def build_extensions(services: BotServices) -> list[BotExtension]:
    """Return the extensions in the order they see a turn."""
    extensions: list[BotExtension] = []
    # First: while an agent has the customer, the handoff takes every turn.
    handoff = HandoffExtension(services)
    extensions.append(handoff)
    # Features never hold each other: whoever needs a person returns AskPerson, and
    # the effect runner gives it to the handoff.
    services.effects.people = handoff
    # Before the staff tools: PowerShell output the checks asked for ("PS C:\\> Get-…")
    # is a paste, not the staff command "ps", even from someone who is staff.
    extensions.append(LiveChecksExtension(services))
    extensions.append(StaffExtension.from_services(services))
    # Keep the recorder last: it sees the outcome of turns the flow handled.
    extensions.append(TurnEventsRecorder(services.metrics, services.store.audit))
    return extensions
