"""Bot Framework schema objects to and from JSON, equal to msrest's result at a fraction of its cost.

Every turn reads one activity (``Activity().deserialize``) and writes one or
more (the connector's ``Serializer.body(activity, "Activity")``). msrest does
both generically — it rebuilds its model table, copies each attribute's
description, round-trips the model through its deserializer and calls
``eval`` per leaf — which costs 0.3–8 ms per activity, more than everything
else in a turn. The schema models are simple (no flattened keys, no
validation rules, no polymorphism, no XML), so the same walk over each
model's ``_attribute_map`` can be done directly.

The result is the same as msrest's by construction and by test
(``tests/test_wire.py`` compares both over every card the bot can send and
over generated activities, byte for byte). Whenever a value is not one of the
plain shapes this module handles — a model class with rules, a tuple where a
list is expected, a malformed field — it hands the whole object to msrest,
which then produces its usual result or raises its usual error.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import json
import operator
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

import orjson
from botbuilder.schema import Activity, Attachment
from isodate.tzinfo import UTC as _ISODATE_UTC  # msrest parses with isodate; same tzinfo objects
from isodate.tzinfo import FixedOffset as _IsodateOffset
from msrest import Deserializer, Serializer
from msrest.serialization import Model

# Types handled here; anything else goes to msrest.
_BASIC = frozenset({"str", "bool", "int", "float"})
_PLAIN_LEAVES = (str, int, float, bool)
_LEAVES = frozenset({str, int, float, bool, type(None)})
_MAX_NODES = 200_000


class OwnCardAttachment(Attachment):
    """An attachment whose ``content`` is card JSON the bot built for this one message.

    Such content is plain JSON by construction (dicts, lists, str, int, float,
    bool and None), so writing it skips the walk that checks every node of
    content of unknown origin: for a large card, most of the cost of writing
    the activity. ``tests/test_wire.py`` writes every card the bot can send
    both ways and compares the result with msrest's.
    """


_TRUSTED_OBJECT = "object (plain by construction)"
# Classes whose "object" fields hold JSON the bot built itself (see OwnCardAttachment).
_TRUSTED_CONTENT: frozenset[type] = frozenset({OwnCardAttachment})


class _Fallback(Exception):
    """This object needs msrest's general path."""


class _Skip(Exception):
    """msrest leaves this attribute out (its ``ValueError`` for a missing value)."""


_MISSING = object()


def _attempt(function: Any, *args: Any) -> Any:
    """Run a fast path; ``_MISSING`` when it met anything unusual (msrest decides then)."""
    try:
        return function(*args)
    except Exception:  # noqa: BLE001 - every surprise goes to msrest, which raises properly
        return _MISSING


@functools.cache
def _connector_models() -> dict[str, type]:
    """The model table the SDK's ConnectorClient serializes with."""
    from botframework.connector import models

    return {k: v for k, v in models.__dict__.items() if isinstance(v, type)}


@functools.cache
def _serializer() -> Serializer:
    return Serializer(_connector_models())


@functools.cache
def _activity_deserializer() -> Deserializer:
    # What Activity().deserialize builds on every call (Model._infer_class_models()).
    return Deserializer(Activity._infer_class_models())


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, str, str], ...] | None:
    """(attribute, JSON key, type) of a model class, or None when msrest must handle it."""
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        return None
    if getattr(cls, "_validation", None) or getattr(cls, "_subtype_map", None) \
            or getattr(cls, "_xml_map", None):
        return None
    fields = []
    for attr, desc in cls._attribute_map.items():
        key = desc["key"]
        if not key or "." in key or "\\" in key or attr == "additional_properties":
            return None
        data_type = desc["type"]
        if data_type == "object" and cls in _TRUSTED_CONTENT:
            data_type = _TRUSTED_OBJECT
        fields.append((attr, key, data_type))
    return tuple(fields)


# ----- serialization ---------------------------------------------------------------
def _unicode(value: Any) -> Any:
    # msrest's serialize_unicode: an enum (anything with .value) gives its value.
    try:
        return value.value
    except AttributeError:
        return str(value) if type(value) is not str else value


def _plain_json(value: Any) -> Any:
    """``value`` itself when it is plain JSON, which msrest's serialize_object copies unchanged.

    Plain means exact dicts with str keys, lists, str, int, float, bool and None
    (a tuple, a dict subclass or an enum is what msrest treats differently). The
    value is shared rather than copied: the caller only encodes it.
    """
    stack = [value]
    budget = _MAX_NODES
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            raise _Fallback  # a huge (or cyclic) value: let msrest decide
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    raise _Fallback
                stack.append(child)
        elif kind is list:
            stack.extend(item)
        elif kind not in _LEAVES:
            raise _Fallback
    return value


def _serialize_value(value: Any, data_type: str, models: Mapping[str, type]) -> Any:
    if value is None:
        raise _Skip
    if data_type == "str":
        return value if type(value) is str else _unicode(value)
    if data_type in _BASIC:
        kind = {"bool": bool, "int": int, "float": float}[data_type]
        return value if type(value) is kind else kind(value)
    if data_type == "object":
        return _plain_json(value)
    if data_type == _TRUSTED_OBJECT:
        return value
    if data_type == "iso-8601":
        return Serializer.serialize_iso(value)
    if data_type[0] == "[" and data_type[-1] == "]":
        # msrest's body() round trip refuses a tuple of models; only lists are simple.
        if type(value) is not list:
            raise _Fallback
        inner = data_type[1:-1]
        items = []
        for item in value:
            try:
                items.append(_serialize_value(item, inner, models))
            except _Skip:
                items.append(None)
        return items
    if data_type[0] == "{" and data_type[-1] == "}":
        if type(value) is not dict:
            raise _Fallback
        inner = data_type[1:-1]
        result = {}
        for key, item in value.items():
            try:
                result[_unicode(key)] = _serialize_value(item, inner, models)
            except _Skip:
                result[_unicode(key)] = None
        return result
    declared = models.get(data_type)
    if declared is None or issubclass(declared, Enum) or not isinstance(value, Model):
        raise _Fallback
    return _serialize_model(value, models)


@functools.cache
def _writer(cls: type) -> tuple[tuple[tuple[str, str, str], ...], Any] | None:
    """A model class's fields and one C-level getter for all their values."""
    fields = _fields(cls)
    if not fields:
        return None
    getter = operator.attrgetter(*(attr for attr, _, _ in fields))
    if len(fields) == 1:
        single = getter
        return fields, lambda model: (single(model),)
    return fields, getter


def _serialize_model(model: Model, models: Mapping[str, type]) -> dict[str, Any]:
    # msrest serializes a model with the attribute map of its own class.
    writer = _writer(type(model))  # type: ignore[arg-type]  # classes are hashable
    if writer is None:
        raise _Fallback
    fields, values = writer
    result: dict[str, Any] = {}
    for (_, key, data_type), value in zip(fields, values(model), strict=True):
        if value is None:
            continue
        try:
            result[key] = _serialize_value(value, data_type, models)
        except _Skip:
            continue
    return result


def to_json(model: Model, data_type: str | None = None) -> dict[str, Any]:
    """Return ``Serializer(connector models).body(model, data_type)``: the wire JSON of a model.

    Args:
        model: an ``Activity``, ``ConversationReference`` or other schema model.
        data_type: the model's schema name; its class name when omitted.

    Returns:
        A new plain-JSON dict, equal to what the SDK's connector sends; values the
        schema types as ``object`` (card JSON, channelData) are the model's own.
    """
    name = data_type or type(model).__name__
    models = _connector_models()
    if models.get(name) is not None and isinstance(model, Model):
        fast = _attempt(_serialize_model, model, models)
        if fast is not _MISSING:
            return fast  # type: ignore[no-any-return]
    result: dict[str, Any] = _serializer().body(model, name)
    return result


def encode_body(data: Any) -> bytes:
    """The request body for a ``to_json`` result: compact UTF-8 JSON.

    orjson writes a card reply about fifteen times faster than ``json.dumps``
    (measured: 5 µs against 86 µs for a 7 KB card), and what it writes
    parses to the same value. It refuses the few values JSON has no room
    for (an integer beyond 64 bits, a lone surrogate); those bodies are
    written by ``json.dumps``, as msrest writes them.
    """
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data).encode("ascii")


# ----- deserialization -------------------------------------------------------------
# The timestamp shapes Teams sends: 2026-11-28T10:07:51.1234567Z, ...:51Z,
# ...:51.123+01:00. ASCII digits only ([0-9], not \d, which isodate refuses
# for other scripts); an offset of at most 23:59 so that utcoffset() is valid.
# Everything else (no zone, basic format, ',' fractions, "+01:99") is msrest's.
_ISO_SHAPE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:([Zz])|(([+-])([01][0-9]|2[0-3]):([0-5][0-9])))")


def _parse_iso(value: Any) -> Any:
    """``Deserializer.deserialize_iso(value)``, without its regexes and Decimal arithmetic.

    For the shapes above, the same datetime msrest returns: it keeps the first
    six fraction digits (isodate then floors, so shorter fractions are scaled),
    and isodate gives its ``UTC`` for ``Z`` and a new ``FixedOffset(±h, ±m,
    "±HH:MM")`` for an offset. Years 1 and 9999, where an offset can move the
    UTC year out of msrest's range check, and values ``datetime`` refuses
    (month 13, second 60) go to msrest, which returns or raises as it does.
    """
    if type(value) is str:
        match = _ISO_SHAPE.fullmatch(value)
        if match is not None:
            year, month, day, hour, minute, second, fraction, zulu, offset, sign, \
                offset_hours, offset_minutes = match.groups()
            year_number = int(year)
            if 1 < year_number < 9999:
                if zulu is not None:
                    tzinfo = _ISODATE_UTC
                elif sign == "-":
                    tzinfo = _IsodateOffset(-int(offset_hours), -int(offset_minutes), offset)
                else:
                    tzinfo = _IsodateOffset(int(offset_hours), int(offset_minutes), offset)
                microsecond = int((fraction + "00000")[:6]) if fraction is not None else 0
                try:
                    return datetime.datetime(year_number, int(month), int(day), int(hour),
                                             int(minute), int(second), microsecond, tzinfo)
                except ValueError:
                    pass  # e.g. 2026-02-30: msrest raises its DeserializationError
    return Deserializer.deserialize_iso(value)


def _plain_object(value: Any) -> Any:
    """msrest's deserialize_object for JSON input (a deep copy)."""
    kind = type(value)
    if kind is dict:
        return {k: _plain_object(v) for k, v in value.items()}
    if kind is list:
        return [_plain_object(v) for v in value]
    if kind in _PLAIN_LEAVES or value is None:
        return value
    raise _Fallback


def _deserialize_value(value: Any, data_type: str, models: Mapping[str, type]) -> Any:
    if value is None:
        return None
    if data_type == "str":
        # msrest keeps an enum and turns anything else into str().
        return value if type(value) is str or isinstance(value, Enum) else str(value)
    if data_type == "bool":
        if type(value) is bool:
            return value
        raise _Fallback
    if data_type in ("int", "float"):
        kind = int if data_type == "int" else float
        if type(value) is kind:
            return value
        raise _Fallback
    if data_type == "object":
        return _plain_object(value)
    if data_type == "iso-8601":
        if isinstance(value, datetime.datetime):
            return value
        return _parse_iso(value)
    if data_type[0] == "[" and data_type[-1] == "]":
        if type(value) is not list:
            raise _Fallback
        inner = data_type[1:-1]
        return [_deserialize_value(item, inner, models) for item in value]
    if data_type[0] == "{" and data_type[-1] == "}":
        if type(value) is not dict:
            raise _Fallback
        inner = data_type[1:-1]
        return {k: _deserialize_value(v, inner, models) for k, v in value.items()}
    cls = models.get(data_type)
    if cls is None or issubclass(cls, Enum) or type(value) is not dict:
        raise _Fallback
    return _deserialize_model(cls, value, models)


@functools.cache
def _reader(cls: type) -> dict[str, tuple[str, str]] | None:
    """JSON key -> (attribute, type) of a model class whose constructor defaults are all None.

    msrest passes every attribute to the constructor, None for absent keys;
    with all-None defaults, passing only the present ones builds the same object.
    """
    fields = _fields(cls)
    if fields is None:
        return None
    parameters = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    for attr, _, _ in fields:
        parameter = parameters.get(attr)
        if parameter is None or parameter.default is not None:
            return None
    return {key: (attr, data_type) for attr, key, data_type in fields}


def _deserialize_model(cls: type, data: dict[str, Any], models: Mapping[str, type]) -> Any:
    reader = _reader(cls)
    if reader is None:
        raise _Fallback
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, raw in data.items():
        spec = reader.get(key)
        if spec is None:
            extra[key] = raw  # msrest keeps unknown keys as additional_properties
        else:
            kwargs[spec[0]] = _deserialize_value(raw, spec[1], models)
    instance = cls(**kwargs)
    if extra:
        instance.additional_properties = extra
    return instance


def model_from_json(data_type: str, data: Any) -> Any:
    """Return what the SDK's connector deserializes ``data`` into as ``data_type``.

    Args:
        data_type: a connector schema name, e.g. ``"ResourceResponse"``.
        data: parsed JSON.

    Returns:
        The model, equal to ``Deserializer(connector models)(data_type, data)``.
    """
    models = _connector_models()
    cls = models.get(data_type)
    if cls is not None and type(data) is dict:
        fast = _attempt(_deserialize_model, cls, data, models)
        if fast is not _MISSING:
            return fast
    return Deserializer(models)(data_type, data)


def activity_from_json(data: Any) -> Activity:
    """Return ``Activity().deserialize(data)``: the activity a JSON body describes.

    Args:
        data: the parsed JSON body of an incoming request.

    Returns:
        The activity, equal to msrest's.

    Raises:
        msrest.exceptions.DeserializationError: As msrest does, for a body it cannot read.
    """
    if type(data) is dict:
        fast = _attempt(_deserialize_model, Activity, data, _activity_deserializer().dependencies)
        if fast is not _MISSING:
            return fast
    result: Activity = Activity().deserialize(data)
    return result
