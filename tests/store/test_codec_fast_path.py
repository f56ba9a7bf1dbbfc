"""The codec's fast path writes exactly what the general conversion writes.

``encode_item`` and ``dumps_value`` let ``json.dumps`` write plain values
directly and fall back to ``to_json_value`` otherwise. These tests compare both
on generated values full of the cases where the two could differ (NUL, lone
surrogates, non-str and colliding keys, subclasses and str Enums, NaN, tagged
botbuilder types, dataclasses, nesting around ``MAX_DEPTH``) and check that the
fast path is really taken for ordinary state, so it cannot silently be a no-op.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
from collections import OrderedDict
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from unittest import mock

import pytest
from botbuilder.core import StoreItem
from botbuilder.dialogs import DialogInstance
from botbuilder.dialogs.choices import ListStyle
from botbuilder.schema import ActivityTypes, ChannelAccount, ConversationReference
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.store import codec
from bot.store.codec import MAX_DEPTH, dumps_value, encode_item

STATE_ITEM: dict[str, Any] = {
    "snapshot": {
        "v": 3,
        "state": "asking_mfa",
        "facts": {
            "answers": {"mailbox": "tms@contoso.com", "mailbox_type": "user", "license": "yes"},
            "diagnosis": {
                "candidates": ["smtp_auth_disabled_tenant"],
                "evidence": "535 5.7.139 Authentication unsuccessful",
                "confidence": 0.9,
            },
        },
    },
    "welcomed": True,
    "ref": {
        "activity_id": "f:123",
        "user": {"id": "29:1abc", "name": "Ana", "aad_object_id": "0000-1111"},
        "bot": {"id": "28:bot", "name": "Mail Setup Assistant"},
        "conversation": {"id": "a:1xyz", "conversation_type": "personal", "tenant_id": "72f9"},
        "channel_id": "msteams",
        "locale": "en-US",
        "service_url": "https://smba.trafficmanager.net/emea/",
    },
    "extra": {},
    "e_tag": "12",
}


class SubStr(str):
    pass


class SubInt(int):
    pass


class SubFloat(float):
    pass


class SubDict(dict):  # type: ignore[type-arg]
    pass


class SubList(list):  # type: ignore[type-arg]
    pass


class Level(enum.IntEnum):
    LOW = 1


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Pair:
    left: Any
    right: Any


def outcome(fn: Any, value: Any) -> Any:
    """The text ``fn`` returns, or the type of the error it raises."""
    try:
        return fn(value)
    except (TypeError, ValueError) as exc:
        return type(exc)


def assert_same(value: Any) -> None:
    """Fast and slow encode_item/dumps_value agree; encode_item leaves its argument alone."""
    keys_before = list(value) if isinstance(value, dict) else None
    assert outcome(encode_item, value) == outcome(codec._encode_item_slow, value)
    assert outcome(dumps_value, value) == outcome(codec._dumps_value_slow, value)
    if keys_before is not None:
        assert list(value) == keys_before


def nest(leaf: Any, levels: int, kinds: list[str]) -> Any:
    """Wrap ``leaf`` in ``levels`` containers, taking their kinds from ``kinds`` in turn."""
    value = leaf
    for i in range(levels):
        kind = kinds[i % len(kinds)]
        value = {"k": value} if kind == "dict" else [value] if kind == "list" else (value,)
    return value


# Characters chosen to hit every cleaning rule and escape, plus ordinary text.
CHARS = st.one_of(
    st.sampled_from(
        ["\x00", "\ud800", "\udfff", "\ufffd", "\\", '"', "\n", "\x1f", "é", "😀", "u", "0"]
    ),
    st.characters(codec="utf-8"),
)
TEXT = st.one_of(
    st.text(CHARS, max_size=8),
    st.sampled_from(["e_tag", "$type", "$value", "\\u0000", "1", "true", "null", "1.5"]),
)
ODD_SCALARS = st.sampled_from(
    [
        SubStr("sub"),
        SubStr("nul\x00"),
        SubInt(7),
        SubFloat(1.5),
        SubFloat(float("nan")),
        Level.LOW,
        Colour.RED,
        ActivityTypes.message,
        ListStyle.auto,
        b"bytes",
        datetime(2024, 1, 2, tzinfo=UTC),
        object(),
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities included
    TEXT,
    ODD_SCALARS,
    # Beyond the int-to-str digit limit: ValueError both ways. Built lazily, as
    # hypothesis cannot repr it inside sampled_from.
    st.just(5000).map(lambda digits: 10**digits),
)
KEYS = st.one_of(
    TEXT,
    st.integers(-3, 3),
    st.sampled_from([1.0, 1.5, float("nan"), float("inf"), -0.0]),
    st.booleans(),
    st.none(),
    st.sampled_from([SubStr("1"), ActivityTypes.message, ("t",), Level.LOW]),
)
DEEP_KINDS = st.lists(st.sampled_from(["dict", "list", "tuple"]), min_size=1, max_size=3)


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    dicts = st.dictionaries(KEYS, children, max_size=4)
    return st.one_of(
        dicts,
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        dicts.map(SubDict),
        dicts.map(OrderedDict),
        dicts.map(MappingProxyType),
        st.lists(children, max_size=3).map(SubList),
        st.builds(Pair, children, children),
        st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), children, max_size=3).map(
            lambda attrs: StoreItem(**attrs)
        ),
        st.builds(ChannelAccount, id=TEXT, name=TEXT),
        st.builds(DialogInstance, TEXT, st.dictionaries(TEXT, children, max_size=2)),
        # Nesting around MAX_DEPTH, either side of the limit.
        st.builds(nest, children, st.integers(MAX_DEPTH - 3, MAX_DEPTH + 2), DEEP_KINDS),
    )


VALUES = st.recursive(SCALARS, containers, max_leaves=12)
ITEMS = st.one_of(
    st.dictionaries(KEYS, VALUES, max_size=5),
    st.builds(
        lambda body, e_tag: {**body, "e_tag": e_tag},
        st.dictionaries(KEYS, VALUES, max_size=4),
        VALUES,
    ),
    VALUES,
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ITEMS)
@example(STATE_ITEM)
@example({1: "a", "1": "b"})
@example({True: "a", "true": "b", None: "c", "null": "d"})
@example({"a\x00": 1, "a\ufffd": 2})
@example({"e_tag": float("nan"), "a": 1})
@example({"e_tag": [float("inf")], "a": 1})
@example({"e_tag": object(), "a": 1})
@example({"e_tag": "x\x00", "a": "b"})
@example({"text": "a literal \\u0000 is no NUL"})
@example({"mood": ActivityTypes.message, "key": SubStr("s")})
@example({"n": 10**5000})
@example({"lone": "\ud83d\ude00"})
@example({"ref": ConversationReference(channel_id="msteams", user=ChannelAccount(id="29:1"))})
def test_fast_path_matches_the_general_conversion(value: Any) -> None:
    assert_same(value)


@pytest.mark.parametrize("levels", range(MAX_DEPTH - 3, MAX_DEPTH + 3))
@pytest.mark.parametrize(
    "leaf", [1, "x", [], {}], ids=["int", "str", "empty-list", "empty-dict"]
)
@pytest.mark.parametrize("kinds", [["dict"], ["list"], ["dict", "tuple"]], ids=str)
def test_nesting_either_side_of_max_depth(levels: int, leaf: Any, kinds: list[str]) -> None:
    assert_same({"deep": nest(leaf, levels, kinds)})
    assert_same(nest(leaf, levels, kinds))


def test_cycles_raise_as_before() -> None:
    looped: dict[str, Any] = {"a": 1}
    looped["self"] = looped
    listed: list[Any] = []
    listed.append(listed)
    for value in (looped, {"l": listed}, listed):
        assert_same(value)
    with pytest.raises(ValueError, match="nested deeper than"):
        encode_item(looped)


# Plain, clean state: exact builtin types, str keys, no NUL or lone surrogates,
# and no backslash, since a literal backslash-u0000 is a (harmless) false alarm
# that takes the slow path.
CLEAN_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00\\"), max_size=10)
CLEAN_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        CLEAN_TEXT,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(CLEAN_TEXT, children, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(CLEAN_TEXT, CLEAN_VALUES, max_size=5),
    st.one_of(st.none(), CLEAN_TEXT, st.integers()),
)
def test_plain_state_takes_the_fast_path(body: dict[str, Any], e_tag: Any) -> None:
    item = {**body, "e_tag": e_tag}
    snapshot = copy.deepcopy(item)
    expected_item = codec._encode_item_slow(item)
    expected_value = codec._dumps_value_slow(body)
    refuse = mock.Mock(side_effect=AssertionError("took the slow path"))
    with (
        mock.patch.object(codec, "_encode_item_slow", refuse),
        mock.patch.object(codec, "_dumps_value_slow", refuse),
    ):
        assert encode_item(item) == expected_item
        assert dumps_value(body) == expected_value
    assert item == snapshot  # the e_tag is left out of a copy, not the caller's dict


def test_realistic_state_item_takes_the_fast_path() -> None:
    expected = codec._encode_item_slow(STATE_ITEM)
    with mock.patch.object(codec, "_encode_item_slow", side_effect=AssertionError):
        assert encode_item(STATE_ITEM) == expected
    assert "e_tag" not in json.loads(expected)
    assert STATE_ITEM["e_tag"] == "12"


@settings(max_examples=200, deadline=None)
@given(CLEAN_VALUES)
def test_dumps_is_json_dumps(value: Any) -> None:
    # The slow path's dumps reuses one encoder instead of json.dumps per call.
    assert codec.dumps(value) == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    for bad in (float("nan"), {"x": float("inf")}, {"o": object()}):
        with pytest.raises((ValueError, TypeError)):
            codec.dumps(bad)


# ----- reading back -------------------------------------------------------------------
def ordered(value: Any) -> Any:
    """``value`` with every dict as its list of items, so comparing checks key order too."""
    if type(value) is dict:
        return [(key, ordered(item)) for key, item in value.items()]
    if type(value) is list:
        return [ordered(item) for item in value]
    if hasattr(value, "__dict__"):  # a rebuilt object (not all of them define ==)
        return (type(value), ordered(vars(value)))
    return value


def decode_slow(text: str | bytes) -> Any:
    """What decode_item returned before it had a fast path: every object through the hook."""
    return json.loads(text, object_hook=codec._object_hook)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ITEMS)
@example(STATE_ITEM)
@example({"ref": ConversationReference(channel_id="msteams", user=ChannelAccount(id="29:1"))})
@example({"when": datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)})
@example({"control": "bell \x07 and tab \t"})
@example({"n": 10**30})
def test_reading_gives_what_the_hook_gave(value: Any) -> None:
    try:
        text = encode_item(value)
    except (TypeError, ValueError, RecursionError):
        return  # not storable at all
    expected = decode_slow(text)
    for stored in (text, text.encode("utf-8")):  # SQLite gives str, a bytes column bytes
        if not isinstance(expected, dict):
            with pytest.raises(ValueError, match="not a JSON object"):
                codec.decode_item(stored)
            continue
        got = codec.decode_item(stored)
        assert ordered(got) == ordered(expected)


@pytest.mark.parametrize("text", [
    '{"a": {"$type": "no-such-type", "$value": 1}}',
    '{"a": {"\\u0024type": "ChannelAccount", "$value": {"id": "29:1"}}}',
    '{"big": 123456789012345678901234567890, "f": 1e400}',
    '{"u": 18446744073709551616, "s": -9223372036854775809, "ok": 9223372036854775807}',
    '{"nan": NaN}',
    '{"lone": "\\ud800"}',
    '{"dup": 1, "dup": 2}',
])
def test_unusual_stored_text_reads_as_before(text: str) -> None:
    got, expected = codec.decode_item(text), decode_slow(text)
    assert repr(got) == repr(expected)  # repr: NaN is not equal to itself
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_tagged_documents_still_rebuild_their_objects() -> None:
    reference = ConversationReference(channel_id="msteams", user=ChannelAccount(id="29:1"))
    text = encode_item({"ref": reference})
    assert codec.TYPE_KEY in text
    escaped = text.replace('"$type"', '"\\u0024type"')
    for stored in (text, escaped):
        assert isinstance(codec.decode_item(stored)["ref"], ConversationReference)
    plain = encode_item(STATE_ITEM)
    with mock.patch.object(codec, "_object_hook", side_effect=AssertionError("hook ran")):
        assert codec.decode_item(plain) == {k: v for k, v in STATE_ITEM.items() if k != "e_tag"}


def test_orjson_writes_ordinary_state_and_json_dumps_floats_it_would_spell_otherwise() -> None:
    # orjson and json.dumps spell 1e16 and 1e-05 differently ("1e16", "1e-5"): a value
    # holding such a float is written by the standard encoder, everything else by orjson.
    real = codec.orjson.dumps
    with mock.patch.object(codec.orjson, "dumps", side_effect=real) as dumped:
        text = encode_item(STATE_ITEM)
        assert dumped.call_count == 1
        for odd in (1e16, 1.5e-05, -2e20):
            body = {"snapshot": {"confidence": odd}, "seen": [["a", 1765065600.25]]}
            assert encode_item(body) == codec._encode_item_slow(body)
            assert dumps_value(odd) == json.dumps(odd)
        assert dumped.call_count == 1
    assert text == codec._encode_item_slow(STATE_ITEM)
