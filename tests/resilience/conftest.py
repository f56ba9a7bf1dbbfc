"""Shared pieces of the resilience tests: the store under test, scripted conversations, an oracle.

PostgreSQL variants use the store tests' rule (tests/store/conftest.py):
``TEST_POSTGRES_URL`` or skip with a message; in CI a missing database fails.
Each conversation is a script of Teams activities; the oracle replays the
acknowledged part of a script through the pure flow engine, so a test knows
the exact snapshot a conversation must have in the store.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.bot.conftest import DEFAULT_ANSWERS
from tests.store.conftest import pg_schema, pg_url, with_schema  # noqa: F401  (fixtures)
from tests.support.teams import activity

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
REPORT_KEY = pytest.StashKey[dict[str, str]]()
CHOICES: dict[str, list[str]] = {
    "mailbox_type": ["user", "shared"], "license": ["yes", "no", "unsure"],
    "mfa": ["yes", "no"], "security_defaults": ["yes", "no"],
    "org_smtp_auth": ["enabled", "disabled"], "mailbox_smtp_auth": ["enabled", "disabled"],
    "conditional_access": ["yes", "no"], "auth_method": ["basic", "oauth"],
    "test_result": ["works", "auth_failed"],
}


@pytest.fixture(params=BACKENDS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/bot.db"
    return with_schema(request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema"))


@dataclass
class Script:
    """One customer conversation: the activities to send, in order, and what was acknowledged."""

    conversation_id: str
    turns: list[tuple[str, Any]]  # ("say", text) or ("press", card data)
    acked: int = 0  # turns answered with HTTP 200, in order
    in_flight: bool = False  # a turn was sent and its answer never came
    statuses: list[int] = field(default_factory=list)

    def body(self, index: int, service_url: str) -> dict[str, Any]:
        """The Teams activity for turn ``index``."""
        kind, payload = self.turns[index]
        if kind == "say":
            return activity("message", service_url=service_url,
                            conversation_id=self.conversation_id, text=payload)
        return activity("card_submit", service_url=service_url,
                        conversation_id=self.conversation_id, value=payload)


def make_script(conversation_id: str, seed: int, person: bool = False) -> Script:
    """A realistic conversation: start, the mailbox typed, answers pressed or typed, an error."""
    rng = random.Random(seed)
    turns: list[tuple[str, Any]] = [("say", "start"),
                                    ("say", f"it is user{seed}@contoso.com")]
    for question in list(CHOICES):
        value = rng.choice(CHOICES[question]) if rng.random() < 0.5 else DEFAULT_ANSWERS[question]
        if rng.random() < 0.7:
            turns.append(("press", {"msa": "answer", "question": question, "value": value}))
        else:
            turns.append(("say", value if value not in {"unsure"} else "I don't know"))
    if person:
        turns.insert(rng.randrange(3, 6), ("say", "talk to a person"))
    turns.append(("say", ("535 5.7.139 Authentication unsuccessful, the request did not meet "
                          "the criteria to be authenticated successfully")))
    turns.append(("press", {"msa": "back"}))
    return Script(conversation_id, turns)


class Oracle:
    """Replays scripts through the real flow engine (pure: no store, no HTTP)."""

    def __init__(self) -> None:
        """Build the engine the app builds."""
        from app import build_engine

        self.engine = build_engine()

    def snapshots(self, script: Script) -> Iterator[dict[str, Any] | None]:
        """The stored snapshot after 0, 1, 2, … turns of ``script``."""
        from dialogs.engine import TurnInput

        snapshot: dict[str, Any] | None = None
        yield snapshot
        for kind, payload in script.turns:
            turn = TurnInput(text=payload) if kind == "say" else TurnInput(action=payload)
            snapshot = self.engine.handle(snapshot, turn).snapshot
            yield snapshot


@pytest.fixture(scope="session")
def oracle() -> Oracle:
    """One engine for every replay."""
    return Oracle()


async def stored_snapshot(store: Any, conversation_id: str) -> dict[str, Any] | None:
    """The flow snapshot the store holds for a Teams conversation."""
    from bot.conversation import conversation_key

    key = conversation_key("msteams", conversation_id)
    item = (await store.state.read([key])).get(key)
    return item.get("snapshot") if isinstance(item, dict) else None


@pytest.fixture
def report(request: pytest.FixtureRequest) -> dict[str, str]:
    """Where the resilience tests leave what they measured, for the terminal summary."""
    return request.config.stash.setdefault(REPORT_KEY, {})


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print what the crash and multi-instance tests measured."""
    for name, line in sorted(config.stash.get(REPORT_KEY, {}).items()):
        terminalreporter.write_line(f"{name}: {line}")
