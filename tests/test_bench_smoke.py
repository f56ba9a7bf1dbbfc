"""The benchmark harness works end to end, and counts errors (no timing is asserted here).

The real benchmark is ``make bench``; this runs the same harness with tiny
numbers — 2 conversations × 2 turns, one round, the floor (a) and this bot
(c) as real processes on loopback — and once against a floor that answers
every message with a 500, which must show up as errors.
"""

from __future__ import annotations

import random
from pathlib import Path

from bench.load import percentile_of
from bench.run import Options, Report, describe, results_markdown, rounds_table, run, table


def tiny(tmp_path: Path, **overrides: object) -> Options:
    """Options for a run of a few seconds that writes nothing outside ``tmp_path``."""
    options = Options(conversations=2, turns=2, rounds=1, targets=("floor", "bot"),
                      think_seconds=0, rss_conversations=0, warmup=False, domain=False,
                      min_round_seconds=0,
                      results=tmp_path / "results.md", log=lambda line: None)
    for name, value in overrides.items():
        setattr(options, name, value)
    return options


async def test_the_harness_drives_the_floor_and_the_bot_and_reports(tmp_path: Path) -> None:
    report: Report = await run(tiny(tmp_path))
    numbers = describe(report)
    assert set(numbers) == {"floor", "bot"}
    for key in ("floor", "bot"):
        assert numbers[key]["turns"] == 4  # 2 conversations x 2 turns
        assert numbers[key]["errors"] == 0
        assert numbers[key]["turns_per_second"] > 0
        assert 0 < numbers[key]["p50"] <= numbers[key]["p99"]
    # The bot stored each conversation's state, and the report says how big it is.
    assert report.state_rows == 2 and report.state_max_bytes
    text = table(report)
    assert "(a) floor" in text and "(c) this bot, SQLite" in text and "c/a" in text
    markdown = results_markdown(report)
    assert "## Machine" in markdown and "Python" in markdown
    # Each round's own p99 beside its turns/s: "| 1 | 123 · 4.5 | 67 · 8.9 |".
    first_round = rounds_table(report).splitlines()[2].split("|")[2:4]
    assert all(" · " in cell and cell.split(" · ")[1].strip() for cell in first_round)


def test_percentiles_are_nearest_rank() -> None:
    ordered = [float(x) for x in range(1, 101)]
    assert percentile_of(ordered, 50) == 50.0
    assert percentile_of(ordered, 99) == 99.0
    assert percentile_of(ordered, 100) == 100.0
    assert percentile_of([7.0], 99) == 7.0
    assert percentile_of([], 99) == 0.0


async def test_a_failing_target_shows_its_errors(tmp_path: Path) -> None:
    report = await run(tiny(tmp_path, targets=("floor",), fail_floor=True))
    floor = describe(report)["floor"]
    assert floor["turns"] == 4 and floor["errors"] == 4


async def test_postgres_is_skipped_with_a_note_when_not_configured(tmp_path: Path) -> None:
    report = await run(tiny(tmp_path, targets=("bot-pg",), postgres_url=None))
    assert "skipped" in report.targets["bot-pg"].note
    assert "skipped" in table(report)


def users_waits(number: int, think: float, turns: int) -> float:
    """What user ``number`` waits in all over ``turns`` paced turns."""
    pace = random.Random(f"pace-{number}")
    return sum(pace.expovariate(1 / think) for _ in range(turns))


async def test_the_paced_phase_reports_what_a_user_waits(tmp_path: Path) -> None:
    report = await run(tiny(tmp_path, think_seconds=0.02, paced_turns=3))
    for key in ("floor", "bot"):
        paced = report.targets[key].paced
        assert paced is not None and paced.turns == 6 and paced.errors == 0
        # Paced, the phase lasts at least the longest user's waits (the same draws as the load's).
        assert paced.seconds >= max(users_waits(number, think=0.02, turns=3) for number in range(2))
    text = table(report)
    assert "At a person's pace" in text
    assert "p99 ≤ 50 ms at a person's pace" in text and "p99 ≤ 50 ms back to back" in text
    # Skipped with a think time of 0.
    skipped = await run(tiny(tmp_path, targets=("floor",), think_seconds=0))
    assert skipped.targets["floor"].paced is None and "person's pace" not in table(skipped)
