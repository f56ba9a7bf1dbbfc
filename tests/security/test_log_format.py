"""JsonFormatter (python-json-logger) writes the fields the old hand-written formatter wrote.

The reference below is the bot's formatter before python-json-logger: for any
record — extra fields of every kind, exceptions, secrets, non-ASCII text —
the new line is one line of JSON with the same fields in the same order
(``ts``, ``level``, ``logger``, ``msg``, the extra fields, ``exc``), the same
values wherever the value is plain JSON, and never a secret the old one
masked. Values JSON has no type for are written the library's way (an enum
by its value, a datetime in ISO 8601…), which the old one wrote as ``str()``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import logging
import math
import uuid
from collections import namedtuple
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.logs import JsonFormatter, mask_secrets

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ"
BEARER = "Bearer abcdefghijklmnopqrstuvwxyz012345"
PASSWORD = "hunter2hunter2"
SECRETS = [JWT, BEARER, f"password={PASSWORD}", f"client_secret: '{PASSWORD}'",
           f'app_password="{PASSWORD}"']
# LogRecord's own attributes, and the names of the line's own fields.
STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
OWN_FIELDS = ("ts", "level", "logger", "msg", "exc")


def reference_format(record: logging.LogRecord) -> str:
    """The formatter before python-json-logger, in substance: json.dumps(default=str)."""
    entry: dict[str, Any] = {
        "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in STANDARD and not key.startswith("_") and key not in OWN_FIELDS:
            entry[key] = value
    if record.exc_info:
        entry["exc"] = logging.Formatter().formatException(record.exc_info)
    return mask_secrets(json.dumps(entry, default=str, ensure_ascii=False))


class Colour(enum.Enum):
    """A plain enum: json.dumps writes str() of it, orjson its value."""

    RED = 1


class Level(enum.IntEnum):
    """An int enum."""

    HIGH = 3


class Mode(str, enum.Enum):  # noqa: UP042 - the str mix-in on purpose: str() differs from StrEnum
    """A str enum."""

    FAST = "fast"


class Tag(str):
    """A str subclass."""


class Count(int):
    """An int subclass."""


class Bag(dict):  # type: ignore[type-arg]
    """A dict subclass."""


@dataclasses.dataclass
class Point:
    """A dataclass: orjson would write it as an object, json.dumps as str()."""

    x: int = 1
    y: str = "Bearer abcdefghijklmnopqrstuvwxyz"


Pair = namedtuple("Pair", "a b")

# Text with non-ASCII letters, look-alikes of ASCII ones (ſ, ı, K), control
# characters and, sometimes, lone surrogates.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "ſ", "paſſword=hunter2hunter2", "Ünïcödé ✓ 日本語", "\u2028\x00\x7f\t\n\"\\", "\ud800",
     "NaN", "null", "turn", "asking_mailbox_type", *SECRETS])
KEYS = TEXT | st.sampled_from(["password", "client_secret", "ts", "level", "logger", "exc",
                               "conversation_id", "state", "events", "_private", ""])
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | TEXT)
ODD = st.sampled_from([
    Colour.RED, Level.HIGH, Mode.FAST, Tag("tag"), Count(7), Bag(a=1), Point(), Pair(1, "x"),
    dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC), dt.date(2024, 5, 1), dt.time(12, 30),
    uuid.UUID("12345678-1234-5678-1234-567812345678"), decimal.Decimal("1.10"), b"bytes",
    {1, 2}, frozenset(), 2**64, -(2**63) - 1, 2**63, float("nan"), float("-inf"), object,
    {1: "int key"}, {None: 1, True: 2, 1.5: 3}, {Tag("k"): 1}, (1, [2, (3,)]),
])
VALUES = st.recursive(
    SCALARS | ODD,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
EXTRAS = st.dictionaries(KEYS.filter(lambda key: key not in RESERVED), VALUES, max_size=5)
# Times around now, and the edges of a second and of a millisecond.
CREATED = (st.floats(946684800.0, 4102444800.0)
           | st.integers(946684800, 4102444800).flatmap(lambda second: st.sampled_from(
               [second + 0.9999995, second + 0.9999994999, second + 0.0005, second + 0.0004999,
                second + 0.123456, second - 0.0000005, float(second)])))


def boom(message: str) -> BaseException:
    """An exception raised and caught, so that it has a traceback."""
    try:
        raise ValueError(message)
    except ValueError as exc:
        return exc


def make_record(msg: Any, args: tuple[Any, ...], extra: dict[str, Any], created: float,
                level: int, error: str | None) -> logging.LogRecord:
    """A record as logging makes it for ``logger.log(level, msg, *args, extra=extra)``."""
    logger = logging.getLogger("bot.handler")
    exc_info = None
    if error is not None:
        exc = boom(error)
        exc_info = (type(exc), exc, exc.__traceback__)
    record = logger.makeRecord(logger.name, level, __file__, 1, msg, args, exc_info,
                               extra=extra)
    record.created = created
    return record


def plain(value: Any) -> bool:
    """Whether ``value`` is plain JSON that both formatters write alike."""
    kind = type(value)
    if value is None or kind in (str, bool):
        return kind is not str or not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if kind is int:
        return -(2**63) <= value < 2**64
    if kind is float:
        return math.isfinite(value)
    if kind in (list, tuple):
        return all(plain(v) for v in value)
    if kind is dict:
        return all(type(k) is str and plain(v) for k, v in value.items())
    return False


@settings(max_examples=1500, deadline=None)
@given(msg=TEXT | st.sampled_from(["turn", "user said %s", "%s and %r", "x" * 300]),
       args=st.lists(VALUES, max_size=2).map(tuple), extra=EXTRAS, created=CREATED,
       level=st.sampled_from([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]),
       error=st.none() | TEXT)
@example(msg="turn", args=(), created=1714566896.9999996, level=logging.INFO, error=None,
         extra={"conversation_id": "a:1Xb2c3-19:meeting_abc@thread.v2",
                "state": "asking_mailbox_type", "events": ["answered:mailbox"]})
@example(msg="token %s", args=(JWT,), created=1714566896.5, level=logging.ERROR,
         error=f"auth failed: {BEARER}", extra={"password": PASSWORD, "nan": float("nan")})
@example(msg="turn", args=(), created=1714566896.5, level=logging.INFO, error="boom",
         extra={"level": "CRITICAL", "exc": "none", "ts": 0, "state": "done"})
def test_the_new_formatter_writes_the_fields_the_old_one_wrote(
    msg: Any, args: tuple[Any, ...], extra: dict[str, Any], created: float, level: int,
    error: str | None,
) -> None:
    record = make_record(msg, args, extra, created, level, error)
    try:
        old = reference_format(record)
    except (TypeError, ValueError, RecursionError) as exc:
        # % arguments that do not match the message: both refuse the record.
        if isinstance(exc, TypeError) and "not all arguments converted" not in str(exc) \
                and "format" not in str(exc):
            raise
        try:
            JsonFormatter().format(record)
        except (TypeError, ValueError):
            return
        raise AssertionError("the new formatter wrote a record the old one refused") from exc
    new = JsonFormatter().format(record)
    assert "\n" not in new, "one record, one line"
    for secret in (JWT, BEARER, PASSWORD):
        assert not (secret in new and secret not in old), f"{secret} reached the line"
    try:
        old_entry = json.loads(old)
    except ValueError:
        # Masking a secret could cut the old formatter's JSON; the new one then masks the
        # line field by field, so its line stays JSON.
        assert "[redacted]" in old
        json.loads(new)
        return
    if "[redacted]" in new and "[redacted]" not in old:
        return  # a value the library writes differently now holds a masked secret
    new_entry = json.loads(new)
    assert list(new_entry) == list(old_entry), (new, old)
    for key, value in old_entry.items():
        if key in OWN_FIELDS or (key in extra and plain(extra[key])):
            assert new_entry[key] == value, (key, new, old)


def test_a_turn_line_is_compact_json_with_the_fields_in_order() -> None:
    record = make_record("turn", (), {"conversation_id": "a:1", "state": "done",
                                      "events": ["diagnosed:no_license"]},
                         1714566896.0125, logging.INFO, None)
    assert JsonFormatter().format(record) == (
        '{"ts":"2024-05-01T12:34:56.012+00:00","level":"INFO","logger":"bot.handler",'
        '"msg":"turn","conversation_id":"a:1","state":"done","events":["diagnosed:no_license"]}')


def test_values_json_has_no_type_for_are_written_the_library_way() -> None:
    expected = {
        "enum": 1, "datetime": "2024-05-01T12:30:00", "date": "2024-05-01",
        "nan": None, "big": 2**64, "surrogate": "\ud800", "int_key": {"1": "a"},
        "point": {"x": 1, "y": "[redacted]"},
    }
    values = {"enum": Colour.RED, "datetime": dt.datetime(2024, 5, 1, 12, 30),
              "date": dt.date(2024, 5, 1), "nan": float("nan"), "big": 2**64,
              "surrogate": "\ud800", "int_key": {1: "a"}, "point": Point()}
    for key, value in values.items():
        record = make_record("turn", (), {key: value}, 1714566896.25, logging.INFO, None)
        line = JsonFormatter().format(record)
        assert "\n" not in line
        entry = json.loads(line)
        assert list(entry) == ["ts", "level", "logger", "msg", key], line
        if key == "point":  # a dataclass holding a bearer token: written as an object, masked
            assert "abcdefghijklmnopqrstuvwxyz" not in line
            continue
        assert entry[key] == expected[key], (key, line)


def test_an_extra_field_cannot_pass_for_one_of_the_lines_own() -> None:
    record = make_record("turn", (), {"level": "CRITICAL", "logger": "root",
                                      "ts": "1970", "exc": "none", "state": "done"},
                         1714566896.25, logging.INFO, "boom")
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "INFO" and entry["logger"] == "bot.handler"
    assert entry["msg"] == "turn" and entry["ts"].startswith("2024-05-01T")
    assert "ValueError: boom" in entry["exc"] and entry["state"] == "done"
    assert list(entry) == ["ts", "level", "logger", "msg", "state", "exc"]


def test_secrets_are_masked_in_messages_fields_and_tracebacks() -> None:
    record = make_record("token %s", (JWT,), {"auth": BEARER, "config": {"password": PASSWORD}},
                         1714566896.25, logging.ERROR, f"client_secret={PASSWORD}")
    line = JsonFormatter().format(record)
    for secret in (JWT, BEARER, PASSWORD):
        assert secret not in line
    assert line.count("[redacted]") == reference_format(record).count("[redacted]") == 4


def test_timestamps_are_utc_with_milliseconds_like_datetime() -> None:
    second = 1714566896.0
    for created in [second + 0.9999995, second + 0.9999994, second + 1.0, second + 0.0004995,
                    second + 0.9995, second, math.nextafter(second + 1.0, 0.0), -1.5,
                    -0.0000004, 0.0]:
        record = make_record("turn", (), {}, created, logging.INFO, None)
        assert json.loads(JsonFormatter().format(record))["ts"] == dt.datetime.fromtimestamp(
            created, dt.UTC).isoformat(timespec="milliseconds"), created


def test_a_secret_named_field_never_breaks_the_json_of_its_line() -> None:
    # Found by Hypothesis: masking the written line ate `"PASSWORD":NaN}` (a field named
    # "password" with a null value) with the line's closing quote and brace.
    record = make_record("msg", (), {"paſſword=hunter2hunter2": None, "PASSWORD": float("nan"),
                                     "config": {"password": PASSWORD}},
                         1714566896.25, logging.INFO, None)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert PASSWORD not in line and "hunter2hunter2" not in line
    assert entry["msg"] == "msg" and entry["config"] == {"password": "[redacted]"}
