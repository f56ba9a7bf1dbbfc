"""bot.wire gives exactly msrest's JSON and models: every card, recorded payload and generated one.

The reference is the SDK itself: ``Serializer(connector models).body(x, "Activity")``
(what the SDK's ConnectorClient sends), ``Model.serialize()`` and
``Activity().deserialize(body)``. Serialized output is compared as the bytes
``json.dumps`` makes of it, so even key order must match.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import time
from pathlib import Path
from typing import Any, ClassVar

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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from isodate.tzinfo import FixedOffset
from msrest import Deserializer, Serializer
from msrest.exceptions import DeserializationError
from msrest.serialization import Model

from bot import wire
from bot.render import to_activity
from bot.store.codec import parse_json
from bot.wire import (
    OwnCardAttachment,
    _parse_iso,
    activity_from_json,
    encode_body,
    model_from_json,
    to_json,
)
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
    assert_same(got, expected)
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


def parsed_or_error(parse: Any, body: bytes) -> Any:
    try:
        value = parse(body)
    except ValueError:
        return ValueError
    except RecursionError:
        return RecursionError
    return json.dumps(value), repr(value)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**80, max_value=2**80) | st.floats()
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(JSON_VALUES, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]), st.booleans(),
       st.binary(max_size=20))
@example({"id": "1:abc"}, "utf-8", True, b'{"id":"a","id":"b"}')
@example({"id": "x"}, "utf-8", False, b'{"id":NaN, "n": 1e400, "s": "\\ud800"}')
@example({"id": "x"}, "utf-8", False, b'"\xed\xa0\x80"')
@example({"id": "x"}, "utf-8", False, b"[" * 3000 + b"]" * 3000)
def test_response_bodies_parse_as_json_loads_parses_them(
        value: Any, encoding: str, ascii_only: bool, raw: bytes) -> None:
    # ConnectorSender._resource_response reads connector answers with parse_json.
    try:
        body = json.dumps(value, ensure_ascii=ascii_only).encode(encoding)
    except UnicodeEncodeError:
        body = b"null"
    for case in (body, raw, b'{"id":' + raw + b"}"):
        assert parsed_or_error(parse_json, case) == parsed_or_error(json.loads, case)


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
        "replyToId": st.text(max_size=12), "locale": st.text(max_size=6),
        "name": st.text(max_size=8),
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
    assert_same(got, expected)  # vars() in the same order, nested models and timestamps too
    assert json.dumps(to_json(got)) == sdk_body(expected)
    assert json.dumps(to_json(got)) == json.dumps(expected.serialize())


# ----- timestamps ------------------------------------------------------------------------
TEAMS_TIMESTAMPS = ["2026-11-28T10:07:51.1234567Z", "2026-11-28T10:07:51Z",
                    "2026-11-28T11:07:51.123+01:00", "2026-11-28T10:07:51.123-05:30",
                    "2026-11-28T10:07:51.1z", "2026-11-28T10:07:51.000000000-00:00"]


def assert_same_datetime(got: dt.datetime, expected: dt.datetime) -> None:
    """Equal as msrest's: instant, wall-clock fields, microseconds and isodate's tzinfo."""
    assert got == expected
    assert got.isoformat() == expected.isoformat()
    assert got.utcoffset() == expected.utcoffset()
    assert got.tzname() == expected.tzname()
    assert type(got.tzinfo) is type(expected.tzinfo)
    assert got.dst() == expected.dst()


def two_digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


iso_text = st.builds(
    "{}-{}-{}{}{}:{}:{}{}{}".format,
    st.one_of(st.sampled_from(["0000", "0001", "0002", "9998", "9999"]),
              st.integers(0, 9999).map(lambda n: f"{n:04d}")),
    two_digits(0, 13), two_digits(0, 32), st.sampled_from(["T", "t", " "]),
    two_digits(0, 25), two_digits(0, 61), two_digits(0, 61),
    st.one_of(st.just(""), st.just("."), st.just(",123"),
              st.text("0123456789", min_size=1, max_size=9).map(".".__add__)),
    st.one_of(st.sampled_from(["Z", "z", "", "+00:00", "-00:00", "+0100", "+01", "Z\n", "ZZ"]),
              st.builds("{}{}:{}".format, st.sampled_from("+-"), two_digits(0, 99),
                        two_digits(0, 99))))
teams_timestamp = st.builds(
    "{}{}{}".format,
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59))
    .map(lambda d: f"{d.year:04d}-{d:%m-%dT%H:%M:%S}"),
    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9).map(".".__add__)),
    st.one_of(st.sampled_from(["Z", "z"]),
              st.builds("{}{}:{}".format, st.sampled_from("+-"), two_digits(0, 23),
                        two_digits(0, 59))))
odd_timestamp = st.one_of(
    st.text(max_size=30), st.none(), st.integers(),
    st.sampled_from(TEAMS_TIMESTAMPS).map(lambda s: s.replace("1", "\u0661")),  # Arabic-Indic 1
    st.sampled_from(TEAMS_TIMESTAMPS).map(lambda s: " " + s))


def parse_both(value: Any) -> tuple[Any, Any]:
    results = []
    for parse in (Deserializer.deserialize_iso, _parse_iso):
        try:
            results.append(parse(value))
        except DeserializationError as error:
            results.append(error)
    return results[0], results[1]


@settings(max_examples=600, deadline=None)
@given(st.one_of(teams_timestamp, iso_text, odd_timestamp, st.sampled_from(TEAMS_TIMESTAMPS)))
# Where an offset moves the UTC year out of range: msrest refuses these.
@example("9999-12-31T23:00:00-05:00")
@example("0001-01-01T00:00:00.5+01:00")
@example("9999-12-31T23:00:00Z")
@example("0001-01-01T00:00:00z")
def test_timestamps_parse_exactly_like_msrest_or_fail_like_it(value: Any) -> None:
    expected, got = parse_both(value)
    if isinstance(expected, DeserializationError):
        assert isinstance(got, DeserializationError)
    else:
        assert isinstance(got, dt.datetime)
        assert_same_datetime(got, expected)


def test_teams_timestamps_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Were the fast path ever to stop matching these shapes, the speed-up would quietly go.
    expected = {value: Deserializer.deserialize_iso(value) for value in TEAMS_TIMESTAMPS}

    def refuse(value: Any) -> Any:
        raise AssertionError(f"{value!r} went to msrest")

    monkeypatch.setattr(Deserializer, "deserialize_iso", staticmethod(refuse))
    for value, parsed in expected.items():
        assert_same_datetime(_parse_iso(value), parsed)


def test_teams_message_with_each_timestamp_shape_reads_like_msrest() -> None:
    body = json.loads((FIXTURES / "message.json").read_text("utf-8"))
    for stamp in TEAMS_TIMESTAMPS:
        for local in TEAMS_TIMESTAMPS:
            body.update(timestamp=stamp, localTimestamp=local)
            expected = Activity().deserialize(copy.deepcopy(body))
            got = activity_from_json(body)
            assert got == expected
            assert_same_datetime(got.timestamp, expected.timestamp)
            assert_same_datetime(got.local_timestamp, expected.local_timestamp)
            assert json.dumps(to_json(got)) == sdk_body(expected)


# ----- the bytes on the wire ------------------------------------------------------------
def pairs(raw: bytes | str) -> Any:
    """The JSON in ``raw`` with every object as its list of members, in order."""
    return json.loads(raw, object_pairs_hook=list)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_the_body_holds_what_json_dumps_writes(value: Any) -> None:
    body = encode_body(value)
    assert pairs(body.decode("utf-8")) == pairs(json.dumps(value))


@pytest.mark.parametrize("value", [
    {"n": 2**64},                # beyond what orjson writes
    {"text": "lone \ud800 surrogate"},
    ["\udfff"],
])
def test_values_orjson_refuses_are_written_by_json_dumps(value: Any) -> None:
    assert encode_body(value) == json.dumps(value).encode("ascii")


def test_replies_carry_cards_as_the_bots_own_attachments_shared_not_walked() -> None:
    card = next(iter(sample_cards().values()))
    activity = to_activity(Reply(card=card))
    attachment = activity.attachments[0]
    assert type(attachment) is OwnCardAttachment
    assert attachment.content_type == CardFactory.adaptive_card(card).content_type
    written = to_json(activity)
    assert written["attachments"][0]["content"] is card  # passed through, not rebuilt
    # The same content in an ordinary attachment is checked node by node, and
    # something msrest writes differently (a tuple) sends it down msrest's path.
    odd = dict(card, extra=(1, 2))
    ordinary = Activity(type="message", attachments=[Attachment(
        content_type=attachment.content_type, content=odd)])
    assert json.dumps(to_json(ordinary)) == sdk_body(ordinary)
    assert to_json(ordinary)["attachments"][0]["content"]["extra"] == "(1, 2)"


# ----- per-class readers and writers, every connector model ----------------------------
# bot.wire builds one reader and one writer per model class and fills the
# object's __dict__ directly where the constructor is a plain store; these
# compare what they build with msrest's, field by field and key order included.
def assert_same(got: Any, expected: Any, path: str = "$") -> None:
    """``got`` is what msrest built: same types, same ``vars()`` in the same order, all down."""
    assert type(got) is type(expected), path
    if isinstance(expected, Model):
        assert got == expected, path
        assert list(vars(got)) == list(vars(expected)), path
        assert type(got.additional_properties) is dict, path
        assert got.additional_properties == expected.additional_properties, path
        for name, value in vars(expected).items():
            if name != "additional_properties":
                assert_same(vars(got)[name], value, f"{path}.{name}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), path
        for index, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
            assert_same(mine, theirs, f"{path}[{index}]")
    elif isinstance(expected, dict):
        assert list(got) == list(expected), path
        for key, value in expected.items():
            assert_same(got[key], value, f"{path}.{key}")
    elif isinstance(expected, dt.datetime):
        assert_same_datetime(got, expected)
    else:
        assert got == expected, path


def outcome(function: Any, *args: Any) -> Any:
    """The result, or the type of the exception raised."""
    try:
        return function(*args)
    except Exception as error:  # compared with the other side's
        return type(error)


MODEL_NAMES = sorted(name for name, cls in CONNECTOR_MODELS.items()
                     if issubclass(cls, Model) and cls is not Model)
ACTIVITY_MODELS = Activity._infer_class_models()


def activity_model_names() -> list[str]:
    """The schema classes an activity can hold, at any depth."""
    seen: set[str] = set()
    todo = ["Activity"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            for desc in ACTIVITY_MODELS[name]._attribute_map.values():
                inner = desc["type"].strip("[]{}") if isinstance(desc["type"], str) else ""
                if isinstance(ACTIVITY_MODELS.get(inner), type) \
                        and issubclass(ACTIVITY_MODELS[inner], Model):
                    todo.append(inner)
    return sorted(seen)


def usual_or_odd(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
    """Mostly ``usual`` (the fast path), sometimes ``odd`` (what msrest must decide)."""
    return st.one_of(usual, usual, usual, usual, odd)


def value_of(data_type: Any, depth: int) -> st.SearchStrategy[Any]:
    """JSON a field declared ``data_type`` may hold; nested models stop at depth 2."""
    if not isinstance(data_type, str):
        return json_value
    if data_type == "str":
        return usual_or_odd(st.text(max_size=8), st.integers(-3, 3) | st.booleans())
    if data_type == "bool":
        return usual_or_odd(st.booleans(), st.sampled_from([0, 1, "true"]))
    if data_type in ("int", "long"):
        return usual_or_odd(st.integers(-10**6, 10**6), st.sampled_from([1.0, "7", True]))
    if data_type == "float":
        return usual_or_odd(st.floats(allow_nan=False, allow_infinity=False),
                            st.integers(-3, 3) | st.just("1.5"))
    if data_type == "iso-8601":
        return usual_or_odd(teams_timestamp, odd_timestamp)
    if data_type[:1] == "[" and data_type[-1:] == "]":
        return usual_or_odd(st.lists(st.none() | value_of(data_type[1:-1], depth), max_size=3),
                            json_leaf)
    if data_type[:1] == "{" and data_type[-1:] == "}":
        return usual_or_odd(st.dictionaries(st.text(max_size=5),
                                            st.none() | value_of(data_type[1:-1], depth),
                                            max_size=3), json_leaf)
    declared = CONNECTOR_MODELS.get(data_type)
    if isinstance(declared, type) and issubclass(declared, Model):
        if depth >= 2:
            return st.nothing()
        return usual_or_odd(model_json(data_type, depth + 1), json_leaf)
    return json_value  # "object", an enum's name, "bytearray"


def model_json(name: str, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object for the schema class ``name``: any of its keys, maybe some unknown ones."""
    attribute_map = CONNECTOR_MODELS[name]._attribute_map
    known = {desc["key"] for desc in attribute_map.values()}
    optional = {}
    for desc in attribute_map.values():
        if desc["key"]:
            optional[desc["key"]] = st.none() | value_of(desc["type"], depth)
    unknown = st.dictionaries(st.text(max_size=6).filter(lambda key: key not in known),
                              json_leaf, max_size=2)
    return st.builds(lambda body, extra: {**extra, **body},
                     st.fixed_dictionaries({}, optional=optional), unknown)


def check_reads_and_writes_like_msrest(name: str, data: dict[str, Any]) -> None:
    expected = outcome(Deserializer(CONNECTOR_MODELS), name, copy.deepcopy(data))
    got = outcome(model_from_json, name, data)
    if isinstance(expected, type):  # msrest raised: so must model_from_json (it is msrest then)
        assert got is expected
        return
    assert_same(got, expected)
    written = outcome(to_json, got, name)
    reference = outcome(lambda: Serializer(CONNECTOR_MODELS).body(copy.deepcopy(expected), name))
    if isinstance(reference, type):
        assert written is reference
    else:
        assert json.dumps(written) == json.dumps(reference)
    # The activity table (what Activity().deserialize reads with) for the classes it holds.
    if name in ACTIVITY_MODELS:
        reader = wire._model_reader(ACTIVITY_MODELS[name], "activity")
        fast = wire._attempt(reader, data)
        if fast is not wire._MISSING:
            assert_same(fast, Deserializer(ACTIVITY_MODELS)(name, copy.deepcopy(data)))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(activity_model_names()).flatmap(
    lambda name: st.tuples(st.just(name), model_json(name))))
def test_every_model_an_activity_holds_reads_and_writes_like_msrest(case: Any) -> None:
    check_reads_and_writes_like_msrest(*case)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(MODEL_NAMES).flatmap(
    lambda name: st.tuples(st.just(name), model_json(name))))
def test_every_connector_model_reads_and_writes_like_msrest(case: Any) -> None:
    check_reads_and_writes_like_msrest(*case)


def test_each_connector_model_class_once_with_every_key() -> None:
    # Every class at least once, all keys present (hypothesis samples classes at random).
    for name in MODEL_NAMES:
        cls = CONNECTOR_MODELS[name]
        data = {desc["key"]: None for desc in cls._attribute_map.values() if desc["key"]}
        check_reads_and_writes_like_msrest(name, data)
        check_reads_and_writes_like_msrest(name, {"unknown": [1, {"a": None}]})


def test_duplicate_json_keys_are_left_to_msrest() -> None:
    # TokenExchangeState maps connectionName to two attributes; msrest sets both.
    data = {"connectionName": "graph", "msAppId": "app", "conversation": {"activityId": "1"}}
    check_reads_and_writes_like_msrest("TokenExchangeState", data)
    got = model_from_json("TokenExchangeState", data)
    assert got.connection_name == got.bot_url == "graph"


class PlainModel(Model):
    _attribute_map: ClassVar[dict[str, dict[str, str]]] = {"name": {"key": "name", "type": "str"},
                      "tags": {"key": "tags", "type": "[str]"}}

    def __init__(self, *, name: str | None = None, tags: list[str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.tags = tags


class DefaultingModel(PlainModel):
    def __init__(self, *, name: str | None = None, tags: list[str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, tags=tags or [], **kwargs)  # not a plain store


class ExtraStateModel(PlainModel):
    def __init__(self, *, name: str | None = None, tags: list[str] | None = None,
                 **kwargs: Any) -> None:
        self.seen = True  # an attribute outside the attribute map, set first
        super().__init__(name=name, tags=tags, **kwargs)


class KwargsOnlyModel(PlainModel):
    def __init__(self, **kwargs: Any) -> None:  # no defaults to check: msrest reads it
        super().__init__(**kwargs)


class PropertyModel(PlainModel):
    @property
    def name(self) -> Any:  # type: ignore[override]
        return self.__dict__.get("_name")

    @name.setter
    def name(self, value: Any) -> None:
        self.__dict__["_name"] = value.upper() if isinstance(value, str) else value


class SlottedModel(PlainModel):
    __slots__ = ("cache",)


@pytest.mark.parametrize(("cls", "kind"), [
    (PlainModel, "fill"), (DefaultingModel, "construct"), (ExtraStateModel, "construct"),
    (PropertyModel, "construct"), (SlottedModel, "construct"), (KwargsOnlyModel, "_refuse")])
def test_dict_fill_only_where_the_constructor_is_a_plain_store(cls: type, kind: str) -> None:
    # "fill": __dict__ filled directly; "construct": the constructor called; "_refuse": msrest's.
    table = {cls.__name__: cls}
    reader = wire._build_model_reader(cls, "connector")
    assert reader.__name__ == kind
    for data in ({}, {"name": "x"}, {"tags": ["a", None]}, {"name": "y", "tags": [], "z": 1}):
        expected = Deserializer(table)(cls.__name__, copy.deepcopy(data))
        got = wire._attempt(reader, data)
        if kind == "_refuse":
            assert got is wire._MISSING
        else:
            assert_same(got, expected)


@pytest.mark.parametrize("cls", [*sorted(
    (v for v in CONNECTOR_MODELS.values() if issubclass(v, Model)), key=lambda c: c.__name__),
    OwnCardAttachment, PlainModel, DefaultingModel, ExtraStateModel, PropertyModel, SlottedModel,
    KwargsOnlyModel], ids=lambda c: c.__name__)
def test_new_model_builds_what_the_constructor_builds(cls: type) -> None:
    names = list(getattr(cls, "_attribute_map", {}))
    marker = object()
    for chosen in ([], names, names[::2], names[1::3], [*names[:1], "not_a_field"]):
        arguments = {name: marker if index % 2 else f"v{index}"
                     for index, name in enumerate(chosen)}
        expected = outcome(functools.partial(cls, **arguments))
        got = outcome(functools.partial(wire.new_model, cls, **arguments))
        if isinstance(expected, type):  # an exception: the constructor refuses these names
            assert got is expected
            continue
        assert type(got) is cls and got == expected
        assert list(vars(got).items()) == list(vars(expected).items())
        assert got.additional_properties is not wire.new_model(cls).additional_properties


def test_fixtures_and_replies_never_fall_back_to_msrest(monkeypatch: pytest.MonkeyPatch) -> None:
    # Were a change ever to send these down msrest's path, the speed-up would quietly go.
    bodies = fixture_bodies()
    expected = [Activity().deserialize(copy.deepcopy(body)) for body in bodies]
    reference = TurnContext.get_conversation_reference(incoming())
    replies = [TurnContext.apply_conversation_reference(to_activity(Reply(card=card)), reference)
               for card in sample_cards().values()]
    written = [sdk_body(reply) for reply in replies]

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("went to msrest")

    monkeypatch.setattr(Deserializer, "__call__", refuse)
    monkeypatch.setattr(Serializer, "body", refuse)
    for body, activity in zip(bodies, expected, strict=True):
        assert_same(activity_from_json(body), activity)
    for reply, body in zip(replies, written, strict=True):
        assert json.dumps(to_json(reply, "Activity")) == body
    assert to_json(reference) == reference.serialize()
    assert model_from_json("ResourceResponse", {"id": "1"}) == ResourceResponse(id="1")


def test_each_offset_timestamp_gets_a_zone_of_its_own() -> None:
    # msrest (isodate) builds a new FixedOffset per parse; so does _parse_iso.
    first = _parse_iso("2026-11-28T11:07:51.123+01:00")
    second = _parse_iso("2026-11-28T11:07:51.123+01:00")
    assert first.tzinfo is not second.tzinfo
    made = FixedOffset(1, 0, "+01:00")
    assert vars(first.tzinfo) == vars(second.tzinfo) == vars(made)
    west = _parse_iso("2026-11-28T10:07:51-05:30")
    assert vars(west.tzinfo) == vars(FixedOffset(-5, -30, "-05:30"))


def test_readers_built_from_several_threads_at_once_are_complete_for_each() -> None:
    """A thread meeting a class whose reader another thread is building waits for it.

    None of them may be handed to msrest for want of a finished reader.
    """
    import threading
    from unittest import mock

    bodies = fixture_bodies()
    expected = [Activity().deserialize(copy.deepcopy(body)) for body in bodies]
    saved = dict(wire._READERS)
    wire._READERS.clear()
    build = wire._build_model_reader

    def slow_build(cls: type, table: str) -> Any:
        # Widens the window in which a reader is being built, so that other
        # threads meet the unfinished one on every run, not once in a while.
        time.sleep(0.002)
        return build(cls, table)

    start = threading.Barrier(8)
    results: list[list[Any]] = [[] for _ in range(8)]

    def read(slot: int) -> None:
        start.wait()
        results[slot] = [activity_from_json(copy.deepcopy(body)) for body in bodies]

    try:
        with mock.patch.object(Activity, "deserialize",
                               side_effect=AssertionError("fell back to msrest")), \
                mock.patch.object(wire, "_build_model_reader", slow_build):
            threads = [threading.Thread(target=read, args=(n,)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
    finally:
        wire._READERS.update(saved)
    assert all(got == expected for got in results)


class _Step(Model):
    """A model whose fields lead back to itself, and through another class."""

    _attribute_map: ClassVar[dict[str, dict[str, str]]] = {
        "name": {"key": "name", "type": "str"},
        "next": {"key": "next", "type": "_Step"},
        "branches": {"key": "branches", "type": "[_Branch]"},
    }

    def __init__(self, *, name: Any = None, next: Any = None,  # "next": the field's name
                 branches: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.next = next
        self.branches = branches


class _Branch(Model):
    """Leads back to _Step, so its reader is finished while _Step's is still being built."""

    _attribute_map: ClassVar[dict[str, dict[str, str]]] = {
        "label": {"key": "label", "type": "str"}, "step": {"key": "step", "type": "_Step"}}

    def __init__(self, *, label: Any = None, step: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label
        self.step = step


def test_a_model_whose_fields_lead_back_to_it_reads_as_msrest_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    table = {"_Step": _Step, "_Branch": _Branch}
    monkeypatch.setitem(wire._TABLES, "cycle", lambda: table)
    body = {"name": "a", "next": {"name": "b", "branches": [
        {"label": "x", "step": {"name": "c", "next": {"name": "d"}}}, {"label": "y"}]},
        "extra": 1}

    branch_reader = wire._model_reader(_Branch, "cycle")
    step_reader = wire._model_reader(_Step, "cycle")
    try:
        assert wire._UNPUBLISHED == {}
        assert wire._READERS[(_Step, "cycle")] is step_reader
        expected = Deserializer(table)("_Step", copy.deepcopy(body))
        # Both readers, each built while the other was unfinished, read the whole chain.
        assert step_reader(copy.deepcopy(body)) == expected
        assert branch_reader({"label": "z", "step": copy.deepcopy(body)}) \
            == Deserializer(table)("_Branch", {"label": "z", "step": copy.deepcopy(body)})
        assert wire._refuse not in (step_reader, branch_reader)  # read by the fast path
    finally:
        for token in [(_Step, "cycle"), (_Branch, "cycle")]:
            wire._READERS.pop(token, None)
