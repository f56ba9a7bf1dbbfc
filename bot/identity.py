"""Who sent an activity: their tenant, a stable user key, and whether they are CLOUDEX staff.

One rule for every staff-only path — registering the support channel,
``queue``, refreshing a ticket card, Take over, End, ``done``, the staff
commands, the compose-box search and the team greeting — so no feature can
drift from it. Callers hand over the turn; nothing else:

* **staff tenants**: with ``STAFF_TENANT_IDS`` set, those tenants; with it
  unset, the bot's own tenant (``MicrosoftAppTenantId``), unless
  ``STAFF_GROUP_ID`` is set, which then narrows staff to that group. A sender
  counts only as a *member* of a staff tenant: the conversation's tenant id is
  not enough, because a B2B guest in a CLOUDEX team, or an anonymous meeting
  participant, arrives with CLOUDEX's tenant id too. So the sender's entry in
  the Teams roster (:mod:`bot.roster`, the Bot Connector's
  ``GET /v3/conversations/{id}/members/{userId}`` with the bot's own
  credentials) must say ``userRole: "user"`` and a ``tenantId`` of a staff
  tenant (a B2B direct-connect user of a shared channel has their own
  tenant's id there). Only senders whose conversation is in a staff tenant are
  looked up, so a customer's turn never costs a roster call.
* **the staff group**: with ``STAFF_GROUP_ID`` set, members of that Entra group
  are staff too — checked with Microsoft Graph
  ``POST /users/{id}/checkMemberGroups`` (transitive) using the bot's app-only
  token, only for users of the bot's own tenant, where the group lives (the
  app needs ``GroupMember.Read.All``). A guest the group lists counts: putting
  a person in the group is CLOUDEX's explicit decision (an outsourced support
  agent, for example), where a tenant id alone decides nothing about guests.
  Anonymous users have no object id and never count.
* only with none of these set, in local mode on loopback (development), is
  everyone staff, and the app says so in its log at start.

Answers are cached per (tenant, user) for 15 minutes, a lookup that failed for
one minute (and only for that conversation), so the compose box stays well
inside Teams' 5 seconds and a burst of turns asks once. Tenant ids are
compared case-insensitively. Anything unknown fails closed: a missing tenant,
a roster that cannot be read in time or has no ``userRole``, an unreadable
object id, a Graph error.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.auth import user_key
from bot.roster import Member, RosterUnavailable, TeamsRoster, Turn, roster_conversation
from bot.settings import Settings, is_loopback_host

_LOGGER = logging.getLogger(__name__)

MEMBERSHIP_TTL_SECONDS = 900.0
MEMBERSHIP_FAILURE_TTL_SECONDS = 60.0
# Cached answers kept at most (least recently used dropped first).
MAX_CACHED_ANSWERS = 10_000
# The roster's userRole of a member of the organisation (not "guest", not "anonymous").
MEMBER_ROLE = "user"
# Graph must answer well inside the compose box's 5 s.
GRAPH_TIMEOUT_SECONDS = 2.0
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def tenant_of(activity: Any) -> str:
    """The sender's tenant id, lower-case ("" when the activity names none).

    ``conversation.tenantId`` first, then ``channelData.tenant.id`` (Teams puts
    it in both; other channels in neither).
    """
    conversation = getattr(activity, "conversation", None)
    tenant = getattr(conversation, "tenant_id", None) if conversation is not None else None
    if not tenant:
        tenant = _mapping(_mapping(getattr(activity, "channel_data", None)).get("tenant")).get("id")
    return str(tenant or "").strip().lower()


@dataclass(frozen=True)
class Person:
    """The sender of an activity as features need them: a stable id and a display name."""

    id: str
    name: str
    object_id: str = ""


def sender_of(activity: Any) -> Person:
    """The sender's Teams id (their Entra object id when the channel id is missing) and name."""
    sender = getattr(activity, "from_property", None)
    object_id = str(getattr(sender, "aad_object_id", "") or "")
    person_id = str(getattr(sender, "id", "") or object_id)
    return Person(id=person_id, name=str(getattr(sender, "name", "") or ""), object_id=object_id)


def user_key_of(activity: Any) -> str:
    """An opaque key for the sender (channel, tenant, Entra object id or channel id)."""
    sender = sender_of(activity)
    who = sender.object_id or sender.id or "anonymous"
    return user_key(str(getattr(activity, "channel_id", "") or ""), tenant_of(activity), who)


class _Answers:
    """Cached yes/no answers with an expiry each, least recently used dropped past a bound."""

    def __init__(self, clock: Callable[[], float], bound: int = MAX_CACHED_ANSWERS) -> None:
        self.clock = clock
        self.bound = bound
        self._items: OrderedDict[Hashable, tuple[bool, float]] = OrderedDict()

    def get(self, key: Hashable) -> bool | None:
        found = self._items.get(key)
        if found is None:
            return None
        if self.clock() >= found[1]:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: Hashable, answer: bool, ttl: float) -> None:
        self._items[key] = (answer, self.clock() + ttl)
        self._items.move_to_end(key)
        while len(self._items) > self.bound:
            self._items.popitem(last=False)


class StaffDirectory:
    """Decides whether the sender of a turn is CLOUDEX staff (see the module docstring)."""

    def __init__(self, settings: Settings, http: aiohttp.ClientSession | None = None,
                 token: Callable[[], Awaitable[str]] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 roster: TeamsRoster | None = None) -> None:
        """Configure from ``settings``.

        Args:
            settings: ``staff_tenant_ids``, ``staff_group_id``, ``app_tenant_id``, ``graph_url``.
            http: the shared client session (the roster and the group check use it).
            token: returns an app-only Graph token; None turns the group check off.
            clock: monotonic seconds for the caches.
            roster: reads a sender's Teams roster entry (by default over ``http``).
        """
        self.settings = settings
        self.home_tenant = settings.app_tenant_id.strip().lower()
        self.group_id = settings.staff_group_id.strip()
        listed = frozenset(t.strip().lower() for t in settings.staff_tenant_ids if t.strip())
        if listed:
            self.tenants = listed
        elif self.home_tenant and not self.group_id:
            self.tenants = frozenset({self.home_tenant})
        else:
            self.tenants = frozenset()
        # Development only: nothing says who staff are, and nobody but this machine can call.
        self.everyone = (not listed and not self.home_tenant and not self.group_id
                         and settings.local_mode and is_loopback_host(settings.host))
        self.http = http
        self.token = token
        self.clock = clock
        self.roster = roster if roster is not None else TeamsRoster(http)
        self._members = _Answers(clock)  # the group check, per object id
        self._roles = _Answers(clock)  # the roster, per (tenant, user); failures per conversation
        self._lookups: dict[Hashable, asyncio.Task[bool]] = {}

    @property
    def checks_group(self) -> bool:
        """True when group membership is checked (a group, a token and a session)."""
        return bool(self.group_id and self.token is not None and self.http is not None)

    def describe(self) -> str:
        """Say who counts as staff, for the log at start (ids only, never secrets)."""
        if self.everyone:
            return ("everyone is staff: local mode on loopback with no STAFF_TENANT_IDS, "
                    "MicrosoftAppTenantId or STAFF_GROUP_ID")
        parts = []
        if self.tenants:
            parts.append("members (Teams roster userRole \"user\", not guests) of tenant(s) "
                         + ", ".join(sorted(self.tenants)))
        if self.group_id:
            state = "checked" if self.checks_group else "NOT checked: the bot has no credentials"
            parts.append(f"members of group {self.group_id} ({state})")
        return "staff are " + " and ".join(parts) if parts else "nobody is staff"

    async def is_staff(self, turn: Turn) -> bool:
        """Tell whether the turn's sender is staff (a member of a staff tenant, then the group).

        Args:
            turn: the current turn (``TurnContext``): its activity, and its connector
                client for the roster.

        Returns:
            True for staff; False whenever that cannot be established.
        """
        if self.everyone:
            return True
        activity = turn.activity
        tenant = tenant_of(activity)
        if tenant and tenant in self.tenants and await self.is_member(turn, tenant):
            return True
        if not self.checks_group or not tenant or tenant != self.home_tenant:
            return False
        object_id = sender_of(activity).object_id
        if not _GUID.fullmatch(object_id):
            return False
        return await self.in_group(object_id.lower())

    async def is_member(self, turn: Turn, tenant: str) -> bool:
        """Tell whether the sender is a member (not a guest) of a staff tenant, per the roster.

        One lookup per (tenant, user) at a time, whatever the number of turns asking.

        Args:
            turn: the current turn.
            tenant: the conversation's tenant (a staff tenant), lower-case.
        """
        sender = sender_of(turn.activity)
        if not sender.id:
            return False
        key = ("member", tenant, sender.id)
        failed = ("failed", tenant, sender.id, roster_conversation(turn.activity))
        for cached in (self._roles.get(key), self._roles.get(failed)):
            if cached is not None:
                return cached
        running = self._lookups.get(key)
        if running is None:
            running = asyncio.ensure_future(self._look_up(turn, tenant, sender, key, failed))
            self._lookups[key] = running
            running.add_done_callback(lambda _: self._lookups.pop(key, None))
        # Shielded: a turn that gives up does not cancel the lookup others wait for.
        return await asyncio.shield(running)

    async def _look_up(self, turn: Turn, tenant: str, sender: Person, key: Hashable,
                       failed: Hashable) -> bool:
        try:
            member = await self.roster.member(turn, sender.id, tenant)
        except RosterUnavailable as error:
            _LOGGER.warning("staff check: the Teams roster could not be read, so not staff "
                            "(%s)", error)
            self._roles.put(failed, False, MEMBERSHIP_FAILURE_TTL_SECONDS)
            return False
        except Exception:  # anything else also means "not known to be staff" (logged)
            _LOGGER.warning("staff check failed", exc_info=True)
            self._roles.put(failed, False, MEMBERSHIP_FAILURE_TTL_SECONDS)
            return False
        refusal = self.refusal(member, sender)
        if refusal:
            _LOGGER.info("staff check: a user of staff tenant %s is not staff: %s",
                         tenant, refusal)
        self._roles.put(key, not refusal, MEMBERSHIP_TTL_SECONDS)
        return not refusal

    def refusal(self, member: Member, sender: Person) -> str:
        """Why a roster entry is not a member of a staff tenant ("" when it is)."""
        if member.role != MEMBER_ROLE:
            return f"userRole is {member.role or 'missing'}"
        if member.tenant_id not in self.tenants:
            return "their own tenant is " + (member.tenant_id or "missing")
        if member.id != sender.id:
            return "the roster entry is someone else's"
        return ""

    async def in_group(self, object_id: str) -> bool:
        """Tell whether the user is a (transitive) member of the staff group, cached.

        Args:
            object_id: the user's Entra object id (a GUID).

        Returns:
            True for a member; False for a non-member or when Graph cannot be asked.
        """
        cached = self._members.get(object_id)
        if cached is not None:
            return cached
        if self.token is None or self.http is None:
            return False
        try:
            token = await self.token()
            url = f"{self.settings.graph_url}/users/{object_id}/checkMemberGroups"
            timeout = aiohttp.ClientTimeout(total=GRAPH_TIMEOUT_SECONDS)
            async with self.http.post(url, json={"groupIds": [self.group_id]}, timeout=timeout,
                                      headers={"Authorization": f"Bearer {token}"}) as response:
                if response.status == 404:  # not a user of this tenant
                    member = False
                else:
                    response.raise_for_status()
                    body = await response.json(content_type=None)
                    values = body.get("value", []) if isinstance(body, dict) else []
                    member = self.group_id.lower() in {str(v).lower() for v in values}
        except Exception:  # any failure means "not known to be staff" (logged)
            _LOGGER.warning("staff group check failed", exc_info=True)
            self._members.put(object_id, False, MEMBERSHIP_FAILURE_TTL_SECONDS)
            return False
        self._members.put(object_id, member, MEMBERSHIP_TTL_SECONDS)
        return member
