"""``open_store``: URL forms, the bundle it returns, health pings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from bot.store import open_store, redact_url, sqlite_path_from_url


def test_sqlite_urls_resolve_like_settings() -> None:
    assert sqlite_path_from_url("sqlite:///var/bot.db") == str(PROJECT_ROOT / "var" / "bot.db")
    assert sqlite_path_from_url("sqlite:////srv/bot/state.db") == "/srv/bot/state.db"
    assert sqlite_path_from_url("memory://") == ":memory:"
    with pytest.raises(ValueError, match="needs a path"):
        sqlite_path_from_url("sqlite:///")


def test_passwords_never_reach_logs() -> None:
    assert redact_url("postgresql://bot:s3cret@db:5432/bot") == "postgresql://bot:***@db:5432/bot"
    assert redact_url("sqlite:///var/bot.db") == "sqlite:///var/bot.db"


async def test_unknown_url_is_refused() -> None:
    with pytest.raises(ValueError, match="STORAGE_URL"):
        await open_store("redis://localhost")


async def test_postgres_without_its_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if the extra were not installed
    with pytest.raises(ValueError, match=r"mail-setup-assistant\[postgres\]"):
        await open_store("postgresql://bot@127.0.0.1:1/bot")


async def test_sqlite_store_opens_pings_and_closes(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path}/sub/bot.db")
    assert store.url.endswith("/sub/bot.db")
    assert await store.ping() is True
    await store.state.write({"k": {"v": 1}})
    await store.close()
    assert await store.ping() is False
    await store.close()  # idempotent
    reopened = await open_store(f"sqlite:///{tmp_path}/sub/bot.db")
    async with reopened:
        assert (await reopened.state.read(["k"]))["k"]["v"] == 1


async def test_memory_store() -> None:
    async with await open_store("memory://") as store:
        await store.state.write({"k": {"v": 1}})
        assert (await store.state.read(["k"]))["k"]["v"] == 1
