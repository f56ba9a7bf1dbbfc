"""Test kit for the human handoff: the support channel and its threads, as Teams shows them.

A :class:`Thread` is one conversation in the support team's channel — the
post where an agent says "use this channel for handoffs", or the thread the
bot opened for a ticket — seen through one agent's eyes. It posts
Teams-shaped channel activities (``channel_message`` / ``channel_card_action``
fixtures) over HTTP to the real app, and reads what the bot sent there from
the local connector.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tests.support.cards import cards_in
from tests.support.connector import LocalConnector, ReceivedActivity
from tests.support.teams import activity

SUPPORT_CHANNEL = "19:supportchannel@thread.tacv2"
SUPPORT_TENANT = "11111111-2222-3333-4444-555555555555"
BOT_MENTION = "<at>Mail Setup Assistant</at>"
_posts = itertools.count(1732788720000)


@dataclass(frozen=True)
class Agent:
    """A person in the support team's channel (a CLOUDEX agent unless the tenant says otherwise)."""

    id: str
    name: str
    tenant: str = SUPPORT_TENANT
    object_id: str | None = None
    # Their userRole in the Teams roster: "user" (a member of the tenant), "guest", "anonymous".
    role: str = "user"


DANA = Agent("29:agent-dana", "Dana Agent")
MARA = Agent("29:agent-mara", "Mara Agent")


@dataclass
class Thread:
    """One conversation in the support channel, driven by one agent over HTTP."""

    client: TestClient
    connector: LocalConnector
    conversation_id: str
    agent: Agent = DANA
    # Returns the Authorization header for each request (a bot with authentication on).
    authorization: Callable[[], str] | None = None

    def as_agent(self, agent: Agent, client: TestClient | None = None) -> Thread:
        """The same thread seen by another agent (optionally through another bot instance)."""
        return Thread(client or self.client, self.connector, self.conversation_id, agent,
                      self.authorization)

    def message(self, text: str, **overrides: Any) -> dict[str, Any]:
        """Build a channel message that @mentions the bot, as Teams delivers it."""
        body = activity("channel_message", service_url=self.connector.url,
                        conversation_id=self.conversation_id, text=f"{BOT_MENTION} {text}",
                        user_id=self.agent.id, user_name=self.agent.name,
                        tenant_id=self.agent.tenant, **overrides)
        if self.agent.object_id is not None:
            body["from"]["aadObjectId"] = self.agent.object_id
        body["channelData"]["channel"] = {"id": SUPPORT_CHANNEL}
        body["channelData"]["teamsChannelId"] = SUPPORT_CHANNEL
        body["attachments"] = overrides.get("attachments", [])
        return body

    async def post(self, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]], Any]:
        """POST an activity; return the status, what the bot sent to this thread, the body."""
        before = len(self.connector.for_conversation(self.conversation_id))
        self.connector.join(body, self.agent.role)  # whoever posts is in the roster
        headers = {"Authorization": self.authorization()} if self.authorization else None
        response = await self.client.post("/api/messages", json=body, headers=headers)
        payload = await response.json() if response.content_type == "application/json" else None
        return (response.status, self.connector.for_conversation(self.conversation_id)[before:],
                payload)

    async def say(self, text: str, **overrides: Any) -> list[dict[str, Any]]:
        """Type ``text`` in the thread (mentioning the bot); return the bot's replies here."""
        status, replies, _ = await self.post(self.message(text, **overrides))
        assert status == 200, status
        return replies

    async def execute(self, data: dict[str, Any]) -> tuple[int, Any]:
        """Press an Action.Execute button of a card in this thread; return status and body."""
        body = activity("channel_card_action", service_url=self.connector.url,
                        conversation_id=self.conversation_id, value=data,
                        user_id=self.agent.id, user_name=self.agent.name,
                        tenant_id=self.agent.tenant)
        if self.agent.object_id is not None:
            body["from"]["aadObjectId"] = self.agent.object_id
        body["channelData"]["channel"] = {"id": SUPPORT_CHANNEL}
        status, _, payload = await self.post(body)
        return status, payload


def support_post(client: TestClient, connector: LocalConnector, agent: Agent = DANA,
                 authorization: Callable[[], str] | None = None) -> Thread:
    """A fresh top-level post in the support channel (where agents talk to the bot)."""
    return Thread(client, connector, f"{SUPPORT_CHANNEL};messageid={next(_posts)}", agent,
                  authorization)


def new_threads(connector: LocalConnector) -> list[ReceivedActivity]:
    """Threads the bot opened (POST /v3/conversations), oldest first."""
    return [r for r in connector.received if r.path == "/v3/conversations"]


def messages_to(connector: LocalConnector, conversation_id: str) -> list[dict[str, Any]]:
    """New messages the bot posted to a conversation (card updates are left out)."""
    return [r.body for r in connector.received
            if r.conversation_id == conversation_id and r.method == "POST"]


def updates_to(connector: LocalConnector, conversation_id: str) -> list[dict[str, Any]]:
    """Messages the bot replaced in a conversation (PUT: the thread card's new state)."""
    return [r.body for r in connector.received
            if r.conversation_id == conversation_id and r.method == "PUT"]


def card_of(body: dict[str, Any]) -> dict[str, Any]:
    """The one Adaptive Card an activity carries."""
    cards = cards_in(body)
    assert len(cards) == 1, body
    return cards[0]


def executes(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The card's Action.Execute buttons: title -> data."""
    return {a["title"]: a["data"] for a in card.get("actions", [])
            if a.get("type") == "Action.Execute"}


@dataclass
class FakeClock:
    """A clock the test moves by hand (handed to ``create_app(clock=…)``)."""

    now: datetime

    def __call__(self) -> datetime:
        """Return the current fake time."""
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward, e.g. ``advance(minutes=11)``."""
        self.now += timedelta(**delta)


def shown(*bodies: dict[str, Any]) -> str:
    """Everything visible in activities: message text, card text, FactSet rows, button titles."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "FactSet":
                parts.extend(f"{f['title']}: {f['value']}" for f in node.get("facts", []))
            for key in ("text", "title"):
                if isinstance(node.get(key), str):
                    parts.append(node[key])
            for key, value in node.items():
                if key != "fallback":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for body in bodies:
        if body.get("text"):
            parts.append(body["text"])
        walk(cards_in(body))
    return "\n".join(parts)
