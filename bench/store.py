"""CPU per turn of the store's part of a turn, on SQLite and PostgreSQL.

``make bench`` measures whole turns over HTTP; this isolates what the store
does in one, so a change to ``bot/store`` can be compared before and after on
one machine (run it in both trees; it uses only the store's public API):

* **plain turn**: read the conversation record, write it back with its e-tag
  (what a customer's turn with no handoff open does: one read, one write);
* **turn with an audit row**: the same read, then the record and one audit row
  written together (``Store.turns.write_turn``), as a diagnosis turn does;
* **relayed turn**: the record, a transcript line of an open, taken ticket
  and its relay in the outbox, written together (a customer's message during a
  handoff).

Each figure is the median of five rounds of CPU microseconds per turn: the
event loop's thread (``time.thread_time``: what a turn costs the loop) and the
whole process (``time.process_time``: with any worker thread). The database
server's own CPU (PostgreSQL) is not in it.

    .venv/bin/python -m bench.store [--turns 4000] [--postgres URL]

PostgreSQL runs when ``--postgres`` or ``TEST_POSTGRES_URL`` names a server; it
works in a throwaway schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.store import open_store
from bot.store.outbox import AuditLine, OutboxMessage, TranscriptLine, TurnWrites

ROUNDS = 5
CONVERSATIONS = 32


def record(n: int) -> dict[str, Any]:
    """A conversation record of the size a real one has (about 600 bytes of JSON)."""
    return {
        "snapshot": {"v": 1, "state": "ask_security_defaults", "lang": "en",
                     "facts": {"mailbox": f"tms{n}@contoso.com", "licensed": True, "mfa": "yes",
                               "error": "535 5.7.139 Authentication unsuccessful"}},
        "welcomed": True,
        "reference": {"activityId": f"f:{n}", "bot": {"id": "28:bot", "name": "Mail Setup"},
                      "channelId": "msteams", "conversation": {"id": f"a:conv-{n}",
                                                               "tenantId": "tenant-1"},
                      "serviceUrl": "https://smba.trafficmanager.net/emea/",
                      "user": {"id": f"29:user-{n}", "aadObjectId": f"aad-{n}"}},
        "extra": {},
        "seen": [[f"act-{n}-{i}", 1_790_000_000 + i] for i in range(6)],
        "recent": [{"text": "it is tms@contoso.com", "at": 1_790_000_000}],
    }


Turn = Callable[[int, int], Awaitable[None]]


async def measure(turn: Turn, turns: int) -> tuple[float, float]:
    """Median CPU µs per turn (loop thread, process) over :data:`ROUNDS` rounds."""
    runs: list[tuple[float, float]] = []
    for round_no in range(ROUNDS + 1):
        thread, process = time.thread_time(), time.process_time()
        for n in range(turns):
            await turn(n % CONVERSATIONS, round_no * turns + n)
        if round_no:  # the first round warms up
            runs.append(((time.thread_time() - thread) / turns * 1e6,
                         (time.process_time() - process) / turns * 1e6))
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))


async def run_backend(url: str, turns: int) -> dict[str, tuple[float, float]]:
    """Measure the three kinds of turn on the store at ``url``."""
    store = await open_store(url)
    try:
        keys = [f"conv/msteams/a:conv-{n}" for n in range(CONVERSATIONS)]
        await store.state.write({key: record(n) for n, key in enumerate(keys)})
        ticket = await store.tickets.create_ticket(
            customer_ref=record(0)["reference"], customer_name="Dana", tenant_id="tenant-1")
        await store.tickets.claim_ticket(ticket.id, "agent-1", "Ben")
        relay_target = {"conversation": {"id": "19:support;messageid=1"},
                        "serviceUrl": "https://smba.trafficmanager.net/emea/"}

        async def plain(n: int, i: int) -> None:
            key = keys[n]
            item = (await store.state.read([key]))[key]
            item["snapshot"]["facts"]["turn"] = i
            await store.state.write({key: item})

        async def audited(n: int, i: int) -> None:
            key = keys[n]
            item = (await store.state.read([key]))[key]
            item["snapshot"]["facts"]["turn"] = i
            await store.turns.write_turn(key, item, TurnWrites(audit=[AuditLine(
                "diagnosis", conversation_id=f"a:conv-{n}", tenant_id="tenant-1",
                detail={"cause": "mfa_required", "source": "typed"})]))

        async def relayed(n: int, i: int) -> None:
            key = keys[0]
            item = (await store.state.read([key]))[key]
            item["snapshot"]["facts"]["turn"] = i
            relay = OutboxMessage(lane="19:support", kind="send", target=relay_target,
                                  activities=[{"type": "message", "text": f"message {i}"}],
                                  ticket_id=ticket.id)
            await store.turns.write_turn(key, item, TurnWrites(transcripts=[TranscriptLine(
                conversation_id="a:conv-0", direction="customer", text=f"message {i}",
                sender="Dana", activity_id=f"act-{i}-{secrets.token_hex(3)}",
                ticket_id=ticket.id, relay=relay)]))
            if i % 50 == 0:  # keep the outbox short, as delivery does
                for row in await store.turns.lease(None, 30.0, limit=100):
                    await store.turns.delivered(row.id)

        return {"plain turn (read + write)": await measure(plain, turns),
                "turn with an audit row": await measure(audited, turns),
                "relayed turn (transcript + outbox)": await measure(relayed, turns)}
    finally:
        await store.close()


async def main_async(turns: int, pg_url: str | None) -> None:
    """Run SQLite, then PostgreSQL when a URL is given, and print the figures."""
    with tempfile.TemporaryDirectory() as folder:
        results = {"SQLite": await run_backend(f"sqlite:///{Path(folder) / 'bench.db'}", turns)}
    if pg_url:
        import asyncpg

        schema = f"bench_store_{secrets.token_hex(4)}"
        sep = "&" if "?" in pg_url else "?"
        try:
            results["PostgreSQL"] = await run_backend(f"{pg_url}{sep}schema={schema}",
                                                      max(turns // 4, 200))
        finally:
            conn = await asyncpg.connect(pg_url)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
    for backend, figures in results.items():
        for name, (thread, process) in figures.items():
            print(f"{backend:<10} {name:<36} {thread:8.1f} µs (loop thread) "
                  f"{process:8.1f} µs (process)")


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=4000)
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL") or None)
    args = parser.parse_args()
    asyncio.run(main_async(args.turns, args.postgres))


if __name__ == "__main__":
    main()
