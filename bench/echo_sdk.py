"""Target (b), the peer: botbuilder's echo bot built the way the SDK samples build it.

As in BotBuilder-Samples ``samples/python/02.echo-bot`` on CloudAdapter:
``CloudAdapter(ConfigurationBotFrameworkAuthentication(config))``, an
``ActivityHandler`` that echoes messages and welcomes added members, an
``on_turn_error`` that tells the user, and ``adapter.process(request, bot)``
behind ``/api/messages`` with the SDK's ``aiohttp_error_middleware``. Auth is
off (no app id), like the bot under test in local mode. Nothing is tuned.

bench/ is a measuring tool, not part of the bot, so it may import the SDK
directly (the framework rule is about the product packages).

Run: ``python -m bench.echo_sdk PORT``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.core.integration import aiohttp_error_middleware
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import ChannelAccount


@dataclass(frozen=True)
class DefaultConfig:
    """The sample's config.py, with the sample's defaults (no app id: auth off)."""

    PORT: int = 3978
    APP_ID: str = ""
    APP_PASSWORD: str = ""
    APP_TYPE: str = "MultiTenant"
    APP_TENANTID: str = ""


class EchoBot(ActivityHandler):
    """The sample's bot: welcome new members, echo every message."""

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        """Welcome everyone added except the bot itself."""
        for member in members_added:
            if member.id != turn_context.activity.recipient.id:
                await turn_context.send_activity("Hello and welcome!")

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        """Echo the text back."""
        await turn_context.send_activity(
            MessageFactory.text(f"Echo: {turn_context.activity.text}"))


def create_app(config: DefaultConfig) -> web.Application:
    """Wire the adapter, the error handler and the bot like the sample's app.py."""
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))

    async def on_error(context: TurnContext, error: Exception) -> None:
        print(f"\n [on_turn_error] unhandled error: {error}", file=sys.stderr)
        await context.send_activity("The bot encountered an error or bug.")
        await context.send_activity("To continue to run this bot, please fix the bot source code.")

    adapter.on_turn_error = on_error
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=200)

    app = web.Application(middlewares=[aiohttp_error_middleware])
    app.router.add_post("/api/messages", messages)
    return app


def main(argv: list[str] | None = None) -> int:
    """Serve on 127.0.0.1:PORT until terminated."""
    parser = argparse.ArgumentParser(prog="python -m bench.echo_sdk")
    parser.add_argument("port", type=int)
    args = parser.parse_args(argv)
    config = DefaultConfig(PORT=args.port)
    web.run_app(create_app(config), host="127.0.0.1", port=config.PORT, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
