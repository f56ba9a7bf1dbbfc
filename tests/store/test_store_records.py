"""Tickets, transcripts, audit log and settings, on every backend.

The handoff relies on these being decided by the database: two bot instances
(two ``Store`` objects on one database here) must agree on who took a ticket,
must not create two tickets for one customer, and must not record a retried
relay twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.store import (
    AuditRepository,
    KeyValueRepository,
    TicketRepository,
    TranscriptRepository,
)

StoreFactory = Any  # conftest.store_factory: async () -> opened Store

CUSTOMER_REF = {
    "activityId": "1700000000001",
    "user": {"id": "29:customer", "name": "Dana Customer", "aadObjectId": "aad-dana"},
    "bot": {"id": "28:bot", "name": "Mail Setup Assistant"},
    "conversation": {"id": "a:customer-conv", "conversationType": "personal", "tenantId": "t-1"},
    "channelId": "msteams",
    "serviceUrl": "https://smba.trafficmanager.net/emea/",
}
THREAD_REF = {
    "conversation": {"id": "19:support@thread.tacv2;messageid=1700000000999", "isGroup": True},
    "channelId": "msteams",
    "serviceUrl": "https://smba.trafficmanager.net/emea/",
}


def customer(n: int) -> dict[str, Any]:
    """A conversation reference for customer ``n``."""
    return {**CUSTOMER_REF, "conversation": {"id": f"a:customer-{n}", "tenantId": "t-1"}}


async def test_repositories_satisfy_their_protocols(store: Any) -> None:
    assert isinstance(store.tickets, TicketRepository)
    assert isinstance(store.transcripts, TranscriptRepository)
    assert isinstance(store.audit, AuditRepository)
    assert isinstance(store.kv, KeyValueRepository)
    assert await store.ping() is True


# --- tickets ------------------------------------------------------------------------


async def test_create_and_read_a_ticket(store: Any, clock: Any) -> None:
    summary = {"answers": {"mfa": True}, "diagnosis": ["mfa_required"], "last_error": "535 5.7.139"}
    ticket = await store.tickets.create_ticket(
        customer_ref=CUSTOMER_REF, customer_name="Dana Customer", tenant_id="t-1", summary=summary
    )
    assert ticket.status == "waiting"
    assert ticket.customer_conversation_id == "a:customer-conv"
    assert ticket.created_at == ticket.updated_at == clock.now
    assert ticket.agent_name is None and ticket.taken_at is None and ticket.rating is None
    assert await store.tickets.get_ticket(ticket.id) == ticket
    assert await store.tickets.get_ticket("nope") is None
    found = await store.tickets.find_open_ticket_by_customer_conversation("a:customer-conv")
    assert found == ticket
    assert found.customer_ref == CUSTOMER_REF and found.summary == summary


async def test_one_open_ticket_per_customer(store_factory: StoreFactory) -> None:
    stores = [await store_factory(), await store_factory()]
    tickets = await asyncio.gather(
        *(stores[i % 2].tickets.create_ticket(customer_ref=CUSTOMER_REF) for i in range(10))
    )
    assert len({t.id for t in tickets}) == 1
    assert len(await stores[0].tickets.list_tickets()) == 1

    assert await stores[0].tickets.close_ticket(tickets[0].id) is True
    again = await stores[1].tickets.create_ticket(customer_ref=CUSTOMER_REF, ticket_id="second")
    assert again.id == "second" and again.status == "waiting"
    assert (
        await stores[0].tickets.create_ticket(customer_ref=CUSTOMER_REF, ticket_id="third")
    ).id == "second"


async def test_create_needs_a_conversation_id(store: Any) -> None:
    with pytest.raises(ValueError, match="no conversation id"):
        await store.tickets.create_ticket(customer_ref={"channelId": "msteams"})


async def test_claim_is_atomic_under_concurrency(store_factory: StoreFactory) -> None:
    stores = [await store_factory(), await store_factory()]
    ticket = await stores[0].tickets.create_ticket(customer_ref=CUSTOMER_REF)

    results = await asyncio.gather(
        *(
            stores[i % 2].tickets.claim_ticket(ticket.id, f"agent-{i}", f"Agent {i}")
            for i in range(20)
        )
    )

    winners = [r for r in results if r.won]
    assert len(winners) == 1
    name = winners[0].agent_name_holding
    assert all(r.agent_name_holding == name and r.status == "taken" for r in results)
    assert {r.agent_id_holding for r in results} == {winners[0].agent_id_holding}
    stored = await stores[1].tickets.get_ticket(ticket.id)
    assert stored.status == "taken" and stored.agent_name == name and stored.taken_at is not None


async def test_claim_of_closed_or_unknown_ticket(store: Any) -> None:
    ticket = await store.tickets.create_ticket(customer_ref=CUSTOMER_REF)
    await store.tickets.close_ticket(ticket.id)
    closed = await store.tickets.claim_ticket(ticket.id, "a", "Alex")
    assert not closed.won and closed.status == "closed" and closed.agent_name_holding is None
    unknown = await store.tickets.claim_ticket("missing", "a", "Alex")
    assert not unknown.won and unknown.status is None


async def test_thread_lookup_update_and_close(store: Any, clock: Any) -> None:
    ticket = await store.tickets.create_ticket(customer_ref=CUSTOMER_REF)
    thread_id = THREAD_REF["conversation"]["id"]
    assert await store.tickets.find_ticket_by_thread(thread_id) is None

    clock.advance(seconds=5)
    updated = await store.tickets.update_ticket(ticket.id, support_thread_ref=THREAD_REF)
    assert updated.support_thread_id == thread_id and updated.support_thread_ref == THREAD_REF
    assert updated.updated_at == clock.now and updated.created_at == ticket.created_at
    assert (await store.tickets.find_ticket_by_thread(thread_id)).id == ticket.id

    await store.tickets.claim_ticket(ticket.id, "agent-1", "Alex Agent")
    clock.advance(minutes=3)
    assert await store.tickets.close_ticket(ticket.id) is True
    assert await store.tickets.close_ticket(ticket.id) is False
    rated = await store.tickets.update_ticket(ticket.id, rating=5, solved=True)
    assert rated.status == "closed" and rated.closed_at == clock.now
    assert rated.rating == 5 and rated.solved is True and rated.agent_name == "Alex Agent"
    # Still found by thread after closing: a late "done" in the thread must resolve.
    assert (await store.tickets.find_ticket_by_thread(thread_id)).status == "closed"
    assert await store.tickets.find_open_ticket_by_customer_conversation("a:customer-conv") is None


async def test_update_only_touches_given_fields(store: Any) -> None:
    ticket = await store.tickets.create_ticket(
        customer_ref=CUSTOMER_REF, customer_name="Dana", summary={"a": 1}
    )
    same = await store.tickets.update_ticket(ticket.id, solved=False)
    assert same.customer_name == "Dana" and same.summary == {"a": 1} and same.solved is False
    cleared = await store.tickets.update_ticket(ticket.id, summary={"b": 2}, solved=None)
    assert cleared.summary == {"b": 2} and cleared.solved is None
    with pytest.raises(ValueError, match="rating must be a whole number from 1 to 5"):
        await store.tickets.update_ticket(ticket.id, rating=6)
    assert await store.tickets.update_ticket("missing", rating=3) is None


async def test_queue_and_listing(store: Any, clock: Any) -> None:
    ids = []
    for n in range(4):
        ids.append((await store.tickets.create_ticket(customer_ref=customer(n))).id)
        clock.advance(seconds=1)
    await store.tickets.claim_ticket(ids[1], "agent", "Alex")
    await store.tickets.close_ticket(ids[3])

    assert [t.id for t in await store.tickets.list_tickets("waiting")] == [ids[0], ids[2]]
    assert [t.id for t in await store.tickets.list_tickets("taken")] == [ids[1]]
    assert [t.id for t in await store.tickets.list_tickets()] == ids
    assert [t.id for t in await store.tickets.list_tickets(limit=2)] == ids[:2]
    assert await store.tickets.queue_position(ids[0]) == 1
    assert await store.tickets.queue_position(ids[2]) == 2
    assert await store.tickets.queue_position(ids[1]) is None
    with pytest.raises(ValueError, match="ticket status must be one of"):
        await store.tickets.list_tickets("open")  # type: ignore[arg-type]


async def test_tickets_survive_reopen(store_factory: StoreFactory) -> None:
    first = await store_factory()
    ticket = await first.tickets.create_ticket(customer_ref=CUSTOMER_REF, summary={"x": 1})
    await first.tickets.claim_ticket(ticket.id, "agent", "Alex")
    await first.kv.set("support_channel", THREAD_REF)
    await first.close()

    second = await store_factory()
    again = await second.tickets.get_ticket(ticket.id)
    assert again.status == "taken" and again.summary == {"x": 1} and again.agent_name == "Alex"
    assert await second.kv.get("support_channel") == THREAD_REF


# --- transcripts ----------------------------------------------------------------------


async def test_transcript_dedups_by_activity_id(store_factory: StoreFactory, clock: Any) -> None:
    stores = [await store_factory(), await store_factory()]
    conv = "a:customer-conv"
    # A relay retried by two instances at once records the message once.
    recorded = await asyncio.gather(
        *(
            stores[i % 2].transcripts.append(
                conversation_id=conv, direction="customer", text="hello", sender="Dana",
                activity_id="act-1", ticket_id="t1",
            )
            for i in range(6)
        )
    )
    assert recorded.count(True) == 1
    clock.advance(seconds=1)
    # The same id in the other direction is a different message.
    assert await stores[0].transcripts.append(
        conversation_id=conv, direction="agent", text="hi, Alex here", sender="Alex",
        activity_id="act-1", ticket_id="t1",
    )
    # Messages without an id are never deduplicated.
    for _ in range(2):
        clock.advance(seconds=1)
        assert await stores[0].transcripts.append(conversation_id=conv, direction="bot", text="…")

    entries = await stores[1].transcripts.list_for_conversation(conv)
    assert [e.direction for e in entries] == ["customer", "agent", "bot", "bot"]
    assert entries[0].text == "hello" and entries[0].sender == "Dana"
    assert entries[0].activity_id == "act-1" and entries[0].at == clock.now.replace(second=0)
    last_two = await stores[1].transcripts.list_for_conversation(conv, limit=2)
    assert [e.id for e in last_two] == [e.id for e in entries[-2:]]
    assert [e.direction for e in await stores[0].transcripts.list_for_ticket("t1")] == [
        "customer", "agent"
    ]
    assert await stores[0].transcripts.list_for_conversation("other") == []


# --- audit ----------------------------------------------------------------------------


async def test_audit_never_keeps_tokens(store: Any) -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    await store.audit.append(
        "check",
        conversation_id="c1",
        tenant_id="t-1",
        detail={
            "result": "fail",
            "access_token": jwt,
            "nested": {"Authorization": "Bearer abc.def.ghi", "note": f"got {jwt} back"},
            "headers": [{"client_secret": "s3cr3t"}],
            "log": "Authorization: Bearer abcdefghijklmnop",
        },
    )
    (event,) = await store.audit.recent()
    text = repr(event.detail)
    assert jwt not in text and "s3cr3t" not in text and "abcdefghijklmnop" not in text
    assert event.detail["result"] == "fail" and event.kind == "check"
    assert event.conversation_id == "c1" and event.tenant_id == "t-1"


async def test_audit_stats_by_kind_and_cause(store: Any, clock: Any) -> None:
    await store.audit.append("diagnosis", detail={"cause": "mfa_required"})
    clock.advance(days=10)
    for cause in ["mfa_required", "smtp_auth_disabled_tenant", "mfa_required"]:
        await store.audit.append("diagnosis", detail={"cause": cause}, conversation_id="c2")
    await store.audit.append("diagnosis", detail={"other": 1})
    await store.audit.append("handoff", detail={"solved": True})
    await store.audit.append("handoff", detail={"solved": False})
    await store.audit.append("handoff", detail={"solved": True})

    assert await store.audit.counts_by_kind(7) == {"diagnosis": 4, "handoff": 3}
    assert await store.audit.counts_by_kind(30) == {"diagnosis": 5, "handoff": 3}
    assert await store.audit.counts_by_detail("diagnosis", "cause", 7) == {
        "mfa_required": 2, "smtp_auth_disabled_tenant": 1
    }
    assert await store.audit.counts_by_detail("handoff", "solved", 7) == {"true": 2, "false": 1}
    assert await store.audit.counts_by_kind(7, now=clock.now.replace(year=2027)) == {}
    with pytest.raises(ValueError, match="detail field must be an identifier"):
        await store.audit.counts_by_detail("diagnosis", "cause') OR 1=1 --", 7)

    recent = await store.audit.recent(limit=2, kind="diagnosis")
    assert len(recent) == 2 and recent[0].at >= recent[1].at
    assert len(await store.audit.recent(conversation_id="c2")) == 3


# --- settings -------------------------------------------------------------------------


async def test_key_value_settings(store_factory: StoreFactory) -> None:
    one, two = await store_factory(), await store_factory()
    assert await one.kv.get("support_channel") is None
    assert await one.kv.get("support_channel", {}) == {}
    await one.kv.set("support_channel", THREAD_REF)
    assert await two.kv.get("support_channel") == THREAD_REF
    await two.kv.set("support_channel", {"conversation": {"id": "19:new"}})
    assert await one.kv.get("support_channel") == {"conversation": {"id": "19:new"}}
    await one.kv.set("counter", 3)
    assert await two.kv.get("counter") == 3
    assert await one.kv.delete("support_channel") is True
    assert await one.kv.delete("support_channel") is False
    assert await two.kv.get("support_channel") is None


def test_ticket_of_builds_the_same_ticket_as_the_constructor() -> None:
    """ticket_of fills the Ticket's __dict__ (for speed): the same object its constructor makes."""
    import dataclasses
    from datetime import UTC, datetime

    from bot.store.base import Ticket
    from bot.store.dialect import POSTGRES, SQLITE
    from bot.store.records import TICKET_COLUMNS, _new_ticket, ticket_of

    assert len(TICKET_COLUMNS.split(",")) == len(dataclasses.fields(Ticket))
    at = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
    for dialect, stamp in ((SQLITE, at.isoformat()), (POSTGRES, at)):
        for thread_ref, solved in ((None, None), ('{"conversation": {"id": "t"}}', 1)):
            row = ("id1", "taken", "c1", '{"conversation": {"id": "c1"}}', "Ann", "t1",
                   '{"lang": "lv"}', stamp, stamp, "t" if thread_ref else None, thread_ref,
                   stamp, None, "a1", "Agent", 4, solved)
            ticket = ticket_of(row, dialect)
            made = Ticket(**{f.name: getattr(ticket, f.name) for f in dataclasses.fields(Ticket)})
            assert ticket == made and repr(ticket) == repr(made)
            assert list(vars(ticket).items()) == list(vars(made).items())
            with pytest.raises(dataclasses.FrozenInstanceError):
                ticket.status = "closed"  # type: ignore[misc]
    # Fields not given in declaration order go to the constructor.
    names = [f.name for f in dataclasses.fields(Ticket)]
    odd = _new_ticket(**{name: None for name in reversed(names)})
    assert list(vars(odd)) == names
