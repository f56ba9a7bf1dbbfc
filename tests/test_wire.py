"""bot.wire gives exactly msrest's JSON and models: every card, every recorded payload, generated ones.

The reference is the SDK itself: ``Serializer(connector models).body(x, "Activity")``
(what the SDK's ConnectorClient sends), ``Model.serialize()`` and
``Activity().deserialize(body)``. Serialized output is compared as the bytes
``json.dumps`` makes of it, so even key order must match.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    CardAction,
    ChannelAccount,
    Entity,
    Mention,
    ResourceResponse,
)
from botframework.connector import models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msrest import Deserializer, Serializer
from msrest.exceptions import DeserializationError

from bot.render import to_activity
from bot.wire import activity_from_json, model_from_json, to_json
from dialogs.gallery import sample_cards
from dialogs.session import Reply

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "activities"
CONNECTOR_MODELS = {k: v for k, v in models.__dict__.items() if isinstance(v, type)}


def sdk_body(model: Any, name: str = "Activity") -> str:
    """What the SDK's connector sends (body() mutates its argument, so give it a copy)."""
    return json.dumps(Serializer(CONNECTOR_MODELS).body(copy.deepcopy(model), name))


def fixture_bodies() -> list[dict[str, Any]]:
    return [json.loads(path.read_text("utf-8")) for path in sorted(FIXTURES.glob("*.json"))]


def incoming() -> Activity:
    return Activity().deserialize(json.loads((FIXTURES / "message.json").read_text("utf-8")))


@pytest.mark.parametrize("body", fixture_bodies(), ids=lambda b: str(b.get("type")))
def test_recorded_teams_payloads_read_and_write_like_msrest(body: dict[str, Any]) -> None:
    expected = Activity().deserialize(copy.deepcopy(body))
    got = activity_from_json(body)
    assert got == expected
    assert json.dumps(to_json(got)) == sdk_body(expected)
    reference = TurnContext.get_conversation_reference(expected)
    assert json.dumps(to_json(reference)) == json.dumps(reference.serialize())


def test_every_card_the_bot_can_send_serializes_byte_for_byte_like_the_connector() -> None:
    reference = TurnContext.get_conversation_reference(incoming())
    cards = sample_cards()
    assert len(cards) > 10
    for name, card in cards.items():
        for reply in (Reply(card=card), Reply(text="**Hi** — ünïcode ✓", card=card)):
            activity = TurnContext.apply_conversation_reference(to_activity(reply), reference)
            assert json.dumps(to_json(activity)) == sdk_body(activity), name


def test_models_the_sdk_builds_serialize_like_msrest() -> None:
    mention = Mention(mentioned=ChannelAccount(id="28:bot", name="Bot"), text="<at>Bot</at>",
                      type="mention")
    activity = MessageFactory.suggested_actions(
        [CardAction(type="imBack", title="Yes", value="yes")], "Pick one")
    activity.entities = [mention, Entity(type="clientInfo")]
    activity.timestamp = dt.datetime(2026, 11, 28, 10, 7, 51, 123000, tzinfo=dt.UTC)
    activity.attachments = [CardFactory.hero_card(models.HeroCard(title="t")),
                            Attachment(content_type="text/plain", content=None, name="x")]
    activity.type = ActivityTypes.message  # an enum where a str is declared
    activity.channel_data = {"notification": {"alert": True}, "n": 1.5, "list": [1, None, "x"]}
    activity.value = [1, {"a": [True, False]}]
    assert json.dumps(to_json(activity)) == sdk_body(activity)


def test_unusual_values_take_msrest_path_and_give_its_result() -> None:
    # A tuple where a list is declared, a dict where a model is declared,
    # a str where a datetime is declared: msrest's own handling decides.
    activity = Activity(type="message", text="x", timestamp="2026-11-28T10:07:51Z")
    activity.channel_data = {"t": (1, 2)}
    assert json.dumps(to_json(activity)) == sdk_body(activity)
    with_dict = Activity(type="message", recipient={"id": "29:x", "name": "X"})
    assert json.dumps(to_json(with_dict)) == sdk_body(with_dict)


def test_resource_responses_read_like_the_connector() -> None:
    for data in ({"id": "1:abc"}, {}, {"id": "x", "extra": {"y": 1}}):
        expected = Deserializer(CONNECTOR_MODELS)("ResourceResponse", data)
        got = model_from_json("ResourceResponse", data)
        assert isinstance(got, ResourceResponse) and got == expected
        assert got.additional_properties == expected.additional_properties


def test_bodies_msrest_refuses_are_refused_the_same_way() -> None:
    for body in ({"type": "message", "entities": "not a list"},
                 {"type": "message", "timestamp": "yesterday"},
                 {"type": "message", "from": "29:someone"}):
        with pytest.raises(DeserializationError):
            Activity().deserialize(copy.deepcopy(body))
        with pytest.raises(DeserializationError):
            activity_from_json(body)


# ----- generated activities ------------------------------------------------------------
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12)
account = st.fixed_dictionaries({"id": st.text(max_size=10)},
                                optional={"name": st.text(max_size=10),
                                          "aadObjectId": st.text(max_size=10),
                                          "role": st.sampled_from(["user", "bot"])})
conversation = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=10)},
    optional={"conversationType": st.sampled_from(["personal", "channel", "groupChat"]),
              "tenantId": st.text(max_size=10), "isGroup": st.booleans(),
              "name": st.text(max_size=10)})
attachment = st.fixed_dictionaries(
    {"contentType": st.sampled_from(["application/vnd.microsoft.card.adaptive", "text/plain"])},
    optional={"content": json_value, "name": st.text(max_size=8),
              "contentUrl": st.text(max_size=8)})
entity = st.one_of(
    st.fixed_dictionaries({"type": st.just("clientInfo")},
                          optional={"locale": st.text(max_size=5), "country": st.text(max_size=3)}),
    st.fixed_dictionaries({"type": st.just("mention"), "text": st.text(max_size=10),
                           "mentioned": account}))
timestamp = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                         timezones=st.just(dt.UTC)).map(lambda d: d.isoformat())
activity_body = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "invoke", "conversationUpdate", "event", "typing"]),
     "conversation": conversation},
    optional={
        "id": st.text(max_size=12), "text": st.text(max_size=30),
        "textFormat": st.sampled_from(["plain", "markdown", "xml"]),
        "channelId": st.sampled_from(["msteams", "emulator", "webchat"]),
        "serviceUrl": st.text(max_size=20), "from": account, "recipient": account,
        "replyToId": st.text(max_size=12), "locale": st.text(max_size=6), "name": st.text(max_size=8),
        "timestamp": timestamp, "localTimestamp": timestamp,
        "membersAdded": st.lists(account, max_size=3),
        "membersRemoved": st.lists(account, max_size=2),
        "attachments": st.lists(attachment, max_size=3),
        "entities": st.lists(entity, max_size=3),
        "channelData": json_value, "value": json_value,
        "suggestedActions": st.fixed_dictionaries(
            {"actions": st.lists(st.fixed_dictionaries(
                {"type": st.just("imBack"), "title": st.text(max_size=5),
                 "value": json_value}), max_size=3)},
            optional={"to": st.lists(st.text(max_size=5), max_size=2)}),
        "unknownField": json_value,
    })


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activity_body)
def test_generated_activities_read_and_write_like_msrest(body: dict[str, Any]) -> None:
    expected = Activity().deserialize(copy.deepcopy(body))
    got = activity_from_json(body)
    assert got == expected
    assert got.additional_properties == expected.additional_properties
    assert json.dumps(to_json(got)) == sdk_body(expected)
    assert json.dumps(to_json(got)) == json.dumps(expected.serialize())
