"""Who the sender of an activity is in Teams: their entry in the conversation's roster.

The activity itself says only which tenant the *conversation* belongs to; a B2B
guest in a CLOUDEX team, or an anonymous meeting participant, arrives with
CLOUDEX's tenant id like any employee. Teams tells the bot who a person is
through the Bot Connector's roster (Microsoft Learn, "Get Teams specific
context for your bot", *Get single member details*)::

    GET {serviceUrl}/v3/conversations/{conversationId}/members/{userId}
    → {"id": "29:…", "objectId": "…", "tenantId": "…", "userRole": "user", …}

``userRole`` is ``"user"`` for a member of the organisation, ``"guest"`` for a
B2B guest and ``"anonymous"`` for an anonymous meeting participant;
``tenantId`` is the member's own tenant, which differs from the host's for a
B2B direct-connect (shared channel) user. This module makes that one call as
``TeamsInfo.get_member`` does, with the turn's connector client — its service
URL (signed by the Bot Connector when authentication is on) and the bot's own
credentials — but over the app's shared aiohttp session with a short
deadline, so a staff check stays well inside the compose box's 5 s.

Which roster: the conversation the activity came from, without a channel
thread's ``;messageid=`` suffix (a channel's own roster, as Microsoft asks for
private and shared channels). The bot can read only rosters it is part of: the
compose box in a chat without the bot answers ``403 BotNotInConversationRoster``.
Then the sender's personal conversation with the bot is asked instead
(``POST /v3/conversations`` returns it when the app is installed for them, as
for a proactive message): who a person is does not depend on where they type.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from botbuilder.core import BotAdapter

from bot import budget
from bot.adapter import USER_AGENT, TokenCache

_LOGGER = logging.getLogger(__name__)

# The whole lookup (token, roster, and the personal-chat fallback) must fit here: the
# compose box gives a bot 5 s, and a Graph group check may follow (bot/identity.py).
ROSTER_TIMEOUT_SECONDS = 2.0
_THREAD_SUFFIX = re.compile(r";messageid=.*$", re.IGNORECASE)


class Turn(Protocol):
    """What the roster needs of a turn (``botbuilder.core.TurnContext`` has it)."""

    @property
    def activity(self) -> Any: ...

    @property
    def adapter(self) -> Any: ...

    @property
    def turn_state(self) -> dict[Any, Any]: ...


class RosterUnavailable(Exception):
    """The roster could not be read (no connector, a timeout, an error status)."""


class NotInRoster(RosterUnavailable):
    """The connector has no such member there, or the bot is not part of that conversation."""


@dataclass(frozen=True)
class Member:
    """A roster entry, reduced to what the staff rule reads (ids lower-case)."""

    id: str
    tenant_id: str
    role: str  # userRole: "user", "guest", "anonymous"; "" when Teams sent none

    @classmethod
    def from_json(cls, body: Any) -> Member:
        """Read a ``TeamsChannelAccount`` as the connector sends it.

        Raises:
            RosterUnavailable: the body is not a member entry.
        """
        if not isinstance(body, Mapping) or not isinstance(body.get("id"), str):
            raise RosterUnavailable("the connector's answer is not a member")

        def text(key: str) -> str:
            value = body.get(key)
            return value.strip().lower() if isinstance(value, str) else ""

        return cls(id=body["id"], tenant_id=text("tenantId"), role=text("userRole"))


def roster_conversation(activity: Any) -> str:
    """The conversation whose roster to read: the activity's, without a thread suffix."""
    conversation = getattr(activity, "conversation", None)
    return _THREAD_SUFFIX.sub("", str(getattr(conversation, "id", "") or ""))


class TeamsRoster:
    """Reads one member's roster entry with the turn's connector client (see the module)."""

    def __init__(self, http: aiohttp.ClientSession | None,
                 timeout: float = ROSTER_TIMEOUT_SECONDS) -> None:
        """Ask over ``http`` (the app's shared session); give up after ``timeout`` seconds."""
        self.http = http
        self.timeout = timeout

    async def member(self, turn: Turn, user_id: str, tenant_id: str) -> Member:
        """The sender's entry, from the conversation's roster or their personal chat's.

        Args:
            turn: the current turn (its activity, adapter and connector client).
            user_id: the member's Teams id (``from.id``).
            tenant_id: the conversation's tenant (for the personal chat, if needed).

        Raises:
            RosterUnavailable: the roster could not be read in time (``NotInRoster``
                when Teams says the member or the bot is not there).
        """
        client = turn.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
        config = getattr(client, "config", None)
        base_url = str(getattr(config, "base_url", "") or "").rstrip("/")
        if not base_url or self.http is None or self.http.closed:
            raise RosterUnavailable("no connector client in this turn")
        activity = turn.activity
        conversation = roster_conversation(activity)
        if not conversation:
            raise RosterUnavailable("the activity names no conversation")
        deadline = min(self.timeout, budget.remaining(self.timeout))
        try:
            async with asyncio.timeout(deadline):
                headers = await self._headers(turn.adapter, getattr(config, "credentials", None))
                try:
                    return await self._get(base_url, conversation, user_id, headers)
                except NotInRoster:
                    if not tenant_id:
                        raise
                    # The compose box in a chat without the bot: ask the sender's own chat
                    # with it (a one-to-one chat between two people is "personal" too).
                    personal = await self._personal_chat(base_url, activity, user_id, tenant_id,
                                                         headers)
                    if personal == conversation:
                        raise
                    return await self._get(base_url, personal, user_id, headers)
        except TimeoutError as error:
            raise RosterUnavailable(f"no answer within {deadline:.1f} s") from error
        except aiohttp.ClientError as error:
            raise RosterUnavailable(f"the connector could not be reached: {error!r}") from error
        except ValueError as error:  # a body that is not JSON
            raise RosterUnavailable("the connector's answer is not JSON") from error

    @staticmethod
    async def _headers(adapter: Any, credentials: Any) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if credentials is not None and TokenCache.wants_token(credentials):
            tokens = getattr(adapter, "tokens", None)
            if isinstance(tokens, TokenCache):  # the adapter's cache: the replies' token
                token = await tokens.token(credentials)
            else:  # the SDK's credentials keep their own token cache (MSAL)
                token = await asyncio.to_thread(credentials.get_access_token)
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _get(self, base_url: str, conversation: str, user_id: str,
                   headers: dict[str, str]) -> Member:
        assert self.http is not None
        url = (f"{base_url}/v3/conversations/{quote(conversation, safe='')}"
               f"/members/{quote(user_id, safe='')}")
        async with self.http.get(url, headers=headers) as response:
            if response.status in (403, 404):
                raise NotInRoster(f"{response.status} for this member's roster entry")
            if response.status != 200:
                raise RosterUnavailable(f"the connector answered {response.status}")
            return Member.from_json(await response.json(content_type=None))

    async def _personal_chat(self, base_url: str, activity: Any, user_id: str, tenant_id: str,
                             headers: dict[str, str]) -> str:
        """The id of the sender's one-to-one chat with the bot (Teams returns the existing one)."""
        assert self.http is not None
        bot = getattr(activity, "recipient", None)
        body = {"isGroup": False, "bot": {"id": str(getattr(bot, "id", "") or "")},
                "members": [{"id": user_id}], "tenantId": tenant_id,
                "channelData": {"tenant": {"id": tenant_id}}}
        async with self.http.post(f"{base_url}/v3/conversations", json=body,
                                  headers=headers) as response:
            if response.status in (403, 404):  # the app is not installed for this person
                raise NotInRoster(f"no personal chat ({response.status})")
            if response.status not in (200, 201, 202):
                raise RosterUnavailable(f"the connector answered {response.status}")
            created = await response.json(content_type=None)
        found = created.get("id") if isinstance(created, Mapping) else None
        if not isinstance(found, str) or not found:
            raise RosterUnavailable("the connector returned no personal chat")
        return found
