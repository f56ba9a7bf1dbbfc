"""Mail Setup Assistant: the app factory and the command line.

``python app.py`` serves the bot (``make run``); the subcommands are
``chat`` (the same bot in the terminal), ``diagnose`` (read an error
message), ``cards`` (write every card as JSON), ``flow`` (write the flow
diagram) and ``package`` (build the Teams app package). Nothing is created at
import time: :func:`create_app` builds everything from a ``Settings`` value.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.settings import Settings, SettingsError

if TYPE_CHECKING:  # the domain is imported when the app is built, not when app.py is
    from dialogs.engine import FlowEngine


def build_engine(settings: Settings | None = None) -> FlowEngine:
    """Build the domain engine: knowledge, diagnosis, search and the one shared machine.

    ``settings`` tell whether customer sign-in is configured: only then do the
    cards offer "Check my tenant".
    """
    from dialogs.diagnosis_adapter import diagnosis_function
    from dialogs.engine import FlowEngine
    from dialogs.knowledge import default_knowledge
    from dialogs.search import search_for

    knowledge = default_knowledge()
    # The search index is built here, at start, rather than in the first question's turn.
    return FlowEngine(knowledge, diagnose=diagnosis_function(knowledge),
                      search=search_for(knowledge),
                      live_checks=bool(settings is not None and settings.signin_app_id))


def create_app(
    settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> web.Application:
    """Build the aiohttp application for ``settings``; resources open in cleanup_ctx.

    ``clock`` (default: the real UTC time) is for tests that age handoff tickets.
    """
    from bot.adapter import build_adapter
    from bot.composition import open_bot
    from bot.http import setup_routes
    from bot.keys import ADAPTER_KEY, BOT_KEY, METRICS_KEY, SERVICES_KEY, SETTINGS_KEY, STORE_KEY
    from bot.metrics import bot_metrics

    app = web.Application(client_max_size=settings.max_request_bytes)
    app[SETTINGS_KEY] = settings
    engine = build_engine(settings)

    adapter = build_adapter(settings)
    app[ADAPTER_KEY] = adapter
    metrics = bot_metrics()
    app[METRICS_KEY] = metrics

    async def services_context(app: web.Application) -> AsyncIterator[None]:
        # The one composition root, shared with `make chat` (bot/composition.py).
        async with open_bot(settings, engine, adapter, metrics, clock=clock) as running:
            app[STORE_KEY] = running.services.store
            app[SERVICES_KEY] = running.services
            app[BOT_KEY] = running.bot
            yield

    app.cleanup_ctx.append(services_context)
    setup_routes(app)
    return app


def configure_logging(level: str) -> None:
    """Structured one-line logs; message bodies are never logged at INFO."""
    from bot.logs import configure

    configure(level)


def serve(settings: Settings) -> None:
    """Serve the bot until interrupted."""
    configure_logging(settings.log_level)
    logging.getLogger(__name__).info(
        "serving", extra={"url": f"http://{settings.host}:{settings.port}/api/messages",
                          "storage": settings.storage_url.split("@")[-1],
                          "auth": "off (local mode)" if settings.local_mode else "on"})
    app = create_app(settings)
    app.on_startup.append(_freeze_startup_objects)  # after cleanup_ctx has opened everything
    web.run_app(app, host=settings.host, port=settings.port,
                print=lambda msg: print(msg, file=sys.stderr))


# Container objects allocated (net of those freed) before the youngest generation is
# collected; see _freeze_startup_objects.
YOUNG_COLLECTION_THRESHOLD = 10_000


async def _freeze_startup_objects(app: web.Application) -> None:
    """Take what startup built out of the garbage collector's view, once it is all built.

    The knowledge, the search index, the machine and the SDK's classes live as
    long as the process; without this every full collection walks all of them
    while every turn in flight waits. Only the server does it: freezing is
    process-wide, and tests build many apps in one process.

    The youngest generation is then collected after :data:`YOUNG_COLLECTION_THRESHOLD`
    more container objects instead of Python's 700. A turn builds and drops
    hundreds (a card, a reading, a state document), so at 700 the collector ran
    every turn or two and walked the objects of every turn in flight: 0.15 ms
    of each turn's CPU under ``make bench`` load, 1.9 ms per middle-generation
    pass. At 10,000 it runs a few times a thousand turns, with no longer pauses
    (the longest 4-6 ms either way); cycles left for it wait longer, a few MB at most.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="app.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve the bot (the default)")
    sub.add_parser("chat", help="talk to the bot in this terminal")
    diag = sub.add_parser("diagnose", help="diagnose an error message")
    diag.add_argument("--json", action="store_true", help="print JSON")
    diag.add_argument("--jsonl", action="store_true", help="read {\"text\": …} lines on stdin")
    diag.add_argument("text", nargs="*", help="the error text (stdin when omitted)")
    cards_cmd = sub.add_parser("cards", help="write every card the bot can send as JSON")
    cards_cmd.add_argument("--out", required=True, type=Path)
    flow_cmd = sub.add_parser("flow", help="write the flow diagram (mermaid)")
    flow_cmd.add_argument("--out", type=Path, default=Path("docs/flow.md"))
    package_cmd = sub.add_parser("package", help="build the Teams app package")
    package_cmd.add_argument("--out", type=Path, default=Path("dist"))
    gallery_cmd = sub.add_parser("gallery", help="draw every card as a PNG (Chromium + npm)")
    gallery_cmd.add_argument("--out", type=Path, default=Path("docs/cards"))
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2

    command = args.command or "serve"
    if command == "serve":
        serve(settings)
        return 0
    if command == "chat":
        from bot.terminal import run_terminal_chat

        return asyncio.run(run_terminal_chat(settings, build_engine(settings)))
    if command == "diagnose":
        from dialogs.diagnosis_cli import main as diagnose_main

        forwarded = (["--json"] if args.json else []) + (["--jsonl"] if args.jsonl else [])
        return diagnose_main(forwarded + list(args.text), sys.stdin, sys.stdout)
    if command == "cards":
        from dialogs.gallery import write_card_files

        written = write_card_files(args.out)
        print(f"wrote {len(written)} cards to {args.out}")
        return 0
    if command == "flow":
        from dialogs.diagram import write_flow_markdown

        write_flow_markdown(args.out)
        print(f"wrote {args.out}")
        return 0
    if command == "gallery":
        from tools.gallery import GalleryError, write_galleries
        from tools.node import ToolMissing

        try:
            gallery = write_galleries(args.out)
        except (ToolMissing, GalleryError) as exc:
            print(f"gallery: {exc}", file=sys.stderr)
            return 1
        for warning in gallery.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"wrote {len(gallery.pictures)} card pictures and index.md to {args.out}")
        return 0
    if command == "package":
        from bot.package import build_package

        zip_path = build_package(settings, args.out)
        print(json.dumps({"package": str(zip_path)}))
        return 0
    parser.error(f"unknown command {command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
