"""kill -9 under load, then restart on the same store: every conversation resumes, no ticket lost.

A real ``python app.py`` serves N concurrent conversations (each a dozen
turns) while a second process opens handoff tickets in the same store. Both
are SIGKILLed mid-load. The bot is restarted on the same SQLite file (or
PostgreSQL schema) and then:

* every conversation's stored snapshot is exactly the oracle's snapshot after
  its acknowledged (HTTP 200) turns — or after one more, when a turn was in
  flight at the kill and had already been saved: no acknowledged turn is lost;
* every acknowledged "talk to a person" has its handoff ticket;
* every conversation then finishes its script on the restarted bot and ends
  in the oracle's final snapshot;
* every ticket whose id the writer printed (``create_ticket`` had returned) is
  in the store.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

from bot.store import open_store
from tests.resilience.conftest import Oracle, Script, make_script, stored_snapshot
from tests.support.connector import LocalConnector
from tests.support.process import REPO, BotProcess, http_session

CONVERSATIONS = 16
KILL_AFTER = 0.4  # of all turns acknowledged


async def run_script(session: aiohttp.ClientSession, script: Script, service_url: str,
                     until: int | None = None) -> None:
    """Send the script's turns in order from ``script.acked``; stop at the first failure."""
    end = len(script.turns) if until is None else until
    while script.acked < end:
        script.in_flight = True
        try:
            async with session.post("/api/messages",
                                    json=script.body(script.acked, service_url)) as response:
                await response.read()
                script.statuses.append(response.status)
                if response.status != 200:
                    return
        except aiohttp.ClientError:
            return  # the process died under us: this turn was never acknowledged
        script.in_flight = False
        script.acked += 1


async def test_kill_9_under_load_loses_no_acknowledged_turn_and_no_ticket(
    storage_url: str, connector: LocalConnector, oracle: Oracle, tmp_path: Path,
    report: dict[str, str],
) -> None:
    """SIGKILL mid-load; after a restart every conversation resumes where it was acknowledged."""
    # Every other customer asks for a person: the handoff opens a ticket within that turn.
    scripts = [make_script(f"a:crash-{n}", seed=n, person=n % 2 == 0)
               for n in range(CONVERSATIONS)]
    total = sum(len(s.turns) for s in scripts)
    env = {"STORAGE_URL": storage_url, "LOG_LEVEL": "WARNING"}
    bot = await BotProcess(env, tmp_path / "bot.log").start()
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "tests/resilience/ticket_writer.py", storage_url, "crash",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True)
    printed: list[str] = []

    async def read_ticket_ids() -> None:
        assert writer.stdout is not None
        async for line in writer.stdout:
            printed.append(line.decode().strip())

    reader = asyncio.create_task(read_ticket_ids())
    try:
        while not printed:  # the writer is under way before the load starts
            assert writer.returncode is None, "the ticket writer died"
            await asyncio.sleep(0.01)
        async with http_session(bot) as session:
            tasks = [asyncio.create_task(run_script(session, s, connector.url)) for s in scripts]
            while sum(s.acked for s in scripts) < total * KILL_AFTER:
                assert not all(t.done() for t in tasks), bot.logs()[-2000:]
                await asyncio.sleep(0.01)
            bot.kill(signal.SIGKILL)
            writer.send_signal(signal.SIGKILL)
            await asyncio.gather(*tasks)
        await writer.wait()
        await reader
    finally:
        bot.kill()
        if writer.returncode is None:
            writer.kill()
            await writer.wait()

    acked = sum(s.acked for s in scripts)
    assert total * KILL_AFTER <= acked < total, "the kill did not land mid-load"
    assert any(s.in_flight for s in scripts), "no turn was in flight at the kill"
    printed = [ticket_id for ticket_id in printed if ticket_id]
    assert len(printed) > 1, "the ticket writer was not writing during the load"

    in_flight = sum(s.in_flight for s in scripts)
    # Escalations answered 200 (a saved but unanswered one may have died before its ticket).
    escalated = [s for s in scripts if ("say", "talk to a person") in s.turns[:s.acked]]
    restarted = await BotProcess(env, tmp_path / "bot.log", port=bot.port).start()
    try:
        store = await open_store(storage_url)
        saved_in_flight = 0
        try:
            for script in scripts:
                expected = list(oracle.snapshots(script))
                stored = await stored_snapshot(store, script.conversation_id)
                if script.in_flight and stored == expected[script.acked + 1]:
                    script.acked += 1  # the unanswered turn had been saved: it counts
                    saved_in_flight += 1
                assert stored == expected[script.acked], (
                    f"{script.conversation_id}: stored state is not the state after its "
                    f"{script.acked} acknowledged turns")
            kept = {ticket.id for ticket in await store.tickets.list_tickets()}
            assert not set(printed) - kept, "acknowledged tickets were lost"
            for script in escalated:
                ticket = await store.tickets.find_open_ticket_by_customer_conversation(
                    script.conversation_id)
                assert ticket is not None, f"{script.conversation_id}: the escalation was lost"

            async with http_session(restarted) as session:
                await asyncio.gather(*(run_script(session, s, connector.url) for s in scripts))
            for script in scripts:
                assert script.acked == len(script.turns), (script.conversation_id,
                                                           script.statuses)
                final = list(oracle.snapshots(script))[-1]
                assert await stored_snapshot(store, script.conversation_id) == final
            backend = storage_url.split(":", 1)[0]
            report[f"crash test ({backend})"] = (
                f"{CONVERSATIONS} conversations, {total} turns; SIGKILL after {acked} "
                f"acknowledged with {in_flight} in flight ({saved_in_flight} of them already "
                f"saved); 0 acknowledged turns lost; {len(escalated)} acknowledged escalations and "
                f"{len(printed)} tickets written alongside, 0 lost")
        finally:
            await store.close()
    finally:
        restarted.stop()
