"""botbuilder-testing's storage conformance tests (``StorageBaseTests``) on our stores.

Each static test method of ``StorageBaseTests`` is called for every backend,
the way botbuilder's own memory-storage tests do, and must return True.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from botbuilder.testing import StorageBaseTests

CONFORMANCE = [
    "return_empty_object_when_reading_unknown_key",
    "handle_null_keys_when_reading",
    "handle_null_keys_when_writing",
    "does_not_raise_when_writing_no_items",
    "create_object",
    "handle_crazy_keys",
    "update_object",
    "delete_object",
    "delete_unknown_object",
    "perform_batch_operations",
    "proceeds_through_waterfall",
]


def test_every_conformance_test_is_run() -> None:
    """A botbuilder-testing upgrade that adds a test must not go unnoticed."""
    available = {
        name
        for name, member in inspect.getmembers(StorageBaseTests, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    assert available == set(CONFORMANCE)


@pytest.mark.parametrize("name", CONFORMANCE)
async def test_storage_base(storage: Any, name: str) -> None:
    """Run one ``StorageBaseTests`` method against a fresh store."""
    test = getattr(StorageBaseTests, name)
    assert await test(storage) is True
