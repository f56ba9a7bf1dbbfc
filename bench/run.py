"""Run the benchmark: start the targets, drive them in interleaved rounds, report.

``make bench`` (``python -m bench``) measures, in one run and on loopback only:

1. turns/s, p50/p99 latency and errors of (a) the floor, (b) the SDK echo bot,
   (b′) the same echo bot on this bot's turn path, (c) this bot on SQLite and
   (d) this bot on PostgreSQL (when ``BENCH_POSTGRES_URL`` or
   ``TEST_POSTGRES_URL`` is set), driven with the same load in rounds
   a b b′ c d a b b′ c d …; then p50/p99 of each at a person's pace: the
   same conversations, each user waiting about a second before a turn;
2. diagnoses/s and search queries/s of the domain code (one core);
3. the bot's RSS after 10,000 conversations and the stored state per
   conversation.

It prints a table and writes ``bench/results.md`` with the machine's
description. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import importlib.metadata
import inspect
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load import BenchConnector, LoadResult, Templates, drive, load_error_texts, percentile_of
from bench.targets import Target, bot_target, fast_echo_target, floor_target, sdk_target

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.md"
ALL_TARGETS = ("floor", "sdk", "sdk-fast", "bot", "bot-pg")
PACKAGES = ("aiohttp", "botbuilder-core", "botbuilder-integration-aiohttp", "msrest",
            "transitions", "asyncpg", "psutil")
MEMORY_BATCH = 500


@dataclass
class Options:
    """What to run; the defaults are the full benchmark."""

    conversations: int = 32
    turns: int = 20
    rounds: int = 3
    targets: tuple[str, ...] = ALL_TARGETS
    rss_conversations: int = 10_000
    rss_turns: int = 3
    # A round of a target repeats the load until it has lasted this long.
    min_round_seconds: float = 3.0
    # At a person's pace: each user waits this long on average before a turn (0 skips it).
    think_seconds: float = 1.0
    paced_turns: int = 10
    # The whole run stops by itself: the memory phase ends early when time runs out.
    time_budget_seconds: float = 285.0
    warmup: bool = True
    domain: bool = True
    results: Path | None = RESULTS
    postgres_url: str | None = None
    fail_floor: bool = False
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr,
                                                                    flush=True))


@dataclass
class TargetReport:
    """All rounds of one target."""

    key: str
    label: str
    rounds: list[LoadResult] = field(default_factory=list)
    # The same conversations at a person's pace (None when not run).
    paced: LoadResult | None = None
    note: str = ""

    @property
    def turns(self) -> int:
        """Turns driven over all rounds."""
        return sum(r.turns for r in self.rounds)

    @property
    def errors(self) -> int:
        """Failed turns over all rounds."""
        return sum(r.errors for r in self.rounds)

    @property
    def replies_per_turn(self) -> float:
        """Activities the target posted per turn, over every round."""
        return sum(r.replies for r in self.rounds) / self.turns if self.turns else 0.0

    @property
    def turns_per_second(self) -> float:
        """The median round's turns/s."""
        return statistics.median(r.turns_per_second for r in self.rounds) if self.rounds else 0.0

    @property
    def cpu_ms_per_turn(self) -> float | None:
        """The server's CPU milliseconds per turn over every round."""
        cpu = [r.server_cpu for r in self.rounds]
        if not self.rounds or any(c is None for c in cpu) or not self.turns:
            return None
        return sum(c for c in cpu if c is not None) / self.turns * 1000

    def percentile(self, q: float) -> float:
        """Latency percentile ``q`` (0-100) over every turn of every round, in seconds."""
        return percentile_of(sorted(x for r in self.rounds for x in r.latencies), q)


@dataclass
class Report:
    """Everything one run measured."""

    options: Options
    targets: dict[str, TargetReport] = field(default_factory=dict)
    diagnoses_per_second: float | None = None
    # "held-out C (fresh): before 77.4 % (72/93), now ..." (issue 20): accuracy beside the speed.
    diagnosis_accuracy: list[str] = field(default_factory=list)
    search_per_second: float | None = None
    search_note: str = ""
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None
    rss_conversations: int = 0
    rss_turns: int = 0
    rss_errors: int = 0
    rss_stopped_early: bool = False
    state_max_bytes: int | None = None
    state_mean_bytes: float | None = None
    state_rows: int = 0
    seconds: float = 0.0
    started: str = ""
    load_before: tuple[float, float, float] | None = None
    load_after: tuple[float, float, float] | None = None


def postgres_url_from_env() -> str | None:
    """BENCH_POSTGRES_URL, else TEST_POSTGRES_URL, else None."""
    return os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL") or None


def _with_schema(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}schema={schema}"


async def _drop_schema(url: str, schema: str) -> None:
    import asyncpg

    base = url.split("?", 1)[0]
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def _rss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / (1024 * 1024)


def _state_sizes(db_path: Path) -> tuple[int, int, float]:
    """(rows, max bytes, mean bytes) of the stored conversation JSON."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        sizes = [row[0] for row in conn.execute(
            "SELECT length(CAST(doc AS BLOB)) FROM bot_state WHERE key LIKE 'conv/%'")]
    if not sizes:
        return 0, 0, 0.0
    return len(sizes), max(sizes), sum(sizes) / len(sizes)


def diagnosis_accuracy() -> list[str]:
    """The diagnosis' score on held-out sets A, B and C and the tuning corpus, before and now."""
    from dialogs.diagnosis import diagnoser_for
    from dialogs.diagnosis_eval import report_lines
    from dialogs.knowledge import default_knowledge

    return report_lines(diagnoser_for(default_knowledge()))


def _domain_speeds(report: Report) -> None:
    """Diagnoses/s over the corpus; search queries/s when dialogs.search has bench_search."""
    from dialogs.diagnosis import bench_diagnosis

    report.diagnoses_per_second = bench_diagnosis(load_error_texts())
    report.diagnosis_accuracy = diagnosis_accuracy()
    try:
        search = importlib.import_module("dialogs.search")
    except ImportError:
        report.search_note = "dialogs/search.py not there yet"
        return
    bench_search = getattr(search, "bench_search", None)
    if bench_search is None:
        report.search_note = "dialogs.search has no bench_search"
        return
    required = [p for p in inspect.signature(bench_search).parameters.values()
                if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if required:
        report.search_note = "bench_search needs arguments the bench does not know"
        return
    report.search_per_second = float(bench_search())


def build_targets(
    options: Options, workdir: Path, pg_schema: str
) -> tuple[list[Target], dict[str, str]]:
    """The targets to run and, for the ones skipped, why."""
    targets: list[Target] = []
    skipped: dict[str, str] = {}
    for key in options.targets:
        if key == "floor":
            targets.append(floor_target(fail=options.fail_floor))
        elif key == "sdk":
            targets.append(sdk_target())
        elif key == "sdk-fast":
            targets.append(fast_echo_target())
        elif key == "bot":
            targets.append(bot_target(f"sqlite:///{workdir / 'bench.db'}"))
        elif key == "bot-pg":
            if not options.postgres_url:
                skipped[key] = "skipped: set BENCH_POSTGRES_URL or TEST_POSTGRES_URL"
                continue
            targets.append(bot_target(_with_schema(options.postgres_url, pg_schema),
                                      key="bot-pg", label="(d) this bot, PostgreSQL"))
        else:
            raise ValueError(f"unknown target {key!r}; choose from {', '.join(ALL_TARGETS)}")
    return targets, skipped


async def run(options: Options) -> Report:
    """Run the benchmark described by ``options`` and return what it measured."""
    started = time.perf_counter()
    report = Report(options=options, started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    load_before=_load_average())
    log = options.log
    run_id = uuid.uuid4().hex[:8]
    pg_schema = f"bench_{run_id}"
    templates = Templates.load()
    connector = BenchConnector()
    await connector.start()
    with tempfile.TemporaryDirectory(prefix="msa-bench-") as tmp:
        workdir = Path(tmp)
        targets, skipped = build_targets(options, workdir, pg_schema)
        for key, note in skipped.items():
            report.targets[key] = TargetReport(key, "(d) this bot, PostgreSQL", note=note)
        try:
            for target in targets:
                log(f"starting {target.label} on port {target.port}")
                await target.start(workdir)
                report.targets[target.key] = TargetReport(target.key, target.label)
                if options.warmup:
                    await drive(target.url, connector, templates,
                                conversations=options.conversations, turns=3,
                                prefix=f"{run_id}-warm-{target.key}")
            for number in range(1, options.rounds + 1):
                for target in targets:
                    # A fast target's round is over in a fraction of a second, where one
                    # burst of other work on the machine decides the number; repeat the
                    # same load (new conversations) until the round lasts long enough.
                    result = await drive(
                        target.url, connector, templates, conversations=options.conversations,
                        turns=options.turns, prefix=f"{run_id}-r{number}-{target.key}",
                        pid=target.pid)
                    repeat = 1
                    while result.seconds < options.min_round_seconds:
                        more = await drive(
                            target.url, connector, templates,
                            conversations=options.conversations, turns=options.turns,
                            prefix=f"{run_id}-r{number}.{repeat}-{target.key}", pid=target.pid)
                        result = result.combined(more)
                        repeat += 1
                    report.targets[target.key].rounds.append(result)
                    log(f"round {number} {target.key:7} {result.turns_per_second:8.0f} turns/s "
                        f"{result.cpu_ms_per_turn or 0:6.2f} CPU ms/turn "
                        f"{result.replies / max(1, result.turns):4.2f} replies/turn "
                        f"errors {result.errors}")
            if options.think_seconds > 0:
                # Back to back, latency is about conversations ÷ turns/s whatever
                # a turn costs; paced like people, it is what a user waits.
                for target in targets:
                    paced = await drive(
                        target.url, connector, templates, conversations=options.conversations,
                        turns=options.paced_turns, prefix=f"{run_id}-paced-{target.key}",
                        pid=target.pid, think=options.think_seconds)
                    report.targets[target.key].paced = paced
                    log(f"paced   {target.key:7} {paced.turns_per_second:8.0f} turns/s "
                        f"p50 {_ms(paced.percentile(50))} p99 {_ms(paced.percentile(99))} ms "
                        f"errors {paced.errors}")
            bot = next((t for t in targets if t.key == "bot"), None)
            if bot is not None and bot.pid is not None and options.rss_conversations > 0:
                report.rss_before_mb = _rss_mb(bot.pid)
                log(f"memory phase: {options.rss_conversations} conversations on {bot.label}")
                # In batches, so the phase can stop when the time budget is spent
                # (leaving time for the domain measurements and shutting down).
                deadline = started + options.time_budget_seconds - 25
                done = 0
                while done < options.rss_conversations:
                    if time.perf_counter() > deadline:
                        report.rss_stopped_early = True
                        break
                    batch = min(MEMORY_BATCH, options.rss_conversations - done)
                    result = await drive(
                        bot.url, connector, templates, conversations=batch,
                        turns=options.rss_turns, prefix=f"{run_id}-rss{done}",
                        concurrency=options.conversations)
                    done += batch
                    report.rss_turns += result.turns
                    report.rss_errors += result.errors
                report.rss_after_mb = _rss_mb(bot.pid)
                report.rss_conversations = done
            if bot is not None:
                report.state_rows, report.state_max_bytes, report.state_mean_bytes = \
                    _state_sizes(workdir / "bench.db")
        finally:
            for target in targets:
                target.stop()
            await connector.stop()
            if any(t.key == "bot-pg" for t in targets) and options.postgres_url:
                try:
                    await _drop_schema(options.postgres_url, pg_schema)
                except Exception as error:  # a leftover schema must not fail the run
                    log(f"could not drop schema {pg_schema}: {error}")
    if options.domain:
        _domain_speeds(report)
    report.seconds = time.perf_counter() - started
    report.load_after = _load_average()
    return report


def _load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


# ----- reporting --------------------------------------------------------------
def _triple(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.1f}" for v in values)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _ratio(a: TargetReport | None, b: TargetReport | None, percent: bool = False) -> str:
    if a is None or b is None or not a.rounds or not b.rounds or b.turns_per_second == 0:
        return "n/a"
    value = a.turns_per_second / b.turns_per_second
    return f"{value * 100:.0f} %" if percent else f"{value:.1f}×"


def table(report: Report) -> str:
    """The results as a Markdown table plus the other measurements."""
    lines = ["| target | turns/s | p50 ms | p99 ms | errors | turns | replies/turn | "
             "server CPU ms/turn |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key in ALL_TARGETS:
        target = report.targets.get(key)
        if target is None:
            continue
        if not target.rounds:
            lines.append(f"| {target.label} | {target.note or 'not run'} | | | | | | |")
            continue
        cpu = target.cpu_ms_per_turn
        lines.append(f"| {target.label} | {target.turns_per_second:,.0f} | "
                     f"{_ms(target.percentile(50))} | {_ms(target.percentile(99))} | "
                     f"{target.errors} | {target.turns:,} | {target.replies_per_turn:.2f} | "
                     f"{'n/a' if cpu is None else f'{cpu:.2f}'} |")
    paced = paced_table(report)
    if paced:
        lines += ["", paced]
    t = report.targets
    lines.append("")
    lines.append(f"- c/b (this bot ÷ SDK echo bot): **{_ratio(t.get('bot'), t.get('sdk'))}**; "
                 f"c/a (÷ floor): **{_ratio(t.get('bot'), t.get('floor'), percent=True)}**")
    if t.get("sdk-fast") is not None and t["sdk-fast"].rounds:
        lines.append(f"- the turn path alone: b′/b (the echo bot on this bot's turn path ÷ as the "
                     f"sample builds it): **{_ratio(t.get('sdk-fast'), t.get('sdk'))}**; "
                     f"b′/a: **{_ratio(t.get('sdk-fast'), t.get('floor'), percent=True)}**")
    if t.get("bot-pg") is not None and t["bot-pg"].rounds:
        lines.append(f"- d/b: **{_ratio(t.get('bot-pg'), t.get('sdk'))}**; "
                     f"d/a: **{_ratio(t.get('bot-pg'), t.get('floor'), percent=True)}**")
    cpu = {k: v.cpu_ms_per_turn for k, v in t.items() if v.rounds and v.cpu_ms_per_turn}
    if "bot" in cpu and "sdk" in cpu and "floor" in cpu:
        lines.append(f"- by server CPU per turn instead of turns/s: the SDK echo bot spends "
                     f"{cpu['sdk'] / cpu['bot']:.1f}× this bot's CPU per turn, the floor "
                     f"{cpu['floor'] / cpu['bot'] * 100:.0f} % of it")
    diag = (f"{report.diagnoses_per_second:,.0f}" if report.diagnoses_per_second is not None
            else "n/a")
    search = (f"{report.search_per_second:,.0f}" if report.search_per_second is not None
              else f"n/a ({report.search_note})" if report.search_note else "n/a")
    lines.append(f"- diagnoses/s (one core, corpus + canonical): **{diag}**")
    lines.extend(f"- diagnosis accuracy, {line}" for line in report.diagnosis_accuracy)
    lines.append(f"- search queries/s (one core): **{search}**")
    if report.rss_after_mb is not None:
        early = (f" — stopped early by the {report.options.time_budget_seconds:.0f} s time "
                 f"budget, short of {report.options.rss_conversations:,}"
                 if report.rss_stopped_early else "")
        lines.append(f"- bot RSS: {report.rss_before_mb:.1f} MB after warm-up and rounds, "
                     f"**{report.rss_after_mb:.1f} MB** after {report.rss_conversations:,} more "
                     f"conversations ({report.rss_turns:,} turns, {report.rss_errors} "
                     f"errors{early})")
    if report.state_max_bytes is not None:
        lines.append(f"- stored state per conversation ({report.state_rows:,} conversations): "
                     f"max **{report.state_max_bytes:,} B**, mean {report.state_mean_bytes:,.0f} B")
    verdicts = goals(report)
    if verdicts:
        lines.append("")
        lines.append("Goals (issue 9): " + "; ".join(verdicts))
    return "\n".join(lines)


def paced_table(report: Report) -> str:
    """p50/p99 of every target at a person's pace, or "" when that was not run."""
    paced = [(key, report.targets[key]) for key in ALL_TARGETS
             if key in report.targets and report.targets[key].paced is not None]
    if not paced:
        return ""
    o = report.options
    lines = [(f"At a person's pace — the same {o.conversations} conversations × "
              f"{o.paced_turns} turns, each user waiting {o.think_seconds:g} s on average (at "
              f"random) after a reply before the next turn:"),
             "",
             "| target | turns/s | p50 ms | p99 ms | errors | turns | server CPU ms/turn |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for _, target in paced:
        result = target.paced
        assert result is not None
        cpu = result.cpu_ms_per_turn
        lines.append(f"| {target.label} | {result.turns_per_second:,.0f} | "
                     f"{_ms(result.percentile(50))} | {_ms(result.percentile(99))} | "
                     f"{result.errors} | {result.turns:,} | "
                     f"{'n/a' if cpu is None else f'{cpu:.2f}'} |")
    return "\n".join(lines)


def goals(report: Report) -> list[str]:
    """Each goal of issue 9 with the measured value and whether it was met."""
    t = report.targets
    bot, sdk, floor = t.get("bot"), t.get("sdk"), t.get("floor")
    verdicts: list[str] = []

    def verdict(name: str, ok: bool, value: str) -> None:
        verdicts.append(f"{name}: {value} — {'met' if ok else 'NOT met'}")

    if bot is None or not bot.rounds:
        return verdicts
    if sdk is not None and sdk.rounds and sdk.turns_per_second:
        ratio = bot.turns_per_second / sdk.turns_per_second
        verdict("c/b ≥ 10×", ratio >= 10, f"{ratio:.1f}×")
    if floor is not None and floor.rounds and floor.turns_per_second:
        ratio = bot.turns_per_second / floor.turns_per_second
        verdict("c/a ≥ 30 %", ratio >= 0.3, f"{ratio * 100:.1f} %")
    p99 = bot.percentile(99) * 1000
    floor_p99 = (f" (the floor's: {floor.percentile(99) * 1000:.0f} ms)"
                 if floor is not None and floor.rounds else "")
    verdict("p99 ≤ 50 ms back to back", p99 <= 50, f"{p99:.0f} ms{floor_p99}")
    errors = bot.errors
    if bot.paced is not None:
        paced_p99 = bot.paced.percentile(99) * 1000
        verdict("p99 ≤ 50 ms at a person's pace", paced_p99 <= 50, f"{paced_p99:.0f} ms")
        errors += bot.paced.errors
    verdict("no errors", errors == 0, f"{errors} errors")
    if report.rss_after_mb is not None:
        complete = report.rss_conversations >= 10_000
        verdict("RSS < 150 MB after 10,000 conversations", complete and report.rss_after_mb < 150,
                f"{report.rss_after_mb:.0f} MB after {report.rss_conversations:,}")
    if report.state_max_bytes is not None:
        verdict("state ≤ 4 KB", report.state_max_bytes <= 4096, f"max {report.state_max_bytes:,} B")
    return verdicts


def rounds_table(report: Report) -> str:
    """Every round's turns/s and p99 per target, to show the spread."""
    keys = [k for k in ALL_TARGETS if k in report.targets and report.targets[k].rounds]
    if not keys:
        return ""
    count = max(len(report.targets[k].rounds) for k in keys)
    lines = ["| round | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for index in range(count):
        cells = []
        for key in keys:
            rounds = report.targets[key].rounds
            cells.append(f"{rounds[index].turns_per_second:,.0f} · "
                         f"{_ms(rounds[index].percentile(99))}" if index < len(rounds) else "")
        lines.append(f"| {index + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> list[str]:
    """CPU model, cores, RAM, OS, Python and package versions."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        ram = "unknown"
    versions = []
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{name} {importlib.metadata.version(name)}")
    return [f"- CPU: {cpu}, {os.cpu_count()} logical cores; RAM {ram}",
            f"- OS: {platform.platform()}",
            f"- Python {platform.python_version()} ({platform.python_implementation()})",
            f"- Packages: {', '.join(versions)}"]


def results_markdown(report: Report) -> str:
    """The content of bench/results.md."""
    o = report.options
    load = ""
    if report.load_before and report.load_after:
        load = (f"- Load average (1/5/15 min) at the start {_triple(report.load_before)}, at the "
                f"end {_triple(report.load_after)} — anything well above 0 means other work "
                f"shared the {os.cpu_count()} cores with the benchmark")
    return "\n".join([
        "# Benchmark results",
        "",
        (f"Written by `make bench` (`python -m bench`) on {report.started}; the run took "
         f"{report.seconds:.0f} s. Regenerate with `make bench`."),
        "",
        "## Machine",
        "",
        *machine(),
        load,
        "",
        "## Load",
        "",
        (f"{o.conversations} concurrent Teams personal chats × {o.turns} turns each "
        f"(a `conversationUpdate` greeting, then Action.Submit presses, typed answers and pasted "
        f"error texts from the diagnosis corpus), POSTed to `/api/messages` over loopback; "
        f"replies caught by a local Bot Connector in the bench process. {o.rounds} interleaved "
        f"rounds (a b b′ c d a b b′ c d …) after a warm-up of 3 turns per conversation; a "
        f"target's round repeats the load (new conversations) until it has lasted "
        f"{o.min_round_seconds:.0f} s; turns/s is the median round, latencies pool every "
        f"turn. Auth is off for every target (local "
        f"mode). The bot logs at INFO as in production. Server CPU ms/turn is the target "
        f"process's CPU time (all its threads) over its turns: it depends far less than "
        f"turns/s on what else the machine is doing."),
        "",
        "## Results",
        "",
        table(report),
        "",
        "Turns/s · p99 ms per round (the table above pools every round's turns for p50 "
        "and p99; a round the machine slowed down shows here):",
        "",
        rounds_table(report),
        "",
        "## Reading the numbers",
        "",
        (f"- The load is a closed loop: each of the {o.conversations} conversations waits for "
         f"its previous turn, so latency is about {o.conversations} ÷ turns/s; a p99 of 50 ms "
         f"at {o.conversations} conversations needs well over {o.conversations / 0.05:,.0f} "
         f"turns/s from the target (the floor's own p99 is in the table)."),
        (f"- At a person's pace the same users wait {o.think_seconds:g} s on average (drawn at "
         f"random, the same draws for every target) before each turn, as someone reading a "
         f"card does — people take longer — so the latencies there are what a user waits for "
         f"an answer rather than a queue of {o.conversations} back-to-back clients. On a "
         f"virtual machine an idle core also takes a moment to wake, which shows in every "
         f"target's p50 there."),
        ("- (b′) is the sample's echo bot on this bot's turn path (pooled connector and token "
         "clients, replies over one shared aiohttp session, `bot.wire` instead of msrest): "
         "b′ against b is what the turn path saves; c against b′ is what this bot does per "
         "turn beyond echoing — the flow engine, reading and writing the conversation state, "
         "the handoff lookup and transcript, audit rows, the log line, and card replies "
         "instead of one line of text (replies/turn in the table)."),
        ("- turns/s of the fast targets is bounded by the load generator and the connector, "
         "which share the machine with the target; server CPU ms/turn is the steadier "
         "comparison."),
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bench [-c 32] [-t 20] [-r 3] [--targets …] [--no-memory]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--conversations", type=int, default=32)
    parser.add_argument("-t", "--turns", type=int, default=20)
    parser.add_argument("-r", "--rounds", type=int, default=3)
    parser.add_argument("--targets", default=",".join(ALL_TARGETS),
                        help=f"comma-separated subset of {','.join(ALL_TARGETS)}")
    parser.add_argument("--memory-conversations", type=int, default=10_000,
                        help="conversations in the memory phase (0 skips it)")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean seconds a user waits before a turn in the paced phase "
                             "(0 skips that phase)")
    parser.add_argument("--no-domain", action="store_true", help="skip diagnoses/s and search/s")
    parser.add_argument("--budget", type=float, default=285.0,
                        help="seconds the whole run may take (the memory phase is cut short)")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="where to write the results (default bench/results.md)")
    parser.add_argument("--no-write", action="store_true", help="only print")
    args = parser.parse_args(argv)
    options = Options(
        conversations=args.conversations, turns=args.turns, rounds=args.rounds,
        targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()),
        rss_conversations=args.memory_conversations, domain=not args.no_domain,
        think_seconds=args.think,
        time_budget_seconds=args.budget,
        results=None if args.no_write else args.out, postgres_url=postgres_url_from_env())
    report = asyncio.run(run(options))
    print(table(report))
    if options.results is not None:
        options.results.write_text(results_markdown(report), encoding="utf-8")
        print(f"\nwrote {options.results}")
    return 0


def describe(report: Report) -> dict[str, Any]:
    """A compact dict of the headline numbers (for tests and scripts)."""
    return {key: {"turns_per_second": t.turns_per_second, "errors": t.errors, "turns": t.turns,
                  "p50": t.percentile(50), "p99": t.percentile(99)}
            for key, t in report.targets.items() if t.rounds}
