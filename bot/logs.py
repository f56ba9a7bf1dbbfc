"""Structured JSON logs: one object per line, carrying the conversation id.

Message bodies are never logged at INFO; anything that looks like a bearer
token or secret is masked before a record is written, whatever its level.

A line is cheap, because the bot writes one per turn (hundreds a second):

- :class:`JsonFormatter` writes plain JSON values (str, int, float, bool,
  None, lists, tuples and dicts with str keys) with ``orjson``; anything else
  (a datetime, an enum, a float NaN, an int beyond 64 bits, a lone surrogate,
  a non-str key…) goes through ``json.dumps(default=str)`` exactly as before.
  Either way a line has the same keys and values; orjson's separators are
  compact (``{"level":"INFO",…}``), so match log lines by parsing them, not
  by their spacing. The timestamp's date and time of day are computed once a
  second.
- :class:`BatchingStreamHandler` (what :func:`configure` installs) writes
  lines in batches of up to 4 KB instead of one write per line: a line reaches
  the stream at most :data:`FLUSH_INTERVAL` after it was logged, WARNING and
  above (and any record with a traceback) at once together with everything
  before it, and whatever is pending on flush, close and at exit (and before
  the traceback of an unhandled exception, in any thread). Only a death that
  skips Python's exit (SIGKILL, a signal nothing handles — the server handles
  SIGINT and SIGTERM —, ``os._exit``, a crash of the interpreter) can lose
  INFO lines: those of the last :data:`FLUSH_INTERVAL`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson

_modf = math.modf

# LogRecord's own attributes: everything else in a record's __dict__ came from
# ``extra`` (or a record factory) and is written as a field of its own.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# How many distinct key lists (roughly: logging call sites) JsonFormatter remembers.
_EXTRAS_CACHED = 256
# JWTs, "Bearer …" values and client secrets must never reach a log line.
_SECRETS = re.compile(
    r"(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"
    r"|((?i:bearer)\s+[A-Za-z0-9._~+/=-]{12,})"
    r"|((?i:client_secret|password|app_password)[\"']?\s*[:=]\s*[\"']?[^\s\"',}]{4,})"
)


# A buffered INFO line reaches the stream at most this many seconds after it was logged.
FLUSH_INTERVAL = 0.1
# Lines are written in batches of at most this many bytes: what a pipe takes in one
# atomic write (PIPE_BUF), so on a shared pipe no other writer's bytes land inside a batch.
BATCH_BYTES = 4096


def mask_secrets(text: str) -> str:
    """Replace tokens and secrets in ``text`` with a marker."""
    # Every match contains "eyj", "bearer", "secret" or "password" (lower-cased).
    # Checking for them first is a tenth of the pattern's cost, and almost no log
    # line contains any (spelt out: twice as fast as any() over a tuple of them).
    # Only for ASCII text: case-insensitive matching of other text also matches
    # look-alikes such as "ſ" for "s", which a lower-cased substring test would miss.
    if text.isascii():
        lowered = text.lower()
        if not ("eyj" in lowered or "bearer" in lowered or "secret" in lowered
                or "password" in lowered):
            return text
    return _SECRETS.sub("[redacted]", text)


def _plain(values: Iterable[Any]) -> bool:
    """Whether orjson writes each of ``values`` exactly as ``json.dumps`` reads it back.

    True for str, bool, None, int, finite floats, and lists, tuples and dicts
    (with str keys) of those, by exact type: subclasses (enums, namedtuples…),
    dataclasses, datetimes and NaN/infinity are written differently by the two
    (or only by json.dumps's ``default=str``). Ints beyond 64 bits and lone
    surrogates pass here, but orjson refuses them.
    """
    for value in values:
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            continue
        if kind is float:
            if value - value != 0.0:  # NaN - NaN and inf - inf are NaN
                return False
        elif kind is list or kind is tuple:
            if not _plain(value):
                return False
        elif kind is dict:
            if not (_plain_keys(value) and _plain(value.values())):
                return False
        else:
            return False
    return True


def _plain_keys(mapping: dict[Any, Any]) -> bool:
    """Whether every key of ``mapping`` is a str (not a subclass: json.dumps and orjson differ)."""
    for key in mapping:
        if type(key) is not str:
            return False
    return True


def _dumps(entry: dict[str, Any]) -> str:
    """``entry`` as compact JSON: by orjson if it can, else by json.dumps as always."""
    try:
        if _plain_keys(entry) and _plain(entry.values()):
            return orjson.dumps(entry).decode()
    except (TypeError, RecursionError):  # a big int, a lone surrogate, nesting too deep
        pass
    return json.dumps(entry, default=str, ensure_ascii=False)


def _iso_timestamp(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class _Timestamps:
    """ISO 8601 timestamps with milliseconds, the date and time of day reused for a second."""

    def __init__(self) -> None:
        """Start with nothing cached."""
        # (whole second, its "YYYY-MM-DDTHH:MM:SS"), replaced at once: threads may share it.
        self._second: tuple[float, str] = (math.nan, "")

    def __call__(self, created: float) -> str:
        """Exactly :func:`_iso_timestamp`'s text for ``created``, a time.time() value."""
        if type(created) is float:
            # datetime.fromtimestamp's own rounding: the fraction to the nearest
            # microsecond, half to even (as round() does); a carry is for _new_second.
            fraction, whole = _modf(created)
            try:
                micros = round(fraction * 1e6)
            except ValueError:  # NaN: datetime raises its usual error
                return _iso_timestamp(created)
            second = self._second
            if whole == second[0] and 0 <= micros < 1_000_000:
                return f"{second[1]}.{micros // 1000:03d}+00:00"
            return self._new_second(created, whole, micros)
        return _iso_timestamp(created)

    def _new_second(self, created: float, whole: float, micros: int) -> str:
        """The timestamp of ``created`` in a second not cached yet, which it caches."""
        if micros >= 1_000_000:
            micros -= 1_000_000
            whole += 1.0
        elif micros < 0:  # before 1970: the fraction was negative
            micros += 1_000_000
            whole -= 1.0
        try:
            prefix = datetime.fromtimestamp(whole, UTC).isoformat(timespec="seconds")[:-6]
        except (OverflowError, ValueError, OSError):  # out of range: datetime's own error
            return _iso_timestamp(created)
        self._second = (whole, prefix)
        return f"{prefix}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    """Format records as JSON with their ``extra`` fields."""

    def __init__(self) -> None:
        """A formatter with its own timestamp and field-name caches."""
        super().__init__()
        self._timestamp = _Timestamps()
        self._extras: dict[tuple[str, ...], tuple[str, ...]] = {}

    def _extra_keys(self, fields: dict[str, Any]) -> tuple[str, ...]:
        """The keys of ``fields`` (a record's ``__dict__``) written as fields, in their order.

        Not LogRecord's own attributes and not private ones. Records from one call
        site have the same keys in the same order: the answer is kept for them
        (a few dozen kinds of records, so the cache is simply emptied when full).
        """
        names = tuple(fields)
        keys = self._extras.get(names)
        if keys is None:
            keys = tuple(key for key in names
                         if key not in _STANDARD and not key.startswith("_"))
            if len(self._extras) >= _EXTRAS_CACHED:
                self._extras.clear()
            self._extras[names] = keys
        return keys

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one JSON line."""
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = record.__dict__
        for key in self._extra_keys(fields):
            entry[key] = fields[key]
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return mask_secrets(_dumps(entry))


# Every live BatchingStreamHandler, to flush before an unhandled exception's traceback
# and to forget inherited lines in a forked child.
_HANDLERS: weakref.WeakSet[BatchingStreamHandler] = weakref.WeakSet()


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes lines in batches, a few syscalls a second instead of one a line.

    Lines wait in a buffer until one of these writes the buffer, in order:

    - a record at ``flush_level`` (WARNING) or above, or one with a traceback;
    - the buffer reaching ``batch_bytes`` (the batch is written before the new line);
    - ``interval`` seconds after the buffer got its first line (a daemon thread,
      started on first use, which sleeps while the buffer is empty);
    - :meth:`flush` and :meth:`close`, which ``logging.shutdown`` calls at exit.

    Everything runs under the handler's lock, which ``Handler.handle`` already
    holds around :meth:`emit`, so worker threads can log through it.
    """

    def __init__(self, stream: Any = None, *, interval: float = FLUSH_INTERVAL,
                 batch_bytes: int = BATCH_BYTES, flush_level: int = logging.WARNING) -> None:
        """Buffer lines for ``stream`` (stderr by default).

        Args:
            stream: a text stream, as for ``logging.StreamHandler``.
            interval: the longest a line waits in the buffer, in seconds.
            batch_bytes: the most bytes written at once (a longer line is written alone).
            flush_level: records at this level or above are written at once.
        """
        super().__init__(stream)
        self.interval = interval
        self.batch_bytes = batch_bytes
        self.flush_level = flush_level
        self._lines: list[str] = []
        self._bytes = 0  # the buffer's size in UTF-8
        self._due = threading.Event()  # set when the buffer gets its first line
        self._stop = threading.Event()  # set by close: the thread ends
        self._closed = False
        self._flusher: threading.Thread | None = None
        self._flusher_pid = 0
        _HANDLERS.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        """Format ``record`` and buffer its line, writing the buffer if the record calls for it."""
        try:
            line = self.format(record) + self.terminator
            # Bytes in UTF-8 (isascii() is a flag check; only other text is encoded).
            size = len(line) if line.isascii() else len(line.encode("utf-8", "surrogatepass"))
            if self._lines and self._bytes + size > self.batch_bytes:
                self._write()
            self._lines.append(line)
            self._bytes += size
            if (record.levelno >= self.flush_level or record.exc_info
                    or self._bytes >= self.batch_bytes or self._closed):
                self._write()
            elif len(self._lines) == 1:
                self._start_clock()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write the buffered lines and flush the stream."""
        with self.lock:  # type: ignore[union-attr]
            if self._lines:
                self._write()
            else:
                super().flush()

    def close(self) -> None:
        """Write the buffered lines and stop the flushing thread; the stream stays open."""
        with self.lock:  # type: ignore[union-attr]
            self._closed = True
            self._stop.set()
            self._due.set()  # wakes the thread, which sees the handler closed and ends
            try:
                if self._lines:
                    self._write()
            finally:
                super().close()

    def _write(self) -> None:
        """Write the buffer to the stream in one call and flush it (the lock is held)."""
        text = "".join(self._lines)
        self._lines.clear()
        self._bytes = 0
        stream = self.stream
        stream.write(text)
        if hasattr(stream, "flush"):
            stream.flush()

    def _start_clock(self) -> None:
        """Have the flushing thread write the buffer in ``interval`` (the lock is held)."""
        if self._flusher_pid != os.getpid():  # first use, or a forked child without the thread
            self._flusher_pid = os.getpid()
            self._flusher = threading.Thread(target=self._flush_periodically, daemon=True,
                                             name="log-flusher")
            self._flusher.start()
        self._due.set()

    def _flush_periodically(self) -> None:
        """The flushing thread: ``interval`` after the buffer gets a line, write it."""
        while not self._closed:
            self._due.wait()
            self._stop.wait(self.interval)  # returns early only on close, which flushes
            with self.lock:  # type: ignore[union-attr]
                self._due.clear()
                if self._closed or not self._lines:
                    continue
                try:
                    self._write()
                except Exception:
                    self.handleError(logging.makeLogRecord({"msg": "buffered log lines"}))

    def _forget_after_fork(self) -> None:
        """In a forked child: drop the parent's pending lines (the parent writes them)."""
        self._lines = []
        self._bytes = 0
        # The parent's thread may have held their internal locks when it forked.
        self._due = threading.Event()
        self._stop = threading.Event()
        if self._closed:
            self._stop.set()


def _forget_after_fork() -> None:
    """After ``os.fork``, in the child: no handler rewrites lines its parent buffered."""
    for handler in list(_HANDLERS):
        handler._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def flush_all() -> None:
    """Write what every :class:`BatchingStreamHandler` has buffered, now."""
    for handler in list(_HANDLERS):
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - flushing before a crash report must not hide it
            pass


_Excepthook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


def _flushing_excepthook(previous: _Excepthook) -> _Excepthook:
    """``previous`` (sys.excepthook), after writing the buffered lines that led to the crash."""
    def hook(kind: type[BaseException], value: BaseException,
             traceback: TracebackType | None) -> Any:
        """Flush the log buffers, then report the exception as before."""
        flush_all()
        return previous(kind, value, traceback)
    hook.flushes_logs = True  # type: ignore[attr-defined]
    return hook


def _flushing_thread_excepthook(previous: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``previous`` (threading.excepthook), after writing the buffered lines."""
    def hook(args: Any) -> Any:
        """Flush the log buffers, then report the thread's exception as before."""
        flush_all()
        return previous(args)
    hook.flushes_logs = True  # type: ignore[attr-defined]
    return hook


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Send every logger's records to ``stream`` (stderr) as JSON lines, written in batches."""
    handler = BatchingStreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    # On the handler too: a library that sets its own logger to DEBUG (bm25s does)
    # must not bring DEBUG records, which may carry message text, into INFO logs.
    handler.setLevel(level)
    root = logging.getLogger()
    replaced = root.handlers[:]
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A handler this replaces writes what it buffered and stops its thread.
    for old in replaced:
        if isinstance(old, BatchingStreamHandler):
            old.close()
    # An unhandled exception's traceback goes straight to stderr: the lines logged
    # before it are written first, so they come before it and are not lost.
    if not getattr(sys.excepthook, "flushes_logs", False):
        sys.excepthook = _flushing_excepthook(sys.excepthook)
    if not getattr(threading.excepthook, "flushes_logs", False):
        threading.excepthook = _flushing_thread_excepthook(threading.excepthook)
    # aiohttp's access log repeats every request, and transitions logs each state
    # callback at INFO (2-3 lines a turn, most of the log's volume and CPU):
    # keep both at WARNING unless debugging.
    quiet = "WARNING" if level != "DEBUG" else "DEBUG"
    logging.getLogger("aiohttp.access").setLevel(quiet)
    logging.getLogger("transitions").setLevel(quiet)
