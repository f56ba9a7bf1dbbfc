"""Target (b), the peer: botbuilder's echo bot built the way the SDK samples build it.

As in BotBuilder-Samples ``samples/python/02.echo-bot`` on CloudAdapter:
``CloudAdapter(ConfigurationBotFrameworkAuthentication(config))``, an
``ActivityHandler`` that echoes messages and welcomes added members, an
``on_turn_error`` that tells the user, and ``adapter.process(request, bot)``
behind ``/api/messages`` with the SDK's ``aiohttp_error_middleware``. Auth is
off (no app id), like the bot under test in local mode. Nothing is tuned.

bench/ is a measuring tool, not part of the bot, so it may import the SDK
directly (the framework rule is about the product packages).

With ``--fast`` the same bot runs on this bot's turn path instead
(``bot.adapter.build_adapter`` with the shared ClientSession, and the request
read the way ``bot/http.py`` reads it): target (b′), which separates what the
turn path saves from what the bot's own work costs.

Run: ``python -m bench.echo_sdk PORT [--fast]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
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


def create_fast_app() -> web.Application:
    """The same bot on this bot's adapter, shared session and request reading."""
    import aiohttp

    from bot.adapter import build_adapter
    from bot.settings import Settings
    from bot.wire import activity_from_json

    adapter = build_adapter(Settings(storage_url="memory://"))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        activity = activity_from_json(await request.json())
        response = await adapter.process_activity("", activity, bot.on_turn)
        if response is not None:
            return web.json_response(response.body, status=int(response.status))
        return web.Response(status=200)

    async def session_context(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            adapter.use_http_session(session)
            yield

    app = web.Application()
    app.cleanup_ctx.append(session_context)
    app.router.add_post("/api/messages", messages)
    return app


def main(argv: list[str] | None = None) -> int:
    """Serve on 127.0.0.1:PORT until terminated."""
    parser = argparse.ArgumentParser(prog="python -m bench.echo_sdk")
    parser.add_argument("port", type=int)
    parser.add_argument("--fast", action="store_true", help="run on this bot's turn path")
    args = parser.parse_args(argv)
    config = DefaultConfig(PORT=args.port)
    app = create_fast_app() if args.fast else create_app(config)
    web.run_app(app, host="127.0.0.1", port=config.PORT, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
