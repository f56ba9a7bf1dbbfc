"""The load: Teams-shaped conversations posted over HTTP, replies caught by a local connector.

Every target gets exactly the same activities: C conversations in parallel,
each a sequence of T turns — a greeting ``conversationUpdate`` first, then a
fixed mix of Action.Submit presses, typed answers and pasted error texts
(real ones, from the diagnosis corpus). A press picks a button of the last
card the target sent in that conversation, as a person would; a target that
sends no cards (the floor, the echo bot) gets the Start button's data.

A turn is one ``POST /api/messages``; its latency is the time until the HTTP
response, by which point every target has posted its replies (the bots send
before they answer). A turn is an error when the response is not 2xx, the
request fails or times out, or a message turn caused no reply at all.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "activities"
CORPORA = (ROOT / "tests" / "diagnosis" / "corpus.jsonl",
           ROOT / "tests" / "diagnosis" / "canonical.jsonl")
# After the greeting, turns cycle through this mix (~45 % presses, 30 % typed, 25 % pasted).
MIX = ("press", "type", "press", "paste", "press", "type", "press", "paste", "type", "press")
# Buttons a benchmark user does not press: a handoff would page the support team.
NOT_PRESSED = frozenset({"person"})
TURN_TIMEOUT_SECONDS = 30.0


def load_error_texts() -> list[str]:
    """The pasted-error texts: every real and canonical text of the diagnosis corpus."""
    texts: list[str] = []
    for path in CORPORA:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts


@dataclass
class Templates:
    """The recorded Teams payloads the activities are built from."""

    message: dict[str, Any]
    submit: dict[str, Any]
    greeting: dict[str, Any]
    errors: list[str]

    @classmethod
    def load(cls) -> Templates:
        """Read the fixtures and the corpus."""
        def read(name: str) -> dict[str, Any]:
            data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
            return data

        return cls(read("message"), read("card_submit"), read("conversation_update"),
                   load_error_texts())


@dataclass
class ReplyLog:
    """What the local connector saw for one conversation."""

    count: int = 0
    last_card: bytes | None = None


@dataclass
class BenchConnector:
    """A Bot Connector on loopback that counts replies and keeps each conversation's last card."""

    conversations: dict[str, ReplyLog] = field(default_factory=dict)
    total: int = 0
    url: str = ""
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        """Return the connector routes (send, reply, update, delete, create conversation)."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_delete("/v3/conversations/{cid}/activities/{aid}", self._delete)
        app.router.add_post("/v3/conversations", self._create)
        return app

    async def start(self, host: str = "127.0.0.1") -> str:
        """Serve on a free loopback port; return the serviceUrl."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{host}:{port}/"
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.read()
        log = self.conversations.get(request.match_info["cid"])
        if log is not None:
            log.count += 1
            if b'"actions"' in body:
                log.last_card = body
        self.total += 1
        return web.json_response({"id": f"r{next(self._ids)}"})

    async def _delete(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def _create(self, request: web.Request) -> web.Response:
        return web.json_response({"id": f"created-{next(self._ids)}",
                                  "activityId": f"r{next(self._ids)}"})


def _buttons(card_reply: bytes | None) -> list[dict[str, Any]]:
    if not card_reply:
        return []
    found: list[dict[str, Any]] = []
    for attachment in json.loads(card_reply).get("attachments") or []:
        content = attachment.get("content") or {}
        for action in content.get("actions") or []:
            data = action.get("data")
            if action.get("type") == "Action.Submit" and isinstance(data, dict):
                found.append({"title": action.get("title", ""), "data": data})
    return found


@dataclass
class TurnOutcome:
    """One turn as the client saw it."""

    latency: float
    ok: bool


class Conversation:
    """One simulated Teams user in a personal chat."""

    def __init__(self, templates: Templates, connector: BenchConnector, conversation_id: str,
                 number: int, kinds: Sequence[str]) -> None:
        """Prepare a conversation that will take the turns ``kinds``."""
        self.templates = templates
        self.connector = connector
        self.id = conversation_id
        self.number = number
        self.kinds = kinds
        self.random = random.Random(number)
        self.turn = 0

    def _base(self, template: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(template)
        self.turn += 1
        body["serviceUrl"] = self.connector.url
        body["conversation"]["id"] = self.id
        body["id"] = f"{self.id}-t{self.turn}"
        body["from"]["id"] = f"29:bench-user-{self.number}"
        return body

    def activity(self, kind: str) -> dict[str, Any]:
        """Build the activity of a turn of ``kind`` (greet, press, type, paste)."""
        if kind == "greet":
            return self._base(self.templates.greeting)
        log = self.connector.conversations.get(self.id)
        buttons = _buttons(log.last_card if log else None)
        if kind == "paste":
            body = self._base(self.templates.message)
            errors = self.templates.errors
            body["text"] = errors[(self.number * 7 + self.turn) % len(errors)]
            return body
        mailbox = f"it.person{self.number}@contoso.example"
        if kind == "type":
            body = self._base(self.templates.message)
            answers = [b["title"] for b in buttons
                       if b["data"].get("msa") in ("answer", "unsure", "clarify")]
            if any(b["data"].get("question") == "mailbox" for b in buttons):
                body["text"] = mailbox
            elif answers:
                body["text"] = self.random.choice(answers)
            else:
                body["text"] = self.random.choice(["yes", "I don't know", "still failing"])
            return body
        body = self._base(self.templates.submit)
        choices = [b["data"] for b in buttons if b["data"].get("msa") not in NOT_PRESSED]
        data = dict(self.random.choice(choices)) if choices else {"msa": "start"}
        if data.get("question") == "mailbox" and data.get("msa") == "answer":
            data["mailbox"] = mailbox  # Teams merges the Input.Text value into the data
        body["value"] = data
        body["text"] = ""
        return body

    async def run(self, session: aiohttp.ClientSession, url: str,
                  outcomes: list[TurnOutcome], think: float = 0.0) -> None:
        """Take every turn in order, appending each outcome.

        With ``think`` > 0 the user waits before each turn — a random time,
        ``think`` seconds on average (exponential), after the previous reply,
        as a person reads a card before pressing — so the load is paced
        instead of back to back. Latency never includes that wait.
        """
        log = self.connector.conversations.setdefault(self.id, ReplyLog())
        pace = random.Random(f"pace-{self.number}")
        for kind in self.kinds:
            if think > 0:
                await asyncio.sleep(pace.expovariate(1 / think))
            payload = json.dumps(self.activity(kind)).encode("utf-8")
            before = log.count
            started = time.perf_counter()
            ok = False
            try:
                async with session.post(url, data=payload,
                                        headers={"Content-Type": "application/json"}) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            latency = time.perf_counter() - started
            if ok and kind != "greet" and log.count == before:
                ok = False  # a message that got no answer at all
            outcomes.append(TurnOutcome(latency, ok))


def turn_kinds(turns: int) -> list[str]:
    """The kinds of a conversation's ``turns`` turns: a greeting, then the mix."""
    return ["greet"] + [MIX[i % len(MIX)] for i in range(max(0, turns - 1))]


@dataclass
class LoadResult:
    """One target, one round."""

    turns: int
    errors: int
    seconds: float
    latencies: list[float]
    # CPU seconds the target's process used during the round (None when not measured).
    server_cpu: float | None = None
    # Activities the target posted to the connector during the round.
    replies: int = 0

    @property
    def cpu_ms_per_turn(self) -> float | None:
        """The target's CPU time per turn in milliseconds: robust on a busy machine."""
        if self.server_cpu is None or not self.turns:
            return None
        return self.server_cpu / self.turns * 1000

    def combined(self, other: LoadResult) -> LoadResult:
        """This round and ``other`` (run right after it) as one."""
        cpu = (self.server_cpu + other.server_cpu
               if self.server_cpu is not None and other.server_cpu is not None else None)
        return LoadResult(turns=self.turns + other.turns, errors=self.errors + other.errors,
                          seconds=self.seconds + other.seconds,
                          latencies=self.latencies + other.latencies, server_cpu=cpu,
                          replies=self.replies + other.replies)

    @property
    def turns_per_second(self) -> float:
        """Completed turns (errors included) per wall-clock second."""
        return self.turns / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        """This round's latency percentile ``q`` (0-100), in seconds."""
        return percentile_of(sorted(self.latencies), q)


def percentile_of(ordered: list[float], q: float) -> float:
    """Percentile ``q`` (0-100) of ascending ``ordered`` by the nearest rank; 0 when empty."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def new_session(concurrency: int) -> aiohttp.ClientSession:
    """A client session with one keep-alive connection per concurrent conversation."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max(1, concurrency)),
        timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_SECONDS))


def _cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


async def drive(url: str, connector: BenchConnector, templates: Templates, *,
                conversations: int, turns: int, prefix: str,
                concurrency: int | None = None, forget: bool = True,
                pid: int | None = None, think: float = 0.0) -> LoadResult:
    """Run ``conversations`` conversations of ``turns`` turns against ``url``.

    Args:
        url: the target's ``/api/messages`` URL.
        connector: the local connector the targets reply to.
        templates: the activity templates.
        conversations: how many conversations.
        turns: turns per conversation.
        prefix: makes conversation ids unique across rounds and targets.
        concurrency: conversations in flight at once (default: all of them).
        forget: drop the connector's per-conversation logs afterwards.
        pid: the target's process, to measure the CPU time it spends.
        think: each user's mean wait before a turn, in seconds (0: back to back).

    Returns:
        Turn count, errors, wall time and every turn's latency.
    """
    kinds = turn_kinds(turns)
    limit = concurrency or conversations
    outcomes: list[TurnOutcome] = []
    numbers = iter(range(conversations))

    async def worker(session: aiohttp.ClientSession) -> None:
        for number in numbers:
            conversation = Conversation(templates, connector, f"a:{prefix}-{number}", number,
                                        kinds)
            await conversation.run(session, url, outcomes, think)
            if forget:
                connector.conversations.pop(conversation.id, None)

    async with new_session(limit) as session:
        cpu_before = _cpu_seconds(pid)
        replies_before = connector.total
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(min(limit, conversations))))
        seconds = time.perf_counter() - started
        cpu_after = _cpu_seconds(pid)
    server_cpu = (cpu_after - cpu_before
                  if cpu_before is not None and cpu_after is not None else None)
    return LoadResult(turns=len(outcomes), errors=sum(not o.ok for o in outcomes),
                      seconds=seconds, latencies=[o.latency for o in outcomes],
                      server_cpu=server_cpu, replies=connector.total - replies_before)
