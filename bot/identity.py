"""Who sent an activity: their tenant, a stable user key, and whether they are CLOUDEX staff.

One rule for every staff-only path — registering the support channel,
``queue``, refreshing a ticket card, Take over, End, ``done``, the staff
commands and the compose-box search — so no feature can drift from it:

* with ``STAFF_TENANT_IDS`` set, its tenants' users are staff;
* with it unset, the bot's own tenant (``MicrosoftAppTenantId``) is, unless
  ``STAFF_GROUP_ID`` is set, which then narrows it to that group's members;
* with ``STAFF_GROUP_ID`` set, members of that Entra group are staff too —
  checked with Microsoft Graph ``POST /users/{id}/checkMemberGroups``
  (transitive) using the bot's app-only token, only for users of the bot's own
  tenant, where the group lives (the app needs ``GroupMember.Read.All``).
  Answers are cached per user for 15 minutes (a failed lookup for one minute)
  so the compose box stays well inside Teams' 5-second budget;
* only with none of these set, in local mode on loopback (development), is
  everyone staff, and the app says so in its log at start.

Tenant ids are compared case-insensitively. Anything unknown fails closed: a
missing tenant, an unreadable object id, a Graph error.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.auth import user_key
from bot.settings import Settings, is_loopback_host

_LOGGER = logging.getLogger(__name__)

MEMBERSHIP_TTL_SECONDS = 900.0
MEMBERSHIP_FAILURE_TTL_SECONDS = 60.0
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


class StaffDirectory:
    """Decides whether the sender of an activity is CLOUDEX staff (see the module docstring)."""

    def __init__(self, settings: Settings, http: aiohttp.ClientSession | None = None,
                 token: Callable[[], Awaitable[str]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Configure from ``settings``.

        Args:
            settings: ``staff_tenant_ids``, ``staff_group_id``, ``app_tenant_id``, ``graph_url``.
            http: the shared client session (needed for the group check).
            token: returns an app-only Graph token; None turns the group check off.
            clock: monotonic seconds for the membership cache.
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
        self._members: dict[str, tuple[bool, float]] = {}

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
            parts.append("users of tenant(s) " + ", ".join(sorted(self.tenants)))
        if self.group_id:
            state = "checked" if self.checks_group else "NOT checked: the bot has no credentials"
            parts.append(f"members of group {self.group_id} ({state})")
        return "staff are " + " and ".join(parts) if parts else "nobody is staff"

    async def is_staff(self, activity: Any) -> bool:
        """Tell whether the activity's sender is staff (tenant first, then the group).

        Args:
            activity: the incoming activity.

        Returns:
            True for staff; False whenever that cannot be established.
        """
        if self.everyone:
            return True
        tenant = tenant_of(activity)
        if tenant and tenant in self.tenants:
            return True
        if not self.checks_group or not tenant or tenant != self.home_tenant:
            return False
        object_id = sender_of(activity).object_id
        if not _GUID.fullmatch(object_id):
            return False
        return await self.in_group(object_id.lower())

    async def in_group(self, object_id: str) -> bool:
        """Tell whether the user is a (transitive) member of the staff group, cached.

        Args:
            object_id: the user's Entra object id (a GUID).

        Returns:
            True for a member; False for a non-member or when Graph cannot be asked.
        """
        cached = self._members.get(object_id)
        if cached is not None and self.clock() < cached[1]:
            return cached[0]
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
        except Exception:  # noqa: BLE001 - any failure means "not known to be staff"
            _LOGGER.warning("staff group check failed", exc_info=True)
            self._members[object_id] = (False, self.clock() + MEMBERSHIP_FAILURE_TTL_SECONDS)
            return False
        self._members[object_id] = (member, self.clock() + MEMBERSHIP_TTL_SECONDS)
        return member
