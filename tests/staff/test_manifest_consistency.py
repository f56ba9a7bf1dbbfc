"""One registry of staff commands: what the bot understands is what the manifest lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.package import build_manifest, validate_manifest
from bot.settings import Settings
from bot.staff import SEARCH_COMMAND
from dialogs.knowledge import Knowledge
from dialogs.session import Reply
from dialogs.staff import (
    COMMAND_NAMES,
    STAFF_COMMANDS,
    StaffCommand,
    StaffContext,
    StaffTools,
    desk_command,
    manifest_commands,
    parse_command,
    staff_command,
)

APP_ID = "3f2c9a7e-51b4-4c1e-9d0a-7b6e2f8c4d15"
# Teams lists at most ten commands per command list.
MAX_LISTED = 10


@pytest.fixture
def manifest() -> dict[str, Any]:
    """The manifest as a production build makes it."""
    return build_manifest(Settings(app_id=APP_ID, app_password="x", app_tenant_id="t"))


def staff_list(manifest: dict[str, Any]) -> list[dict[str, str]]:
    """The manifest's command list for team and group chats (where staff work)."""
    lists = {tuple(cl["scopes"]): cl["commands"] for cl in manifest["bots"][0]["commandLists"]}
    commands: list[dict[str, str]] = lists[("team", "groupChat")]
    return commands


def test_the_search_command_is_the_one_the_bot_answers(manifest: dict[str, Any]) -> None:
    (command,) = manifest["composeExtensions"][0]["commands"]
    assert command["id"] == SEARCH_COMMAND
    assert [p["name"] for p in command["parameters"]] == ["query"]
    # Opening the search box shows the common topics straight away.
    assert command["initialRun"] is True


def test_the_manifest_lists_every_registered_command_in_order(manifest: dict[str, Any]) -> None:
    listed = staff_list(manifest)
    assert listed == manifest_commands()
    assert [c["title"] for c in listed] == [n for n, s in STAFF_COMMANDS.items() if s.listed]
    assert [t for t in (c["title"] for c in listed) if t in COMMAND_NAMES] == list(COMMAND_NAMES)
    assert len(listed) <= MAX_LISTED
    assert all(len(c["description"]) <= 128 for c in listed)
    assert validate_manifest(manifest) == []


def test_every_command_the_staff_tools_answer_is_understood_by_its_name() -> None:
    answered = [name for name, spec in STAFF_COMMANDS.items() if spec.handler is not None]
    assert {"kb", "ps mailbox", "ps tenant", "ps check", "ps", "diagnose", "explain",
            "stats"} == set(answered)
    for name in answered:
        command = parse_command(name)
        assert command is not None and command.name == name
        assert parse_command(f"/{name.upper()} something") == StaffCommand(name, "something")


def test_commands_of_another_desk_are_left_to_it() -> None:
    """``queue`` is the handoff's: the staff tools must not take it from a support channel."""
    desk = {name: spec for name, spec in STAFF_COMMANDS.items() if spec.handler is None}
    assert set(desk) == {"queue", "use this channel for handoffs"}
    assert all(spec.desk == "handoff" and spec.listed for spec in desk.values())
    for name in desk:
        assert parse_command(name) is None


def test_every_command_gets_an_answer(knowledge: Knowledge) -> None:
    tools = StaffTools(knowledge)
    samples = {"kb": "smtp disabled", "ps mailbox": "tms@contoso.com", "ps tenant": "",
               "ps check": "tms@contoso.com", "ps": "security defaults",
               "diagnose": "535 5.7.139 Authentication unsuccessful", "explain": "mfa_required",
               "stats": "7"}
    for name, spec in STAFF_COMMANDS.items():
        if spec.handler is None:
            continue
        replies = tools.run(StaffCommand(name, samples[name]), audit_rows=[],
                            now=datetime(2026, 12, 6, tzinfo=UTC))
        assert replies and all(r.card or r.text for r in replies), name


@pytest.fixture
def temporary_command() -> Iterator[str]:
    """A command registered for one test (as a new staff command would be), then removed."""
    name = "whoami"
    yield name
    STAFF_COMMANDS.pop(name, None)


def test_a_new_command_is_one_registration(
    temporary_command: str, knowledge: Knowledge
) -> None:
    @staff_command(temporary_command, "whoami", "who the bot thinks you are")
    def whoami(tools: StaffTools, command: StaffCommand, context: StaffContext) -> list[Reply]:
        return [Reply("You are staff.")]

    assert parse_command("whoami") == StaffCommand("whoami", "")
    assert StaffTools(knowledge).run(StaffCommand("whoami")) == [Reply("You are staff.")]
    manifest = build_manifest(Settings(app_id=APP_ID, app_password="x", app_tenant_id="t"))
    assert staff_list(manifest)[-1] == {"title": "whoami",
                                        "description": "whoami: who the bot thinks you are (staff)"}


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="twice"):
        staff_command("kb", "kb", "again")(lambda tools, command, context: [])
    with pytest.raises(ValueError, match="twice"):
        desk_command("queue", "queue", "again", desk="handoff")
