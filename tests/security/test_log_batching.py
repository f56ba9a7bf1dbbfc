"""LogQueueHandler: lines written off the caller's thread, in batches; WARNING at once; none lost.

The handler :func:`bot.logs.configure` installs queues records; its listener
thread formats them and writes them in batches of at most 4 KB. These tests
hold it to its promises with real files and real processes: the thread that
logs never writes; a queued line reaches the stream within the interval, or
when the handler is flushed, closed or shut down with logging; WARNING, ERROR
and records with a traceback are written before the call returns, with
everything before them (and a stuck stream holds the caller only so long);
lines logged before an unhandled exception come before its traceback; threads
logging together lose and mix up no line.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest

from bot.logs import BATCH_BYTES, JsonFormatter, LogQueueHandler, configure

REPO = Path(__file__).resolve().parents[2]


class CountingFile:
    """A real, line-buffered text file that counts the write calls it gets."""

    def __init__(self, path: Path) -> None:
        """Open ``path`` for writing, as stderr is: line-buffered UTF-8 text."""
        self.file: TextIO = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.writes: list[str] = []
        self.writers: set[int] = set()  # the threads that wrote
        self.hold: threading.Event | None = None  # when set: writes wait for it

    def write(self, text: str) -> int:
        """Write ``text`` and remember it as one write (first waiting for ``hold``)."""
        if self.hold is not None:
            self.hold.wait()
        self.writers.add(threading.get_ident())
        self.writes.append(text)
        return self.file.write(text)

    def flush(self) -> None:
        """Flush the file."""
        self.file.flush()

    def close(self) -> None:
        """Close the file."""
        self.file.close()


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[CountingFile]:
    """A counting file in the test's folder, closed afterwards."""
    stream = CountingFile(tmp_path / "bot.log")
    yield stream
    stream.close()


@pytest.fixture
def logger(log_file: CountingFile) -> Iterator[logging.Logger]:
    """A logger of its own, which does not pass records to the root logger's handlers.

    Its handlers are closed (and flushed) before ``log_file`` is.
    """
    log = logging.getLogger(f"test.batching.{id(object())}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in log.handlers[:]:
        log.removeHandler(handler)
        handler.close()


def attach(logger: logging.Logger, stream: Any, **options: Any) -> LogQueueHandler:
    """A queueing JSON handler for ``stream`` on ``logger``."""
    handler = LogQueueHandler(stream, **options)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    return handler


def lines(stream: CountingFile) -> list[dict[str, Any]]:
    """The JSON lines written to ``stream`` so far."""
    return [json.loads(line) for line in "".join(stream.writes).splitlines()]


def test_info_lines_wait_until_the_handler_is_flushed(
    logger: logging.Logger, log_file: CountingFile
) -> None:
    handler = attach(logger, log_file, interval=60)
    for n in range(5):
        logger.info("turn", extra={"n": n})
    assert log_file.writes == [], "INFO lines are buffered"
    handler.flush()
    assert [line["n"] for line in lines(log_file)] == [0, 1, 2, 3, 4]
    assert len(log_file.writes) == 1, "the five lines are one write"


def test_the_thread_that_logs_never_writes(
    logger: logging.Logger, log_file: CountingFile
) -> None:
    """The event loop only puts records on a queue: formatting and writing are the listener's."""
    handler = attach(logger, log_file, interval=0.01)
    for n in range(50):
        logger.info("turn", extra={"n": n})
    logger.warning("trouble")  # waited for, but written by the listener too
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.error("failed", exc_info=True)
    handler.flush()
    assert len(lines(log_file)) == 52
    assert log_file.writers and threading.get_ident() not in log_file.writers


def test_a_stuck_stream_holds_a_warning_only_so_long(
    logger: logging.Logger, log_file: CountingFile
) -> None:
    handler = attach(logger, log_file, interval=60, urgent_wait=0.2)
    log_file.hold = threading.Event()
    started = time.monotonic()
    logger.error("stderr is blocked")
    waited = time.monotonic() - started
    assert 0.15 < waited < 5, waited
    log_file.hold.set()  # the stream frees up: the line still arrives
    handler.flush()
    assert [line["msg"] for line in lines(log_file)] == ["stderr is blocked"]


def test_the_lines_are_formatted_by_python_json_logger() -> None:
    from pythonjsonlogger.core import BaseJsonFormatter

    assert isinstance(JsonFormatter(), BaseJsonFormatter)


def test_info_lines_reach_the_file_within_the_interval(
    logger: logging.Logger, log_file: CountingFile, tmp_path: Path
) -> None:
    attach(logger, log_file, interval=0.05)
    for round_number in range(3):  # the thread sleeps while idle and wakes for each batch
        started = time.monotonic()
        logger.info("turn", extra={"round": round_number})
        while not (tmp_path / "bot.log").read_text().count("\n") > round_number:
            assert time.monotonic() - started < 5, "the INFO line never reached the file"
            time.sleep(0.005)
        assert time.monotonic() - started >= 0.05 * 0.9, "the line was not batched"
    assert [line["round"] for line in lines(log_file)] == [0, 1, 2]


@pytest.mark.parametrize("level", [logging.WARNING, logging.ERROR, logging.CRITICAL])
def test_warnings_and_errors_are_written_at_once_after_the_lines_before_them(
    logger: logging.Logger, log_file: CountingFile, tmp_path: Path, level: int
) -> None:
    attach(logger, log_file, interval=60)
    logger.info("before")
    logger.log(level, "trouble")
    on_disk = [json.loads(line) for line in (tmp_path / "bot.log").read_text().splitlines()]
    assert [(line["msg"], line["level"]) for line in on_disk] == [
        ("before", "INFO"), ("trouble", logging.getLevelName(level))]


def test_a_record_with_a_traceback_is_written_at_once_whatever_its_level(
    logger: logging.Logger, log_file: CountingFile
) -> None:
    attach(logger, log_file, interval=60)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.info("recovered", exc_info=True)
    [line] = lines(log_file)
    assert "RuntimeError: boom" in line["exc"]


def test_close_and_logging_shutdown_write_what_is_buffered(
    logger: logging.Logger, log_file: CountingFile
) -> None:
    handler = attach(logger, log_file, interval=60)
    logger.info("one")
    handler.close()
    assert [line["msg"] for line in lines(log_file)] == ["one"]
    logger.info("after close")  # still attached: written at once, not lost
    assert [line["msg"] for line in lines(log_file)] == ["one", "after close"]

    other = attach(logger, log_file, interval=60)
    logger.removeHandler(handler)
    logger.info("two")
    logging.shutdown([weakref.ref(other)])  # what atexit runs
    assert [line["msg"] for line in lines(log_file)] == ["one", "after close", "two"]


def test_batches_stay_under_the_pipe_atomic_size(
    logger: logging.Logger, log_file: CountingFile
) -> None:
    handler = attach(logger, log_file, interval=60)
    for n in range(400):
        logger.info("turn", extra={"n": n, "text": "é" * (n % 7), "state": "asking_mfa"})
    logger.info("long", extra={"blob": "x" * (2 * BATCH_BYTES)})
    handler.flush()
    assert [line["n"] for line in lines(log_file)[:-1]] == list(range(400))
    assert lines(log_file)[-1]["blob"] == "x" * (2 * BATCH_BYTES)
    batches = log_file.writes[:-1]
    assert all(len(batch.encode()) <= BATCH_BYTES and batch.endswith("\n") for batch in batches)
    total = sum(len(batch.encode()) for batch in batches)
    assert len(batches) <= 2 * total // BATCH_BYTES + 2, "lines are written in full batches"
    assert log_file.writes[-1].endswith('"}\n'), "a line longer than a batch is written whole"


def test_threads_logging_together_lose_and_mix_up_no_line(
    logger: logging.Logger, log_file: CountingFile
) -> None:
    handler = attach(logger, log_file, interval=0.002, batch_bytes=1024)

    def work(worker: int) -> None:
        for n in range(300):
            logger.log(logging.WARNING if n % 97 == 0 else logging.INFO, "turn",
                       extra={"worker": worker, "n": n})

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.close()
    written = lines(log_file)
    assert len(written) == 6 * 300
    for worker in range(6):
        assert [line["n"] for line in written if line["worker"] == worker] == list(range(300))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_write_its_parents_buffered_lines(
    logger: logging.Logger, log_file: CountingFile, tmp_path: Path
) -> None:
    handler = attach(logger, log_file, interval=60)
    logger.info("parent")
    pid = os.fork()
    if pid == 0:  # the child
        try:
            handler.flush()
            logger.warning("child")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    handler.flush()
    written = [json.loads(line)["msg"] for line in (tmp_path / "bot.log").read_text().splitlines()]
    assert sorted(written) == ["child", "parent"]


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger and the exception hooks back as they were after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks


@pytest.mark.usefixtures("root_logging")
def test_configure_installs_a_batching_json_handler_and_closes_the_one_it_replaces(
    log_file: CountingFile, tmp_path: Path
) -> None:
    configure("INFO", log_file)
    first = logging.getLogger().handlers[0]
    assert isinstance(first, LogQueueHandler) and first.level == logging.INFO
    logging.getLogger("bot.handler").info("turn", extra={"conversation_id": "a:1"})
    logging.getLogger("bot.handler").debug("not at INFO")
    logging.getLogger("aiohttp.access").info("GET /healthz")
    other = CountingFile(tmp_path / "other.log")
    try:
        configure("DEBUG", other)  # the first handler writes its buffered line on the way out
        assert [(line["msg"], line["conversation_id"]) for line in lines(log_file)] == [
            ("turn", "a:1")]
        logging.getLogger("bot.handler").debug("at DEBUG")
        logging.getLogger().handlers[0].flush()
        assert [line["msg"] for line in lines(other)] == ["at DEBUG"]
    finally:
        logging.getLogger().handlers[0].close()
        other.close()


SCRIPT = """
import logging, sys, threading
sys.path.insert(0, {repo!r})
from bot.logs import configure
configure("INFO")
log = logging.getLogger("bot.handler")
for n in range(3):
    log.info("turn", extra={{"n": n}})
{ending}
"""


def run_script(ending: str) -> tuple[int, str]:
    """Run a small program that logs three INFO lines to stderr, then ``ending``."""
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(repo=str(REPO), ending=ending)],
                          capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stderr


@pytest.mark.parametrize("ending", ["pass", "sys.exit(3)", "log.info('last')"])
def test_a_clean_exit_writes_every_line(ending: str) -> None:
    _, stderr = run_script(ending)
    msgs = [json.loads(line)["msg"] for line in stderr.splitlines()]
    assert msgs[:3] == ["turn"] * 3 and len(msgs) == 3 + (ending == "log.info('last')")


def test_lines_logged_before_an_unhandled_exception_come_before_its_traceback() -> None:
    code, stderr = run_script("raise RuntimeError('crash')")
    assert code == 1
    head, _, traceback = stderr.partition("Traceback (most recent call last):")
    assert [json.loads(line)["n"] for line in head.splitlines()] == [0, 1, 2]
    assert "RuntimeError: crash" in traceback


def test_lines_logged_before_a_thread_dies_come_before_its_traceback() -> None:
    code, stderr = run_script(
        "def work():\n"
        "    log.info('in thread')\n"
        "    raise RuntimeError('thread crash')\n"
        "thread = threading.Thread(target=work)\n"
        "thread.start(); thread.join()\n"
        "log.error('after')\n")
    assert code == 0
    head, _, rest = stderr.partition("Exception in thread")
    assert [json.loads(line)["msg"] for line in head.splitlines()] == ["turn"] * 3 + ["in thread"]
    assert "RuntimeError: thread crash" in rest
    assert json.loads(rest.strip().splitlines()[-1])["msg"] == "after"


def test_an_error_logged_just_before_a_hard_exit_is_on_disk() -> None:
    """os._exit skips atexit: the ERROR line (and the INFO lines before it) are there anyway."""
    _, stderr = run_script("log.error('fatal')\nimport os\nos._exit(1)")
    assert [json.loads(line)["msg"] for line in stderr.splitlines()] == ["turn"] * 3 + ["fatal"]
