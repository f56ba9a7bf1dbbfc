"""Structured JSON logs: one object per line, carrying the conversation id, never a secret.

Message bodies are never logged at INFO; anything that looks like a bearer
token or secret is masked before a line is written, whatever its level.

:func:`configure` puts the standard library's queue pair between the code
that logs and stderr, so the event loop never formats or writes a line:

- :class:`LogQueueHandler` (a :class:`logging.handlers.QueueHandler`) is the
  root logger's only handler: logging a record costs the caller a queue put.
- Its listener thread (:class:`BatchingListener`, a
  :class:`logging.handlers.QueueListener`) lets records gather for up to
  :data:`FLUSH_INTERVAL` and hands them to a :class:`LineWriter`, which formats
  each with :class:`JsonFormatter` (python-json-logger) and writes them in
  ``write`` calls of at most :data:`BATCH_BYTES` (a pipe's atomic size, so no
  other writer's bytes land inside a line): a busy bot wakes that thread a few
  times a second, not once per line.

What reaches the stream, and when:

- WARNING and above, and any record with a traceback: the call returns only
  once its line (and every line before it) is written — an error logged just
  before a crash or ``os._exit`` is on disk (the wait is capped at
  :data:`URGENT_WAIT_SECONDS`, so a stuck stderr cannot hang the bot).
- :meth:`LogQueueHandler.flush`, :meth:`~LogQueueHandler.close` and
  ``logging.shutdown`` at exit write everything logged before them; so does
  an unhandled exception, in any thread, before its traceback.
- Only a death that skips Python's exit (SIGKILL, ``os._exit``, a crash of the
  interpreter) can lose INFO lines: those still in the queue.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import re
import sys
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
from typing import Any, TextIO, TypeVar

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

# JWTs, "Bearer …" values and client secrets must never reach a log line.
_SECRETS = re.compile(
    r"(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"
    r"|((?i:bearer)\s+[A-Za-z0-9._~+/=-]{12,})"
    r"|((?i:client_secret|password|app_password)[\"']?\s*[:=]\s*[\"']?[^\s\"',}]{4,})"
)
# Lines are written in batches of at most this many bytes: what a pipe takes in one
# atomic write (PIPE_BUF), so on a shared pipe no other writer's bytes land inside a batch.
BATCH_BYTES = 4096
# An INFO line is written at most this many seconds after it was logged: the writer
# lets lines gather that long, waking twice per batch instead of once per line.
FLUSH_INTERVAL = 0.1
# The longest a WARNING (or an ERROR…) waits for its line to be written.
URGENT_WAIT_SECONDS = 2.0
# A record carrying this attribute (an Event) is waited for: set once its line is written.
_WRITTEN = "_msa_written"
# A record carrying this attribute is a flush request, not a line.
_BARRIER = "_msa_barrier"
# What writes a line orjson refuses: every value as JSON or as its str().
_JSON_FALLBACK = functools.partial(json.dumps, default=str, ensure_ascii=False,
                                   separators=(",", ":"))
# The order of a line's first fields, and their names in it.
_FIELDS = {"asctime": "ts", "levelname": "level", "name": "logger", "message": "msg",
           "exc_info": "exc"}


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


# A field named like this has its value masked whatever the value is.
_SECRET_NAMES = re.compile(r"(?i)client_secret|password|app_password")


def _masked_fields(value: Any) -> Any:
    """``value`` (parsed JSON) with every key and string masked, and secret-named fields hidden."""
    if isinstance(value, dict):
        return {mask_secrets(key): "[redacted]" if _SECRET_NAMES.search(key) and item is not None
                else _masked_fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked_fields(item) for item in value]
    return mask_secrets(value) if isinstance(value, str) else value


class JsonFormatter(OrjsonFormatter):
    """python-json-logger's (orjson) formatter with the bot's field names and secrets masked.

    A line is ``{"ts", "level", "logger", "msg", <extra fields…>, "exc"}``: the
    ISO 8601 UTC time with milliseconds, the level name, the logger, the
    message, every field passed in ``extra`` (private ``_…`` ones and those
    named like the line's own fields excepted), and the traceback when there is
    one. Compact JSON, non-ASCII text as is; values JSON has no type for are
    written the library's way (datetimes in ISO 8601, enums by value, NaN as
    null…), and what orjson refuses (an int beyond 64 bits, a lone surrogate)
    by ``json.dumps`` with ``str()``.
    """

    def __init__(self) -> None:
        """The bot's fields, renamed."""
        # An extra field may not take the name of one of the line's own (a "level" passed
        # in extra must not pass for the record's level): such a field is left out.
        super().__init__(["asctime", "levelname", "name", "message"], rename_fields=_FIELDS,
                         reserved_attrs=[*RESERVED_ATTRS, *_FIELDS.values()])

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        """The line's JSON: orjson's, or json.dumps's for what orjson cannot write."""
        try:
            return super().jsonify_log_record(log_data)
        except (TypeError, RecursionError):  # orjson.JSONEncodeError is a TypeError
            return _JSON_FALLBACK(log_data)

    def formatTime(  # noqa: N802 - logging's name
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        """ISO 8601 in UTC with milliseconds, e.g. ``2024-05-01T12:34:56.012+00:00``."""
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Put the traceback last, after the extra fields, where a reader looks for it."""
        if "exc" in log_data:
            log_data["exc"] = log_data.pop("exc")
        return log_data

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one JSON line, with secrets masked."""
        line = super().format(record)
        masked = mask_secrets(line)
        if masked is line or masked == line:
            return line
        # Masking the written line is cheap and catches a secret wherever it sits, but a
        # match can run across the JSON's own quotes and braces (a field named "password"
        # whose value is null); then the line is masked field by field instead.
        try:
            json.loads(masked)
        except ValueError:
            return _JSON_FALLBACK(_masked_fields(json.loads(line)))
        return masked


class LineWriter(logging.StreamHandler[TextIO]):
    """Formats records and writes their lines in batches (runs on the listener's thread).

    A line waits in the batch only while more records are queued behind it and
    the batch is under :data:`BATCH_BYTES`; a record someone waits for (a
    WARNING, a flush) writes the batch at once.
    """

    def __init__(self, stream: TextIO, pending: Callable[[], bool],
                 batch_bytes: int = BATCH_BYTES) -> None:
        """Write to ``stream``; ``pending()`` tells whether more records are queued."""
        super().__init__(stream)
        self.pending = pending
        self.batch_bytes = batch_bytes
        self._lines: list[str] = []
        self._bytes = 0
        self._waiting: list[threading.Event] = []
        self.thread_id: int | None = None  # the thread writing (the listener's)

    def emit(self, record: logging.LogRecord) -> None:
        """Add the record's line to the batch; write the batch when nothing else is queued."""
        self.thread_id = threading.get_ident()
        try:
            waiter: threading.Event | None = getattr(record, _WRITTEN, None)
            if not getattr(record, _BARRIER, False):
                line = self.format(record) + self.terminator
                # Bytes in UTF-8 (isascii() is a flag check; only other text is encoded).
                size = len(line) if line.isascii() else len(line.encode("utf-8", "surrogatepass"))
                if self._lines and self._bytes + size > self.batch_bytes:
                    self._write()
                self._lines.append(line)
                self._bytes += size
            if waiter is not None:
                self._waiting.append(waiter)
            if waiter is not None or self._bytes >= self.batch_bytes or not self.pending():
                self._write()
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)
            self._release()

    def flush(self) -> None:
        """Write the batch and flush the stream."""
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def close(self) -> None:
        """Write the batch; the stream stays open (it is stderr, or the caller's)."""
        with self.lock:  # type: ignore[union-attr]
            try:
                if self._lines:
                    self._write()
            finally:
                self._release()
                super().close()

    def _write(self) -> None:
        """Write the batch in one call and flush the stream; wake whoever waited for it."""
        try:
            if self._lines:
                text = "".join(self._lines)
                self._lines.clear()
                self._bytes = 0
                self.stream.write(text)
            if hasattr(self.stream, "flush"):
                self.stream.flush()
        finally:
            self._release()

    def _release(self) -> None:
        for waiter in self._waiting:
            waiter.set()
        self._waiting.clear()

    def forget(self) -> None:
        """In a forked child: drop the parent's batch (the parent writes it)."""
        self._lines = []
        self._bytes = 0
        self._waiting = []


class BatchingListener(QueueListener):
    """A QueueListener that lets records gather for ``interval`` before handling them.

    Woken by the first record after a pause, it waits ``interval`` (or until
    :meth:`hurry`: a WARNING, a flush, the stop) and then handles everything
    queued, which the writer writes in one go: two wake-ups per batch instead
    of one per line.
    """

    def __init__(self, records: queue.SimpleQueue[Any], writer: LineWriter,
                 interval: float) -> None:
        """Hand the records of ``records`` to ``writer``, ``interval`` seconds after the first."""
        super().__init__(records, writer, respect_handler_level=True)
        self.records = records
        self.interval = interval
        self._hurry = threading.Event()

    def hurry(self) -> None:
        """Handle what is queued now, without waiting out the interval."""
        self._hurry.set()

    def dequeue(self, block: bool) -> logging.LogRecord:
        """The next record (or the stop sentinel); after a pause, once the interval passed."""
        try:
            record: logging.LogRecord = self.records.get_nowait()
        except queue.Empty:
            record = self.records.get(block)
            self._hurry.wait(self.interval)
            self._hurry.clear()
        return record

    def enqueue_sentinel(self) -> None:
        """Ask the thread to stop, at once."""
        super().enqueue_sentinel()
        self.hurry()


# Every live LogQueueHandler: flushed before an unhandled exception's traceback, and
# given a fresh queue in a forked child.
_HANDLERS: weakref.WeakSet[LogQueueHandler] = weakref.WeakSet()


class LogQueueHandler(QueueHandler):
    """The root logger's handler: records go on a queue; a listener thread writes them.

    The listener starts with the first record (and again in a forked child, whose
    parent's thread did not come along). A record logged on the listener's own
    thread (while a line is being written) is never waited for. Records the
    handler gets once closed are written at once by the caller: nothing logged
    late at exit is lost.
    """

    def __init__(self, stream: TextIO | None = None, *, interval: float = FLUSH_INTERVAL,
                 batch_bytes: int = BATCH_BYTES, urgent_level: int = logging.WARNING,
                 urgent_wait: float = URGENT_WAIT_SECONDS) -> None:
        """Queue records for ``stream`` (stderr by default).

        Args:
            stream: a text stream.
            interval: the longest an INFO line waits before it is written, in seconds.
            batch_bytes: the most bytes written at once (a longer line is written alone).
            urgent_level: records at this level or above are waited for until written.
            urgent_wait: the longest such a wait lasts, in seconds.
        """
        # The writer is made first, so that logging.shutdown (newest handler first)
        # closes this handler, which drains the queue into it, before the writer.
        self.writer = LineWriter(stream if stream is not None else sys.stderr,
                                 self._pending, batch_bytes)
        self.writer.setFormatter(JsonFormatter())
        self.records: queue.SimpleQueue[Any] = queue.SimpleQueue()
        super().__init__(self.records)
        self.urgent_level = urgent_level
        self.urgent_wait = urgent_wait
        self.interval = interval
        self._listener: BatchingListener | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        _HANDLERS.add(self)

    def setFormatter(self, fmt: logging.Formatter | None) -> None:  # noqa: N802 - logging's name
        """Format the lines with ``fmt`` (on the writer's thread; the queue takes records)."""
        self.writer.setFormatter(fmt)

    def setLevel(self, level: int | str) -> None:  # noqa: N802 - logging's name
        """Let records of ``level`` and above through (this handler and its writer)."""
        super().setLevel(level)
        self.writer.setLevel(level)

    def _pending(self) -> bool:
        return not self.records.empty()

    def _running(self) -> bool:
        """Start the listener unless it runs (in this process); False once closed."""
        if self._listener is not None:
            return True
        with self._start_lock:
            if self._listener is None and not self._closed:
                listener = BatchingListener(self.records, self.writer, self.interval)
                listener.start()
                self._listener = listener
        return self._listener is not None

    def _on_writer_thread(self) -> bool:
        return threading.get_ident() == self.writer.thread_id

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record as the writer will format it, with its message fixed now.

        Unlike the standard ``prepare``, nothing is formatted here (the writer's
        thread does that) and the record is not copied: it never leaves the
        process. Only the message is merged, so later changes to its arguments
        do not show.
        """
        record.msg = record.getMessage()
        record.args = None
        return record

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record; a WARNING or a traceback waits until its line is written."""
        if not self._running():
            self._write_now(record)
            return
        waiter = None
        if (record.levelno >= self.urgent_level or record.exc_info) \
                and not self._on_writer_thread():
            waiter = threading.Event()
            setattr(record, _WRITTEN, waiter)
        super().emit(record)
        if waiter is not None:
            self._hurry()
            waiter.wait(self.urgent_wait)

    def _hurry(self) -> None:
        listener = self._listener
        if listener is not None:
            listener.hurry()

    def _write_now(self, record: logging.LogRecord) -> None:
        try:
            self.writer.handle(self.prepare(record))
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)

    def flush(self) -> None:
        """Return once every record queued before this call is written."""
        if self._listener is None or self._on_writer_thread():
            self.writer.flush()
            return
        barrier = logging.makeLogRecord({"levelno": logging.CRITICAL, "msg": "flush"})
        done = threading.Event()
        setattr(barrier, _BARRIER, True)
        setattr(barrier, _WRITTEN, done)
        self.enqueue(barrier)
        self._hurry()
        done.wait(self.urgent_wait)

    def close(self) -> None:
        """Write everything queued, stop the listener and close the writer."""
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()  # handles every record queued before it returns
        self.writer.close()
        super().close()

    def _after_fork(self) -> None:
        """In a forked child: a new queue and no listener yet; the parent's lines are its own."""
        self.records = queue.SimpleQueue()
        self.queue = self.records
        self._listener = None
        self._start_lock = threading.Lock()
        self.writer.forget()


def _after_fork_in_child() -> None:
    for handler in list(_HANDLERS):
        handler._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def flush_all() -> None:
    """Write what every :class:`LogQueueHandler` has queued, now."""
    for handler in list(_HANDLERS):
        # Flushing before a crash report must never hide the report.
        with contextlib.suppress(Exception):
            handler.flush()


_Hook = TypeVar("_Hook", bound=Callable[..., Any])


def _flushing(previous: _Hook) -> _Hook:
    """``previous`` (sys.excepthook or threading.excepthook), after writing the queued lines."""
    def hook(*args: Any) -> Any:
        """Flush the log queues, then report the exception as before."""
        flush_all()
        return previous(*args)
    hook.flushes_logs = True  # type: ignore[attr-defined]
    return hook  # type: ignore[return-value]


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every logger's records to ``stream`` (stderr) as JSON lines, off the caller's thread."""
    handler = LogQueueHandler(stream)
    # A line holds none of the caller's file, line, thread or process: skip working them
    # out for every record (the logging HOWTO's "Optimization"): measured, 40 % of what a
    # record costs the thread that logs it, the event loop.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # On the handler too: a library that sets its own logger to DEBUG (bm25s does)
    # must not bring DEBUG records, which may carry message text, into INFO logs.
    handler.setLevel(level)
    root = logging.getLogger()
    replaced = root.handlers[:]
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A handler this replaces writes what it queued and stops its thread.
    for old in replaced:
        if isinstance(old, LogQueueHandler):
            old.close()
    # An unhandled exception's traceback goes straight to stderr: the lines logged
    # before it are written first, so they come before it and are not lost.
    if not getattr(sys.excepthook, "flushes_logs", False):
        sys.excepthook = _flushing(sys.excepthook)
    if not getattr(threading.excepthook, "flushes_logs", False):
        threading.excepthook = _flushing(threading.excepthook)
    # aiohttp's access log repeats every request, and transitions logs each state
    # callback at INFO (2-3 lines a turn, most of the log's volume and CPU):
    # keep both at WARNING unless debugging.
    quiet = "WARNING" if level != "DEBUG" else "DEBUG"
    logging.getLogger("aiohttp.access").setLevel(quiet)
    logging.getLogger("transitions").setLevel(quiet)
