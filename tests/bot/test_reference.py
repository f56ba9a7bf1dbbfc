"""The stored conversation reference is the JSON of the SDK's own reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.adapter import conversation_reference
from bot.handler import reference_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "activities"


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
@pytest.mark.parametrize("channel", [None, "directline", "webchat", "emulator"])
def test_reference_is_what_get_conversation_reference_serializes_to(
        path: Path, channel: str | None) -> None:
    activity = Activity().deserialize(json.loads(path.read_text("utf-8")))
    if channel is not None:
        activity.channel_id = channel
    expected = TurnContext.get_conversation_reference(activity).serialize()
    assert json.dumps(reference_of(activity)) == json.dumps(expected)
    # The activity's own objects were not changed (or kept) by building it.
    assert reference_of(activity) is not reference_of(activity)
    assert activity.serialize() == Activity().deserialize(
        json.loads(path.read_text("utf-8"))).serialize() | (
        {"channelId": channel} if channel else {})


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
@pytest.mark.parametrize("channel", [None, "directline", "webchat"])
def test_the_turn_paths_reference_equals_the_sdks_and_owns_its_parts(
        path: Path, channel: str | None) -> None:
    activity = Activity().deserialize(json.loads(path.read_text("utf-8")))
    if channel is not None:
        activity.channel_id = channel
    expected = TurnContext.get_conversation_reference(activity)
    got = conversation_reference(activity)
    assert got.serialize() == expected.serialize()
    for part, original in ((got.user, activity.from_property), (got.bot, activity.recipient),
                           (got.conversation, activity.conversation)):
        assert part == original and (part is None or part is not original)
        assert type(part) is type(original)
