"""Conversation-state storage beyond the conformance suite, on every backend.

E-tag concurrency, atomic batches, persistence and what gets stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from botbuilder.core import ConversationState, MemoryStorage, StoreItem, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bot.store import EtagConflict

StorageFactory = Any  # conftest.storage_factory: async () -> opened storage


async def test_two_writers_with_the_same_etag_exactly_one_wins(
    storage_factory: StorageFactory,
) -> None:
    first, second = await storage_factory(), await storage_factory()
    await first.write({"conv": {"count": 0}})
    a = (await first.read(["conv"]))["conv"]
    b = (await second.read(["conv"]))["conv"]
    assert a["e_tag"] == b["e_tag"]
    a["count"], b["count"] = 1, 2

    results = await asyncio.gather(
        first.write({"conv": a}), second.write({"conv": b}), return_exceptions=True
    )

    conflicts = [r for r in results if isinstance(r, EtagConflict)]
    assert len(conflicts) == 1 and results.count(None) == 1
    winner = 1 if results[0] is None else 2
    assert (await first.read(["conv"]))["conv"]["count"] == winner


async def test_concurrent_increments_with_retry_lose_nothing(
    storage_factory: StorageFactory,
) -> None:
    stores = [await storage_factory(), await storage_factory()]
    await stores[0].write({"counter": {"n": 0}})
    conflicts = 0

    async def increment(store: Any) -> None:
        nonlocal conflicts
        while True:
            item = (await store.read(["counter"]))["counter"]
            item["n"] += 1
            await asyncio.sleep(0)  # let rivals read the same version
            try:
                await store.write({"counter": item})
                return
            except EtagConflict:
                conflicts += 1

    await asyncio.gather(*(increment(stores[i % 2]) for i in range(50)))

    assert (await stores[1].read(["counter"]))["counter"]["n"] == 50
    assert conflicts > 0, "the test did not exercise any conflict"


async def test_wildcard_and_missing_etag_overwrite(storage: Any) -> None:
    await storage.write({"k": {"v": 1}})
    stale = (await storage.read(["k"]))["k"]
    await storage.write({"k": {"v": 2}})
    await storage.write({"k": {**stale, "v": 3, "e_tag": "*"}})
    assert (await storage.read(["k"]))["k"]["v"] == 3
    await storage.write({"k": {"v": 4}})
    assert (await storage.read(["k"]))["k"]["v"] == 4
    with pytest.raises(EtagConflict):
        await storage.write({"k": stale})


async def test_every_write_changes_the_etag(storage: Any) -> None:
    seen = set()
    for value in range(5):
        await storage.write({"k": {"v": value}})
        seen.add((await storage.read(["k"]))["k"]["e_tag"])
    assert len(seen) == 5


async def test_empty_etag_is_refused(storage: Any) -> None:
    await storage.write({"k": {"v": 1}})
    with pytest.raises(ValueError, match="e_tag of 'k' is empty"):
        await storage.write({"k": {"v": 2, "e_tag": ""}})
    assert (await storage.read(["k"]))["k"]["v"] == 1


async def test_unissued_etag_creates_only_when_absent(storage: Any) -> None:
    await storage.write({"k": {"v": 1, "e_tag": "new"}})
    assert (await storage.read(["k"]))["k"]["v"] == 1
    with pytest.raises(EtagConflict):
        await storage.write({"k": {"v": 2, "e_tag": "new"}})


async def test_etag_from_before_a_delete_does_not_match_the_new_item(storage: Any) -> None:
    await storage.write({"k": {"v": 1}})
    old = (await storage.read(["k"]))["k"]
    await storage.delete(["k"])
    await storage.write({"k": {"v": 2}})
    with pytest.raises(EtagConflict):
        await storage.write({"k": {**old, "v": 99}})
    assert (await storage.read(["k"]))["k"]["v"] == 2


async def test_a_conflicting_batch_writes_nothing(storage: Any) -> None:
    await storage.write({"a": {"v": 1}, "b": {"v": 1}})
    items = await storage.read(["a", "b"])
    await storage.write({"b": {"v": 2}})  # makes items["b"] stale
    items["a"]["v"] = items["b"]["v"] = 10
    with pytest.raises(EtagConflict):
        await storage.write(items)
    after = await storage.read(["a", "b"])
    assert after["a"]["v"] == 1 and after["b"]["v"] == 2


async def test_store_items_and_dataclasses_come_back_as_dicts(storage: Any) -> None:
    @dataclass
    class Snapshot:
        state: str
        facts: dict[str, Any]

    await storage.write(
        {
            "item": StoreItem(name="x", nested={"a": [1, 2]}),
            "snap": {"snapshot": Snapshot("asking_mfa", {"mfa": True})},
        }
    )
    got = await storage.read(["item", "snap"])
    assert isinstance(got["item"], dict)
    assert got["item"]["name"] == "x" and got["item"]["nested"] == {"a": [1, 2]}
    assert got["snap"]["snapshot"] == {"state": "asking_mfa", "facts": {"mfa": True}}


async def test_arbitrary_objects_are_refused(storage: Any) -> None:
    class Live:
        pass

    with pytest.raises(TypeError):
        await storage.write({"k": {"obj": Live()}})
    with pytest.raises(ValueError, match="NaN and infinity cannot be stored"):
        await storage.write({"k": {"x": float("nan")}})
    assert await storage.read(["k"]) == {}


async def test_text_is_stored_the_same_on_every_backend(storage: Any) -> None:
    value = {"t": "é ✓ 𝄞 日本", "nul": "a\x00b", "lone": "x\ud800y", "n": [1, 2.5, None, True]}
    await storage.write({"k": value})
    got = (await storage.read(["k"]))["k"]
    assert got["t"] == "é ✓ 𝄞 日本"
    assert got["nul"] == "a\ufffdb" and got["lone"] == "x\ufffdy"
    assert got["n"] == [1, 2.5, None, True]


async def test_written_dict_is_not_modified(storage: Any) -> None:
    item = {"v": 1, "e_tag": "*"}
    await storage.write({"k": item})
    assert item == {"v": 1, "e_tag": "*"}


async def test_data_survives_close_and_reopen(storage_factory: StorageFactory) -> None:
    first = await storage_factory()
    await first.write({"conv": {"state": "asking_mfa", "facts": {"mailbox": "a@b.example"}}})
    etag = (await first.read(["conv"]))["conv"]["e_tag"]
    await first.close()

    second = await storage_factory()
    got = (await second.read(["conv"]))["conv"]
    assert got == {"state": "asking_mfa", "facts": {"mailbox": "a@b.example"}, "e_tag": etag}


async def test_read_accepts_sets_and_views_and_many_keys(storage: Any) -> None:
    changes = {f"k{i}": {"i": i} for i in range(1200)}
    await storage.write(changes)
    got = await storage.read(changes.keys())
    assert len(got) == 1200 and got["k1199"]["i"] == 1199
    await storage.delete(set(changes))
    assert await storage.read(list(changes)) == {}


def _activity(text: str) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        text=text,
        channel_id="msteams",
        conversation=ConversationAccount(id="conv-1"),
        from_property=ChannelAccount(id="user-1"),
        recipient=ChannelAccount(id="bot"),
    )


async def test_conversation_state_on_two_instances(storage_factory: StorageFactory) -> None:
    """Two bot instances: alternating turns keep state; a stale save is refused."""
    stores = [await storage_factory(), await storage_factory()]
    states = [ConversationState(s) for s in stores]
    accessors = [state.create_property("flow") for state in states]
    adapter = TestAdapter()

    async def turn(i: int, text: str) -> TurnContext:
        context = TurnContext(adapter, _activity(text))
        await states[i].load(context)
        flow = await accessors[i].get(context, lambda: {"turns": []})
        flow["turns"].append(text)
        await accessors[i].set(context, flow)
        return context

    for i, text in enumerate(["hi", "user", "yes", "no"]):
        context = await turn(i % 2, text)
        await states[i % 2].save_changes(context)

    # Both instances load the same version; the second save must not overwrite the first.
    ctx_a, ctx_b = await turn(0, "a"), await turn(1, "b")
    await states[0].save_changes(ctx_a)
    with pytest.raises(EtagConflict):
        await states[1].save_changes(ctx_b)

    check = TurnContext(adapter, _activity(""))
    await states[1].load(check)
    assert (await accessors[1].get(check))["turns"] == ["hi", "user", "yes", "no", "a"]


def test_etag_conflict_is_caught_like_memory_storage() -> None:
    """Code that catches MemoryStorage's KeyError also catches ours."""
    assert issubclass(EtagConflict, KeyError)
    assert "Etag conflict" in str(EtagConflict("k", "1"))
    assert MemoryStorage  # the reference implementation the semantics follow
