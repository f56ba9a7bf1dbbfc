"""Open handoff tickets one after another, printing each id once the store has acknowledged it.

Run as ``python tests/resilience/ticket_writer.py STORAGE_URL PREFIX`` next to a
bot under load, then kill -9 both: every printed id must still be in the store.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.store import open_store


async def write_tickets(storage_url: str, prefix: str) -> None:
    """Create tickets until killed; print ``<ticket id>`` after each create returns."""
    store = await open_store(storage_url)
    number = 0
    while True:
        conversation_id = f"{prefix}-customer-{number}"
        ticket = await store.tickets.create_ticket(
            customer_ref={"conversation": {"id": conversation_id},
                          "serviceUrl": "https://smba.trafficmanager.net/emea/"},
            customer_name=f"Customer {number}", tenant_id="tenant-1",
            summary={"answers": {"mailbox": f"user{number}@contoso.com"}})
        print(ticket.id, flush=True)
        number += 1


if __name__ == "__main__":
    asyncio.run(write_tickets(sys.argv[1], sys.argv[2]))
