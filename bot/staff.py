"""Staff tools in Teams: typed commands and the compose-box search, for CLOUDEX staff only.

Who is staff is decided in one place for every feature: :mod:`bot.identity`
(``StaffDirectory``, re-exported here). Everyone else never sees a staff
tool: their "kb smtp" goes to the guided flow like any other message, and
their compose-box search gets a short "staff only" message and no results.

The commands and cards themselves are a pure desk (:mod:`dialogs.staff`); this
module is its thin adapter: it asks the one staff rule, reads what a command
needs from the store (the common topics, the audit rows of ``stats``), and
hands the desk's effects to the turn: a command's replies join the turn's
reply and are sent by :mod:`bot.effects` once the turn is stored, like every
other reply (so a staff turn is one read and one write of the conversation,
is answered 503 when it cannot be stored, and never holds Teams' request for a
slow connector).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import msal
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Attachment
from botbuilder.schema.teams import (
    MessagingExtensionAttachment,
    MessagingExtensionResponse,
    MessagingExtensionResult,
)

from bot.auth import MICROSOFT_AUTHORITY_HOSTS
from bot.effects import EffectRunner
from bot.extensions import SCOPE, BotExtension, TurnScope
from bot.identity import StaffDirectory, tenant_of
from bot.render import ADAPTIVE_CARD
from bot.settings import Settings
from bot.store import Store
from bot.store.base import AuditRepository, Clock, utc_now
from bot.tls import requests_session
from dialogs.engine import FlowEngine, TurnInput
from dialogs.knowledge import Knowledge
from dialogs.staff import STAFF_COMMANDS, StaffCommand, StaffContext, StaffTools, parse_command


class StaffServices(Protocol):
    """What the staff tools use of ``bot.features.BotServices`` (no import of the feature list)."""

    settings: Settings
    http: aiohttp.ClientSession
    engine: FlowEngine
    store: Store
    staff: StaffDirectory
    effects: EffectRunner


_LOGGER = logging.getLogger(__name__)
__all__ = ["AppGraphToken", "StaffDirectory", "StaffExtension", "query_of", "tenant_of"]

SEARCH_COMMAND = "searchKnowledge"
"""The manifest's message-extension command id."""
QUERY_INVOKE = "composeExtension/query"
THUMBNAIL_CARD = "application/vnd.microsoft.card.thumbnail"
MAX_COMPOSE_RESULTS = 25
# Stats read at most this many of the newest audit events.
STATS_ROW_LIMIT = 20_000
POPULARITY_DAYS = 30
POPULARITY_TTL_SECONDS = 300.0
# Graph must answer well inside the compose box's 5 s.
GRAPH_TIMEOUT_SECONDS = 2.0
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class AppGraphToken:
    """The bot's app-only Microsoft Graph token: msal's client-credentials flow.

    msal keeps the token in its in-memory cache and asks Entra again only when
    it is near expiry. Its calls block (it uses ``requests``), so they run in a
    worker thread; the first also reads the tenant's OpenID configuration.
    """

    def __init__(self, settings: Settings,
                 app: Callable[[], msal.ConfidentialClientApplication] | None = None) -> None:
        """Use the bot's credentials from ``settings``.

        Args:
            settings: app id, password, tenant id, AUTHORITY and TLS_CA_FILE.
            app: builds the msal application (by default from ``settings``).
        """
        self.settings = settings
        self._build = app if app is not None else partial(graph_app, settings)
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """True when the bot has the credentials to ask for an app-only token."""
        s = self.settings
        return bool(s.app_id and s.app_password and s.app_tenant_id)

    def _acquire(self) -> dict[str, Any]:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return dict(self._app.acquire_token_for_client([GRAPH_SCOPE]) or {})

    async def __call__(self) -> str:
        """Return a valid token (msal's cached one while it lasts).

        Raises:
            RuntimeError: Entra refused the bot's credentials (the message has its error
                code, never the secret).
            ValueError: the authority could not be reached or read (msal's own error).
        """
        result = await asyncio.to_thread(self._acquire)
        token = result.get("access_token")
        if not token:
            raise RuntimeError(f"no Graph app token: {result.get('error') or 'no answer'}")
        return str(token)


def graph_app(settings: Settings) -> msal.ConfidentialClientApplication:
    """The msal application for the bot's own tenant, as :class:`bot.auth.MsalAuth` builds them.

    A non-Microsoft AUTHORITY (a sovereign proxy, the tests) skips instance
    discovery; TLS_CA_FILE, when set, is the only CA msal trusts.
    """
    authority = settings.authority.rstrip("/")
    custom = (urlsplit(authority).hostname or "") not in MICROSOFT_AUTHORITY_HOSTS
    options: dict[str, Any] = {"validate_authority": not custom,
                               "instance_discovery": False if custom else None}
    # The one CA setting, as for every outbound connection (bot/tls.py).
    options["http_client"] = requests_session(settings, GRAPH_TIMEOUT_SECONDS)
    return msal.ConfidentialClientApplication(
        settings.app_id, client_credential=settings.app_password,
        authority=f"{authority}/{settings.app_tenant_id}", **options)


def query_of(value: Any) -> tuple[str, str, int, int]:
    """Read a ``composeExtension/query`` value: command id, query text, skip and count.

    Args:
        value: the invoke's ``value`` as Teams sends it.

    Returns:
        ``(command id, query, skip, count)``; an initial run has an empty query.
    """
    if not isinstance(value, dict):
        return "", "", 0, MAX_COMPOSE_RESULTS
    query = ""
    for parameter in value.get("parameters") or []:
        if isinstance(parameter, dict) and parameter.get("name") == "query":
            query = str(parameter.get("value") or "")
    raw_options = value.get("queryOptions")
    options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}

    def number(name: str, default: int) -> int:
        raw = options.get(name, default)
        return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else default

    skip = number("skip", 0)
    count = min(number("count", MAX_COMPOSE_RESULTS) or MAX_COMPOSE_RESULTS, MAX_COMPOSE_RESULTS)
    return str(value.get("commandId") or ""), query, skip, count


class StaffExtension(BotExtension):
    """Runs staff commands before the flow and answers the knowledge search box."""

    # It returns effects and sends nothing itself: a turn may be decided again on fresh state.
    decides = True

    def __init__(self, knowledge: Knowledge, directory: StaffDirectory, audit: AuditRepository,
                 effects: EffectRunner | None = None, clock: Clock = utc_now,
                 tools: StaffTools | None = None) -> None:
        """Wire the staff tools.

        Args:
            knowledge: the knowledge base.
            directory: decides who is staff.
            audit: the audit log (statistics and the common topics).
            effects: runs the compose-box search's effects (its count); None drops them.
            clock: the current UTC time (statistics).
            tools: the pure staff tools (built from ``knowledge`` when omitted).
        """
        self.tools = tools if tools is not None else StaffTools(knowledge)
        self.directory = directory
        self.audit = audit
        self.effects = effects
        self.clock = clock
        self._popularity: Mapping[str, int] = {}
        self._popularity_until = 0.0

    @classmethod
    def from_services(cls, services: StaffServices) -> StaffExtension:
        """Build the extension from the bot's services (:func:`bot.features.build_extensions`)."""
        return cls(services.engine.knowledge, services.staff, services.store.audit,
                   services.effects)

    async def popularity(self) -> Mapping[str, int]:
        """Diagnoses per cause over the last 30 days, cached for five minutes."""
        if time.monotonic() < self._popularity_until:
            return self._popularity
        try:
            self._popularity = await self.audit.counts_by_detail(
                "diagnosed", "cause", POPULARITY_DAYS, now=self.clock())
        except Exception:  # the fixed order is a fine fallback (logged)
            _LOGGER.warning("could not read cause counts", exc_info=True)
        self._popularity_until = time.monotonic() + POPULARITY_TTL_SECONDS
        return self._popularity

    async def context_for(self, command: StaffCommand) -> StaffContext:
        """What ``command`` needs from the store: the common topics (and audit rows for stats)."""
        spec = STAFF_COMMANDS[command.name]
        rows = await self.audit.recent(limit=STATS_ROW_LIMIT) if spec.reads_audit else ()
        return StaffContext(await self.popularity(), rows, self.clock())

    async def before_turn(self, turn_context: TurnContext, turn: TurnInput) -> bool:
        """Take typed staff commands from staff; everyone else's text goes to the flow."""
        if not turn.text:
            return False
        activity = turn_context.activity
        command = parse_command(turn.text)
        if command is None or not await self.directory.is_staff(turn_context):
            return False
        effects = self.tools.answer(command, await self.context_for(command))
        scope: TurnScope = turn_context.turn_state[SCOPE]
        scope.plan.add(effects, conversation_id=activity.conversation.id,
                       tenant_id=tenant_of(activity))
        _LOGGER.info("staff command", extra={
            "command": command.name, "conversation_id": activity.conversation.id})
        return True

    async def on_invoke(self, turn_context: TurnContext) -> InvokeResponse | None:
        """Answer the compose-box knowledge search (``composeExtension/query``)."""
        activity = turn_context.activity
        if activity.name != QUERY_INVOKE:
            return None
        command_id, query, skip, count = query_of(activity.value)
        if command_id != SEARCH_COMMAND:
            return None
        staff = await self.directory.is_staff(turn_context)
        answer = self.tools.compose(query, staff=staff, skip=skip, count=count,
                                    popularity=await self.popularity() if staff else None)
        if self.effects is not None:
            await self.effects.run(answer.effects, conversation_id=activity.conversation.id)
        if answer.message is not None:
            result = MessagingExtensionResult(type="message", text=answer.message)
        else:
            result = MessagingExtensionResult(type="result", attachment_layout="list", attachments=[
                MessagingExtensionAttachment(
                    content_type=ADAPTIVE_CARD, content=item.card,
                    preview=Attachment(content_type=THUMBNAIL_CARD,
                                       content={"title": item.title, "text": item.preview}))
                for item in answer.items])
        body = MessagingExtensionResponse(compose_extension=result)
        return InvokeResponse(status=200, body=body.serialize())
