"""Turn stored items into plain JSON and back, without jsonpickle.

botbuilder's Azure storages serialize with jsonpickle, which records a Python
class path in the data and instantiates it on read: whoever can write a row can
make the bot construct arbitrary objects. Here the stored document is plain
JSON. Dicts, lists, strings, numbers, booleans and null go in as they are;
``StoreItem`` objects and dataclasses are stored as their attributes and come
back as dicts.

A short, fixed allowlist of botbuilder types is tagged as
``{"$type": <name>, "$value": …}`` and rebuilt on read: the Bot Framework schema
models (``Activity``, ``CardAction``…) and the few botbuilder-dialogs classes a
``DialogSet`` keeps in conversation state. Without them botbuilder-testing's
waterfall conformance test could not run on a JSON store. The tag names a
registry entry, never an import path, so data cannot pick what gets built.
Anything else raises ``TypeError`` on write, which is louder than silently
turning an object into a dict that code will later treat as the object.

Strings are cleaned on the way in so both backends store the same thing:
NUL becomes U+FFFD (PostgreSQL text and JSONB cannot hold it) and lone
surrogates, which cannot be encoded as UTF-8, become U+FFFD too.

Every bot turn saves its state here, and that state is nearly always plain
dicts, lists, strings and numbers with clean text. ``encode_item`` and
``dumps_value`` therefore first check that the value is made only of the exact
builtin JSON types (no subclasses, str keys, bounded nesting), let the C JSON
encoder write it as it is, and keep that text only when it shows no string
needed cleaning. Anything else takes the general conversion, which gives the
same text for what the fast path accepts.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from enum import Enum
from functools import partial
from json.encoder import (  # type: ignore[attr-defined]  # the C encoder is not in typeshed
    c_make_encoder,
    encode_basestring,
)
from typing import Any

import orjson
from botbuilder.core import StoreItem

MAX_DEPTH = 256
TYPE_KEY = "$type"
VALUE_KEY = "$value"


def storable_text(text: str) -> str:
    """Return ``text`` with NUL and unencodable lone surrogates replaced by U+FFFD.

    Only what a backend cannot store changes (what people type is tidied by
    :func:`dialogs.text.clean_text`, before the domain reads it).

    Args:
        text: Any Python string, e.g. a message that arrived as invalid UTF-8.

    Returns:
        A string every backend can store unchanged.
    """
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


class _Codec:
    """One allowlisted non-JSON type: how to flatten it and how to rebuild it."""

    def __init__(
        self,
        cls: type,
        dump: Callable[[Any], Any],
        load: Callable[[Any], Any],
    ) -> None:
        self.cls = cls
        self.dump = dump
        self.load = load


def _dump_model(obj: Any) -> Any:
    return obj.serialize(keep_readonly=True)


def _load_model(cls: Any, value: Any) -> Any:
    return cls.deserialize(value)


def _dump_enum(obj: Enum) -> str:
    return obj.name


def _load_enum(cls: Any, value: Any) -> Any:
    return cls[value]


_registry: dict[str, _Codec] | None = None
_by_class: dict[type, tuple[str, _Codec]] = {}


def _build_registry() -> dict[str, _Codec]:
    """Collect the allowlisted botbuilder types that are importable here.

    botbuilder-dialogs is not a dependency of the bot (the flow runs on
    ``transitions``); it is only present when botbuilder-testing is installed,
    so its types are registered only if they import.
    """
    registry: dict[str, _Codec] = {}

    from botbuilder import schema
    from msrest.serialization import Model

    for name in dir(schema):
        cls = getattr(schema, name)
        if isinstance(cls, type) and issubclass(cls, Model) and cls is not Model:
            registry[f"botbuilder.schema.{name}"] = _Codec(
                cls, _dump_model, partial(_load_model, cls)
            )
        elif isinstance(cls, type) and issubclass(cls, Enum):
            registry[f"botbuilder.schema.{name}"] = _Codec(
                cls, _dump_enum, partial(_load_enum, cls)
            )

    try:
        from botbuilder.dialogs import DialogInstance, DialogState
        from botbuilder.dialogs.choices import Choice, ListStyle
        from botbuilder.dialogs.prompts import PromptOptions
    except ImportError:
        return registry

    registry["botbuilder.dialogs.DialogState"] = _Codec(
        DialogState,
        lambda obj: {"dialog_stack": obj.dialog_stack},
        lambda value: DialogState(value.get("dialog_stack") or []),
    )
    registry["botbuilder.dialogs.DialogInstance"] = _Codec(
        DialogInstance,
        lambda obj: {"id": obj.id, "state": obj.state},
        lambda value: DialogInstance(value.get("id"), value.get("state")),
    )
    prompt_fields = ("prompt", "retry_prompt", "choices", "style", "validations")
    registry["botbuilder.dialogs.PromptOptions"] = _Codec(
        PromptOptions,
        lambda obj: {
            **{name: getattr(obj, name, None) for name in prompt_fields},
            "number_of_attempts": getattr(obj, "number_of_attempts", 0),
        },
        lambda value: PromptOptions(
            **{k: v for k, v in value.items() if k in (*prompt_fields, "number_of_attempts")}
        ),
    )
    registry["botbuilder.dialogs.Choice"] = _Codec(
        Choice,
        lambda obj: {"value": obj.value, "action": obj.action, "synonyms": obj.synonyms},
        lambda value: Choice(value.get("value"), value.get("action"), value.get("synonyms")),
    )
    registry["botbuilder.dialogs.ListStyle"] = _Codec(
        ListStyle, _dump_enum, partial(_load_enum, ListStyle)
    )
    return registry


def _codecs() -> dict[str, _Codec]:
    global _registry
    if _registry is None:
        registry = _build_registry()
        _by_class.update({codec.cls: (name, codec) for name, codec in registry.items()})
        _registry = registry
    return _registry


def _codec_for(obj: object) -> tuple[str, _Codec] | None:
    _codecs()
    # Exact class only: a subclass may carry state the codec does not know.
    return _by_class.get(type(obj))


def _key(key: object) -> str:
    # Mirror json.dumps: scalar keys become strings, anything else is an error.
    if isinstance(key, str):
        return storable_text(key)
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return json.dumps(key)
    raise TypeError(f"dict keys must be strings, got {type(key).__name__}")


def to_json_value(value: Any, _depth: int = 0) -> Any:
    """Convert ``value`` into something ``json.dumps`` writes as plain JSON.

    Args:
        value: A stored item or any part of one.

    Returns:
        Dicts, lists and scalars only (allowlisted botbuilder types as tagged dicts).

    Raises:
        TypeError: For an object that is neither JSON, a ``StoreItem``, a
            dataclass nor an allowlisted botbuilder type.
        ValueError: For NaN or infinity, or nesting deeper than ``MAX_DEPTH``.
    """
    if _depth > MAX_DEPTH:
        raise ValueError(f"stored item is nested deeper than {MAX_DEPTH} levels")
    # Exact plain types first (the whole per-turn state is made of them); no codec
    # is registered for them, so this is what the general branches below do.
    kind = type(value)
    if kind is str:
        return storable_text(value)
    if kind is dict:
        return {_key(k): to_json_value(v, _depth + 1) for k, v in value.items()}
    if kind is list:
        return [to_json_value(item, _depth + 1) for item in value]
    if value is None or kind is bool or kind is int:
        return value
    if value is None or isinstance(value, bool):
        return value
    tagged = _codec_for(value) if not isinstance(value, dict | list) else None
    if tagged is not None:
        name, codec = tagged
        return {TYPE_KEY: name, VALUE_KEY: to_json_value(codec.dump(value), _depth + 1)}
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinity cannot be stored as JSON")
        return float(value)
    if isinstance(value, Mapping):
        return {_key(k): to_json_value(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(item, _depth + 1) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json_value(getattr(value, f.name), _depth + 1)
            for f in dataclasses.fields(value)
        }
    if isinstance(value, StoreItem):
        return {_key(k): to_json_value(v, _depth + 1) for k, v in vars(value).items()}
    raise TypeError(
        f"cannot store a {type(value).__module__}.{type(value).__qualname__} as JSON; "
        "store plain dicts, lists and scalars"
    )


def _object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 2 and TYPE_KEY in obj and VALUE_KEY in obj:
        codec = _codecs().get(obj[TYPE_KEY]) if isinstance(obj[TYPE_KEY], str) else None
        if codec is not None:
            return codec.load(obj[VALUE_KEY])
    return obj


def encode_item(item: Any) -> str:
    """Serialize a stored item to JSON text, leaving out its ``e_tag``.

    The e_tag lives in its own column; keeping it out of the document means
    the stored JSON is exactly the caller's data.

    Args:
        item: A dict, a ``StoreItem`` or a dataclass.

    Returns:
        Compact JSON text.
    """
    if type(item) is dict:
        try:
            # The whole item, e_tag included, is checked: the general path converts
            # the e_tag value too (and raises for a bad one) before dropping it.
            plain = _plain(item, 0)
            if plain:
                doc: dict[str, Any] | None = item
                if "e_tag" in item:
                    # Only scalars whose conversion cannot raise (a float can be
                    # NaN); a copy, so the caller's dict keeps its e_tag.
                    e_tag = item["e_tag"]
                    kind = type(e_tag)
                    if kind is str or kind is int or kind is bool or e_tag is None:
                        doc = dict(item)
                        del doc["e_tag"]
                    else:
                        doc = None
                if doc is not None:
                    text = _plain_text(doc, orjson_too=plain == _PLAIN)
                    if text is not None:
                        return text
        except (TypeError, ValueError, RecursionError):
            pass  # e.g. NaN or a huge int: the general path raises its own error
    return _encode_item_slow(item)


def _encode_item_slow(item: Any) -> str:
    # The general path; the fast path in encode_item must give exactly its result.
    doc = to_json_value(item)
    if not isinstance(doc, dict):
        raise TypeError(f"a stored item must be a dict or an object, got {type(item).__name__}")
    doc.pop("e_tag", None)
    return dumps(doc)


def decode_item(text: str | bytes) -> dict[str, Any]:
    """Parse a stored document back into a dict (allowlisted types rebuilt).

    Args:
        text: JSON text as written by ``encode_item``.

    Returns:
        The item as a dict, without ``e_tag``.
    """
    value = _parse(text) if _untagged(text) else json.loads(text, object_hook=_object_hook)
    if not isinstance(value, dict):
        raise ValueError("stored document is not a JSON object")
    return value


# json.dumps builds a new JSONEncoder for every call with non-default options;
# this one has exactly those options and keeps no state between calls.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any) -> str:
    """Write an already JSON-safe value compactly (no NaN, UTF-8 kept readable)."""
    return _ENCODER.encode(value)


def dumps_value(value: Any) -> str:
    """Clean and serialize any JSON-like value (used for records, not state items).

    Args:
        value: Dicts, lists and scalars.

    Returns:
        Compact JSON text.
    """
    kind = type(value)
    try:
        if kind is dict or kind is list or kind is tuple:
            plain: int = _plain(value, 0)
        else:
            plain = int(kind is str or kind is int or kind is bool or value is None
                        or kind is float)
        if plain and kind is float and not _same_in_both(value):
            plain = _PLAIN_EXPONENT
        if plain:
            text = _plain_text(value, orjson_too=plain == _PLAIN)
            if text is not None:
                return text
    except (TypeError, ValueError, RecursionError):
        pass  # e.g. NaN or a huge int: the general path raises its own error
    return _dumps_value_slow(value)


def _dumps_value_slow(value: Any) -> str:
    # The general path; the fast path in dumps_value must give exactly its result.
    return dumps(to_json_value(value))


# The fast path. For a value made only of the exact types dict, list, tuple, str,
# int, float, bool and None (no subclass: a str Enum is a str to json.dumps but a
# tagged dict to to_json_value; types are compared by identity for the same
# reason), with str keys only (to_json_value merges 1 and "1" into one key,
# json.dumps writes both) and nesting that stays within MAX_DEPTH, to_json_value
# returns an equal value whose strings differ only where storable_text changed them.
# _plain_text turns down every text where that could have happened, and a
# non-finite float makes the encoder raise, so what is left is exactly what the
# general path writes.


# What _plain finds: not plain JSON; plain; plain, with a float whose exponent orjson
# spells otherwise than json.dumps (see _same_in_both).
_NOT_PLAIN, _PLAIN, _PLAIN_EXPONENT = 0, 1, 2


def _plain(value: dict[Any, Any] | list[Any] | tuple[Any, ...], depth: int) -> int:
    """Whether the exact dict, list or tuple ``value`` holds only plain JSON (see above):
    ``_NOT_PLAIN`` (0, false), ``_PLAIN`` or ``_PLAIN_EXPONENT``."""
    # A container's depth is its own; its members sit one deeper, and to_json_value
    # refuses anything deeper than MAX_DEPTH. Stopping every container at MAX_DEPTH
    # also bounds cycles. The containers wait on a stack rather than in calls: the
    # state's many small lists ([activity id, time] pairs) cost no call each.
    found = _PLAIN
    waiting: list[tuple[Any, int]] = [(value, depth)]
    while waiting:
        container, level = waiting.pop()
        if level >= MAX_DEPTH:
            return _NOT_PLAIN
        level += 1
        if type(container) is dict:
            for key in container:
                if type(key) is not str:
                    return _NOT_PLAIN
            members: Any = container.values()
        else:
            members = container
        for item in members:
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:
                continue
            if kind is float:
                if not _same_in_both(item):
                    found = _PLAIN_EXPONENT
            elif kind is dict or kind is list or kind is tuple:
                waiting.append((item, level))
            else:
                return _NOT_PLAIN
    return found


def _make_plain_encoder() -> Callable[[Any], str]:
    # The C encoder without circular-reference markers: _plain already bounds the
    # nesting, so a cycle never reaches it. Same options as _ENCODER, same text.
    if c_make_encoder is None:
        return _ENCODER.encode
    try:
        encoder = c_make_encoder(None, None, encode_basestring, None, ":", ",", False, False, False)
    except TypeError:  # another Python's signature
        return _ENCODER.encode
    return lambda value: "".join(encoder(value, 0))


_encode_plain = _make_plain_encoder()


def _same_in_both(number: float) -> bool:
    """True for a float orjson writes as ``json.dumps`` does: 0 and 1e-4 <= |x| < 1e16.

    Outside that range the two spell the exponent differently ("1e-05" and "1e-5");
    NaN and infinities are not JSON at all. Such a value takes the general path.
    """
    return 1e-4 <= abs(number) < 1e16 or number == 0.0


def _plain_text(value: Any, *, orjson_too: bool = True) -> str | None:
    """JSON text for a value that passed ``_plain``, or None.

    None when some string needed storable_text: json.dumps escapes NUL as ``\\u0000``
    (a literal backslash-u0000 in the text is a harmless false alarm) and leaves
    lone surrogates in the text, where UTF-8 encoding fails.

    orjson writes it, about ten times faster than the standard encoder and the same
    text (every code point escaped alike, integers and the floats ``_plain`` lets
    through written alike; tests/store/test_codec_fast_path.py compares them). What it
    refuses (a lone surrogate, an integer beyond 64 bits), and a value with a float it
    would spell otherwise (``orjson_too`` False), the standard encoder writes.
    """
    if orjson_too:
        try:
            raw = orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
        else:
            # The one-character search first: it is far faster than the string search,
            # and half the state documents have no backslash at all.
            return None if b"\\" in raw and b"\\u0000" in raw else raw.decode("utf-8")
    text = _encode_plain(value)
    if "\\u0000" in text:
        return None
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return text


def loads(text: str | bytes | None) -> Any:
    """Parse JSON text written by ``dumps_value``; None stays None."""
    if text is None:
        return None
    return _parse(text)


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)`` for any JSON text or body (the same value, the same errors), faster.

    For request and response bodies: what ``json.loads`` refuses raises
    ValueError (or RecursionError, nested too deep) here too. Bytes that are
    not UTF-8 JSON orjson reads (UTF-16, a BOM) are ``json.loads``'s.
    """
    return _parse(text)


def _untagged(text: str | bytes) -> bool:
    """True when no object in the document can be a type tag, so no hook is needed.

    A tag's key is ``"$type"``, and JSON can spell its ``$`` only as ``$`` or as
    ``\\u0024``: a document with neither holds no tag. That is checked first, with
    one-character searches and, only in a document with a backslash, one for
    ``\\u0024`` (a quarter of the time the two searches below take on a state
    document: CPython finds one character far faster than a string). A document
    with a ``$`` passes when it has no ``"$type"`` and no ``\\u`` escape at all
    (which catches an escaped spelling such as ``"$\\u0074ype"``; the encoder
    writes such escapes only for control characters).
    """
    if isinstance(text, str):
        if "$" not in text:
            return "\\" not in text or "\\u0024" not in text
        return TYPE_KEY not in text and "\\u" not in text
    if b"$" not in text:
        return b"\\" not in text or b"\\u0024" not in text
    return TYPE_KEY.encode() not in text and b"\\u" not in text


# 19 digits in a row may be an integer orjson cannot hold exactly (it reads
# one beyond 64 bits as a float); such text, rare here, takes json.loads.
# Found by mapping digits to "0" and all else to " " (1 µs for a state
# document, where a regular expression search takes 8).
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_DIGITS = b"0" * 19


def _parse(text: str | bytes) -> Any:
    """``json.loads(text)``, about three times faster for the documents stored here.

    orjson turns down a few things ``json.loads`` accepts (NaN, lone surrogate
    escapes) and reads integers beyond 64 bits as floats; those documents
    take ``json.loads``.
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _LONG_DIGITS not in raw.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # a ValueError, as json.loads raises for bad JSON
            pass
    return json.loads(text)


def e_tag_of(item: Any) -> Any:
    """Return the ``e_tag`` of a dict or object, or None when it has none."""
    if isinstance(item, Mapping):
        return item.get("e_tag")
    return getattr(item, "e_tag", None)
