"""Target (a), the floor: a bare aiohttp handler that posts one reply per activity.

No SDK, no state, no validation beyond reading the JSON: it answers every
activity with one message posted to the connector (the reply route, like a
bot replying to the activity) over one shared ClientSession, then returns
200. Nothing a real bot does can be cheaper, so it bounds what the machine
and the load generator allow.

Run: ``python -m bench.floor PORT [--fail]`` (``--fail`` answers every
request with 500, for the harness's own test that errors are counted).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
from aiohttp import web

SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)


async def messages(request: web.Request) -> web.Response:
    """Post one reply for the incoming activity, then answer 200."""
    activity = await request.json()
    conversation = activity["conversation"]
    url = (f"{activity['serviceUrl'].rstrip('/')}/v3/conversations/"
           f"{quote(conversation['id'], safe='')}/activities/{quote(activity['id'], safe='')}")
    reply = {
        "type": "message",
        "text": f"Echo: {activity.get('text') or ''}",
        "from": activity.get("recipient"),
        "recipient": activity.get("from"),
        "conversation": conversation,
        "replyToId": activity["id"],
        "channelId": activity.get("channelId"),
        "serviceUrl": activity["serviceUrl"],
    }
    async with request.app[SESSION].post(
        url, data=json.dumps(reply), headers={"Content-Type": "application/json"}
    ) as response:
        await response.read()
        if response.status >= 400:
            return web.Response(status=502)
    return web.Response(status=200)


async def failing(request: web.Request) -> web.Response:
    """Answer every activity with a server error."""
    await request.read()
    return web.Response(status=500)


async def healthz(request: web.Request) -> web.Response:
    """Readiness probe for the harness."""
    return web.Response(text="ok")


def create_app(fail: bool = False) -> web.Application:
    """The floor application (``fail``: every message gets a 500)."""
    app = web.Application()

    async def session_context(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession()
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session_context)
    app.router.add_post("/api/messages", failing if fail else messages)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> int:
    """Serve on 127.0.0.1:PORT until terminated."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("port", type=int)
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args(argv)
    web.run_app(create_app(args.fail), host="127.0.0.1", port=args.port, print=None,
                access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
