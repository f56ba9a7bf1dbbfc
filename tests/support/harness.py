"""Drive the real aiohttp app over HTTP like Teams does, catching replies on a local connector."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient

from tests.support.cards import cards_in, dict_nodes
from tests.support.connector import LocalConnector
from tests.support.teams import activity

_conversations = itertools.count(1)


@dataclass
class Chat:
    """One Teams conversation with the bot over HTTP."""

    client: TestClient
    connector: LocalConnector
    conversation_id: str = field(
        default_factory=lambda: f"a:test-conversation-{next(_conversations)}")
    user_id: str = "29:customer-user"
    user_name: str = "Alex Wilber"
    tenant_id: str = "8d6a7f2c-1b3e-4c5d-9e8f-0a1b2c3d4e5f"
    # The sender's userRole in the Teams roster: "user" (a member), "guest" or "anonymous".
    role: str = "user"
    locale: str | None = None
    """Teams' locale on every activity this chat sends ("lv-LV"); None keeps the fixtures'."""

    def _activity(self, name: str, **kwargs: Any) -> dict[str, Any]:
        if self.locale is not None:
            kwargs.setdefault("locale", self.locale)
        return activity(name, service_url=self.connector.url, conversation_id=self.conversation_id,
                        user_id=self.user_id, user_name=self.user_name, tenant_id=self.tenant_id,
                        **kwargs)

    async def post(self, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]], Any]:
        """POST an activity; return the status, the replies it caused and the response body."""
        before = len(self.connector.for_conversation(self.conversation_id))
        self.connector.join(body, self.role)  # whoever posts is in the conversation's roster
        response = await self.client.post("/api/messages", json=body)
        payload: Any = None
        if response.content_type == "application/json":
            payload = await response.json()
        replies = self.connector.for_conversation(self.conversation_id)[before:]
        return response.status, replies, payload

    async def say(self, text: str) -> list[dict[str, Any]]:
        """Type a message; return the bot's replies."""
        status, replies, _ = await self.post(self._activity("message", text=text))
        assert status == 200, status
        return replies

    async def press(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Press an Action.Submit button carrying ``data``; return the replies."""
        status, replies, _ = await self.post(self._activity("card_submit", value=data))
        assert status == 200, status
        return replies

    async def execute(self, data: dict[str, Any]) -> tuple[int, list[dict[str, Any]], Any]:
        """Press an Action.Execute button (adaptiveCard/action invoke)."""
        return await self.post(self._activity("adaptive_card_action", value=data))

    async def install(self) -> list[dict[str, Any]]:
        """Send Teams' installationUpdate + conversationUpdate pair; return the replies."""
        _, first, _ = await self.post(self._activity("installation_update"))
        _, second, _ = await self.post(self._activity("conversation_update"))
        return first + second


def texts(replies: list[dict[str, Any]]) -> str:
    """Return all visible text of replies (message text and card TextBlocks), joined."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "codeSnippet", "question"):
                if isinstance(node.get(key), str):
                    parts.append(node[key])
            for key, value in node.items():
                if key not in {"fallback"}:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for reply in replies:
        if reply.get("text"):
            parts.append(reply["text"])
        for card in cards_in(reply):
            walk(card)
    return "\n".join(parts)


def show_fix_data(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The data of every "show fix" button anywhere in a card, top to bottom."""
    return [node["data"] for node in dict_nodes(card)
            if node.get("type") == "Action.Submit" and isinstance(node.get("data"), dict)
            and node["data"].get("msa") == "show_fix"]


def buttons(replies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return the last card's Action.Submit buttons: title -> data."""
    found: dict[str, dict[str, Any]] = {}
    for reply in replies:
        for card in cards_in(reply):
            found = {a["title"]: a.get("data", {}) for a in card.get("actions", [])
                     if a.get("type") == "Action.Submit"}
    return found
