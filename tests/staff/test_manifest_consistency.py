"""The Teams manifest advertises exactly the staff tools the bot answers."""

from __future__ import annotations

from typing import Any

import pytest

from bot.package import build_manifest
from bot.settings import Settings
from bot.staff import SEARCH_COMMAND
from dialogs.staff import COMMAND_NAMES, parse_command

APP_ID = "3f2c9a7e-51b4-4c1e-9d0a-7b6e2f8c4d15"


@pytest.fixture
def manifest() -> dict[str, Any]:
    """The manifest as a production build makes it."""
    return build_manifest(Settings(app_id=APP_ID, app_password="x", app_tenant_id="t"))


def test_the_search_command_is_the_one_the_bot_answers(manifest: dict[str, Any]) -> None:
    (command,) = manifest["composeExtensions"][0]["commands"]
    assert command["id"] == SEARCH_COMMAND
    assert [p["name"] for p in command["parameters"]] == ["query"]
    # Opening the search box shows the common topics straight away.
    assert command["initialRun"] is True


def test_every_listed_staff_command_is_understood(manifest: dict[str, Any]) -> None:
    lists = {tuple(cl["scopes"]): cl["commands"] for cl in manifest["bots"][0]["commandLists"]}
    titles = [c["title"] for c in lists[("team", "groupChat")]]
    assert [t for t in titles if t in COMMAND_NAMES] == list(COMMAND_NAMES)
    for title in COMMAND_NAMES:
        command = parse_command(title)
        assert command is not None and command.name == title
