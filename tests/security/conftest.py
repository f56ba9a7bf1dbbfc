"""Fixtures for the security tests: a bot with an app id, checked against the local identity.

(``identity``, the local Bot Framework identity service, is in ``tests/conftest.py``: the
handoff tests use it too.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from tests.support.connector import LocalConnector
from tests.support.harness import Chat
from tests.support.identity import LocalIdentity

PASTED_ERROR = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                "disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more "
                "information. [AM0PR02CA0001.eurprd02.prod.outlook.com]")


def database_bytes(folder: Path) -> bytes:
    """The SQLite database with its WAL and shared-memory files, as stored on disk."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("bot.db*")))


@pytest.fixture
def auth_settings(identity: LocalIdentity, tmp_path: Path) -> Settings:
    """Settings of a single-tenant bot with an app id (authentication on)."""
    return Settings(
        app_id=identity.app_id, app_password=identity.app_password,
        app_type="SingleTenant", app_tenant_id=identity.tenant_id,
        openid_metadata_url=identity.metadata_url, bot_login_url=identity.authority,
        storage_url=f"sqlite:///{tmp_path}/bot.db",
    )


@pytest.fixture
async def auth_client(aiohttp_client: Any, auth_settings: Settings) -> Any:
    """The real app with authentication on, served on loopback."""
    from app import create_app

    return await aiohttp_client(create_app(auth_settings))


class SignedChat(Chat):
    """A Teams chat whose requests carry a token the test chooses."""

    identity: LocalIdentity

    async def send(self, body: dict[str, Any], authorization: str | None
                   ) -> tuple[int, list[dict[str, Any]]]:
        """POST ``body`` with this Authorization header; return status and the replies."""
        before = len(self.connector.for_conversation(self.conversation_id))
        self.connector.join(body, self.role)
        headers = {"Authorization": authorization} if authorization is not None else {}
        response = await self.client.post("/api/messages", json=body, headers=headers)
        await response.read()
        return response.status, self.connector.for_conversation(self.conversation_id)[before:]

    def message(self, text: str, **overrides: Any) -> dict[str, Any]:
        """A Teams message activity in this chat."""
        return self._activity("message", text=text, **overrides)

    def valid_header(self) -> str:
        """A correct channel token for this chat's serviceUrl."""
        return "Bearer " + self.identity.channel_token(self.connector.url)


@pytest.fixture
def signed_chat(auth_client: Any, connector: LocalConnector, identity: LocalIdentity) -> SignedChat:
    """A personal chat with the authenticated bot."""
    chat = SignedChat(auth_client, connector)
    chat.identity = identity
    return chat
