"""The Bot Framework adapter: CloudAdapter with single-tenant auth and a friendly error path."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)

from bot.settings import Settings

_LOGGER = logging.getLogger(__name__)
SORRY = (
    "Sorry, something went wrong on my side. Your answers are kept; please try again, "
    "or say \"talk to a person\"."
)


@dataclass(frozen=True)
class SdkConfiguration:
    """The attribute names botbuilder's configuration classes look for."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str | None = None


def sdk_configuration(settings: Settings) -> SdkConfiguration:
    """Translate our settings into what ConfigurationBotFrameworkAuthentication reads."""
    return SdkConfiguration(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password,
        # The SDK insists on credentials for SingleTenant; with no app id at all
        # (local mode) its MultiTenant path is the one that means "auth off".
        APP_TYPE=settings.app_type if settings.app_id else "MultiTenant",
        APP_TENANTID=settings.app_tenant_id,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.openid_metadata_url or None,
    )


def build_adapter(settings: Settings) -> CloudAdapter:
    """Create the adapter; an empty app id turns authentication off (local mode)."""
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(sdk_configuration(settings)))

    async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
        # Logged with the stack for us; the customer gets one calm sentence, never the trace.
        _LOGGER.exception(
            "turn failed", exc_info=error,
            extra={"conversation_id": getattr(turn_context.activity.conversation, "id", None)},
        )
        if turn_context.activity.type == "message":
            try:
                await turn_context.send_activity(SORRY)
            except Exception:  # the connector itself may be what failed
                _LOGGER.warning("could not send the error notice")

    adapter.on_turn_error = on_turn_error
    return adapter
