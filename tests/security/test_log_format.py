"""JsonFormatter's fast path (orjson, cached timestamps) writes what json.dumps always wrote.

The reference below is the formatter as it was before orjson: for any record —
extra fields of every kind, exceptions, secrets, non-ASCII text — the new line
has the same keys, in the same order, with the same values, and every secret
is masked. Lines orjson cannot write alike (NaN, enums, datetimes, big ints,
lone surrogates, non-str keys…) are byte for byte the reference's.
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

from bot.logs import _STANDARD, JsonFormatter, _iso_timestamp, _Timestamps, mask_secrets

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ"
BEARER = "Bearer abcdefghijklmnopqrstuvwxyz012345"
PASSWORD = "hunter2hunter2"
SECRETS = [JWT, BEARER, f"password={PASSWORD}", f"client_secret: '{PASSWORD}'",
           f'app_password="{PASSWORD}"']


def reference_format(record: logging.LogRecord) -> str:
    """The formatter before orjson, verbatim: datetime, vars(record), json.dumps(default=str)."""
    entry: dict[str, Any] = {
        "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
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


class Mode(str, enum.Enum):
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
     "NaN", "null", "turn", "asking_mailbox_type"] + SECRETS)
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


def same_line(new: str, old: str) -> None:
    """Assert that two lines carry the same keys, in order, with the same values."""
    if new == old:
        return
    try:
        old_entry = json.loads(old)
    except ValueError:
        # Masking a secret can cut a line's JSON (it did before too): then only the
        # number of redactions can be compared, and the new line must not parse either.
        assert new.count("[redacted]") == old.count("[redacted]") > 0, (new, old)
        return
    new_entry = json.loads(new)
    assert list(new_entry) == list(old_entry), (new, old)
    assert new_entry == old_entry, (new, old)


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
def test_the_new_formatter_writes_what_the_old_one_wrote(
    msg: Any, args: tuple[Any, ...], extra: dict[str, Any], created: float, level: int,
    error: str | None,
) -> None:
    record = make_record(msg, args, extra, created, level, error)
    try:
        old = reference_format(record)
    except (TypeError, ValueError, RecursionError) as exc:
        # The old formatter refused the record (e.g. keys json.dumps cannot write, or
        # % arguments that do not match): the new one refuses it the same way.
        try:
            JsonFormatter().format(record)
        except type(exc):
            return
        raise AssertionError("the new formatter wrote a record the old one refused") from exc
    new = JsonFormatter().format(record)
    assert "\n" not in new, "one record, one line"
    same_line(new, old)
    for secret in (JWT, BEARER, PASSWORD):
        assert (secret in new) == (secret in old), secret


def test_a_turn_line_is_compact_json_with_the_fields_in_order() -> None:
    record = make_record("turn", (), {"conversation_id": "a:1", "state": "done",
                                      "events": ["diagnosed:no_license"]},
                         1714566896.0125, logging.INFO, None)
    assert JsonFormatter().format(record) == (
        '{"ts":"2024-05-01T12:34:56.012+00:00","level":"INFO","logger":"bot.handler",'
        '"msg":"turn","conversation_id":"a:1","state":"done","events":["diagnosed:no_license"]}')


def test_lines_orjson_would_write_differently_are_the_old_lines_byte_for_byte() -> None:
    for value in [Colour.RED, Point(), dt.datetime(2024, 5, 1, 12, 30), Pair(1, 2),
                  float("nan"), [1.0, float("inf")], 2**64, "\ud800", {1: "a", "1": "b"},
                  Tag("t"), Count(3), Bag(b=2)]:
        record = make_record("turn", (), {"value": value}, 1714566896.25, logging.INFO, None)
        assert JsonFormatter().format(record) == reference_format(record), value


def test_secrets_are_masked_in_messages_fields_and_tracebacks() -> None:
    record = make_record("token %s", (JWT,), {"auth": BEARER, "config": {"password": PASSWORD}},
                         1714566896.25, logging.ERROR, f"client_secret={PASSWORD}")
    line = JsonFormatter().format(record)
    for secret in (JWT, BEARER, PASSWORD):
        assert secret not in line
    assert line.count("[redacted]") == reference_format(record).count("[redacted]") == 4


@settings(max_examples=3000, deadline=None)
@given(st.lists(CREATED | st.floats(-1e10, 1e11) | st.floats(allow_nan=True), min_size=1,
                max_size=8))
def test_cached_timestamps_are_the_datetime_ones(times: list[float]) -> None:
    """One cache across several times, as in a running bot: every text is datetime's."""
    timestamps = _Timestamps()
    for created in times + sorted(times) + times:
        try:
            expected = _iso_timestamp(created)
        except (ValueError, OverflowError, OSError) as exc:
            try:
                timestamps(created)
            except type(exc):
                continue
            raise AssertionError(f"no error for {created!r}") from exc
        assert timestamps(created) == expected, created


def test_timestamps_at_the_edge_of_a_second_carry_like_datetime() -> None:
    timestamps = _Timestamps()
    second = 1714566896.0
    for created in [second + 0.9999995, second + 0.9999994, second + 1.0, second + 0.0004995,
                    second + 0.9995, second, math.nextafter(second + 1.0, 0.0), -1.5, -0.0000004,
                    0.0]:
        assert timestamps(created) == _iso_timestamp(created), created
