"""CPU per turn of the two things every turn does besides its work: metrics and its log line.

``make bench`` measures whole turns; this isolates the observability part so a
change to ``bot/metrics.py`` or ``bot/logs.py`` can be compared before and
after on one machine:

* **metrics**: what :func:`bot.http.messages` and the audit recorder do per
  turn: ``msa_turns_total`` +1, one ``msa_turn_seconds`` observation, one
  ``msa_diagnoses_total`` +1; then one ``/metrics`` rendering per 1,000 turns.
* **log line**: the handler's INFO ``turn`` line with its extra fields, through
  :func:`bot.logs.configure` into a real file. The calling thread's CPU
  (``time.thread_time``: what the event loop pays) and the whole process's
  (``time.process_time``: including any writer thread), per line; back to
  back, and one line every 0.5 ms (the caller sleeping in between, as a busy
  server's loop waits for requests).

    .venv/bin/python -m bench.micro [--turns 50000] [--logs path/to/other/logs.py]

``--logs`` measures another version of ``bot/logs.py`` (for example the one
before a change, from ``git show <commit>:bot/logs.py``) in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.logs import configure
from bot.metrics import bot_metrics

ROUNDS = 5


def _best(measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """The median of :data:`ROUNDS` runs of ``measure`` (thread CPU, process CPU)."""
    runs = [measure() for _ in range(ROUNDS)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))


def metrics_cost(turns: int) -> tuple[float, float]:
    """Microseconds of CPU per turn for the metrics (thread, process)."""
    registry = bot_metrics()

    def measure() -> tuple[float, float]:
        thread, process = time.thread_time(), time.process_time()
        for n in range(turns):
            registry.inc("msa_turns_total", type="message")
            registry.observe("msa_turn_seconds", 0.0123)
            registry.inc("msa_diagnoses_total", cause="mfa_required")
            if n % 1000 == 0:
                registry.render()
        return ((time.thread_time() - thread) / turns * 1e6,
                (time.process_time() - process) / turns * 1e6)

    return _best(measure)


def _sleeping(turns: int, pace: float) -> tuple[float, float]:
    """CPU seconds (thread, process) of ``turns`` sleeps of ``pace`` alone."""
    thread, process = time.thread_time(), time.process_time()
    for _ in range(turns):
        time.sleep(pace)
    return time.thread_time() - thread, time.process_time() - process


def log_cost(turns: int, folder: Path, pace: float = 0.0,
             configure: Callable[[str, TextIO], None] = configure) -> tuple[float, float]:
    """Microseconds of CPU per INFO turn line (thread, process), written to a real file.

    With ``pace`` (seconds) the caller sleeps that long between lines, as a
    server waiting for its next request does (a writer thread is woken per
    line); the CPU of the sleeps alone is measured and taken off.
    """
    log = logging.getLogger("bot.handler")
    events = ["answered:mfa", "diagnosed:security_defaults"]

    def measure() -> tuple[float, float]:
        with (folder / "bot.log").open("w", encoding="utf-8") as stream:
            configure("INFO", stream)
            idle_thread, idle_process = _sleeping(turns, pace) if pace else (0.0, 0.0)
            thread, process = time.thread_time(), time.process_time()
            for _ in range(turns):
                log.info("turn", extra={"conversation_id": "a:1Xb2c3-19:meeting_abc@thread.v2",
                                        "state": "ask_security_defaults", "events": events})
                if pace:
                    time.sleep(pace)
            spent_thread = time.thread_time() - thread - idle_thread
            for handler in logging.getLogger().handlers:
                handler.flush()  # everything written: the writer's CPU is in process_time
            spent_process = time.process_time() - process - idle_process
            for handler in logging.getLogger().handlers:
                handler.close()
            logging.getLogger().handlers.clear()
        lines = (folder / "bot.log").read_text(encoding="utf-8").count("\n")
        assert lines == turns, f"{lines} of {turns} lines written"
        return spent_thread / turns * 1e6, spent_process / turns * 1e6

    return _best(measure)


def main() -> None:
    """Print both figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50_000)
    parser.add_argument("--logs", type=Path, default=None,
                        help="another bot/logs.py to measure instead of the current one")
    args = parser.parse_args()
    chosen = configure
    if args.logs is not None:
        spec = importlib.util.spec_from_file_location("bench_other_logs", args.logs)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        chosen = module.configure
    with tempfile.TemporaryDirectory() as folder:
        metrics = metrics_cost(args.turns)
        logs = log_cost(args.turns, Path(folder), configure=chosen)
        paced = log_cost(max(args.turns // 20, 200), Path(folder), pace=0.0005,
                         configure=chosen)
    print(f"metrics per turn: {metrics[0]:.2f} µs (calling thread), "
          f"{metrics[1]:.2f} µs (process)")
    print(f"log line per turn: {logs[0]:.2f} µs (calling thread), {logs[1]:.2f} µs (process)")
    print(f"log line per turn, one every 0.5 ms: {paced[0]:.2f} µs (calling thread), "
          f"{paced[1]:.2f} µs (process)")


if __name__ == "__main__":
    main()
