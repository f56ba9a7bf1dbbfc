"""The benchmark harness works end to end, and counts errors (no timing is asserted here).

The real benchmark is ``make bench``; this runs the same harness with tiny
numbers — 2 conversations × 2 turns, one round, the floor (a) and this bot
(c) as real processes on loopback — and once against a floor that answers
every message with a 500, which must show up as errors.
"""

from __future__ import annotations

from pathlib import Path

from bench.run import Options, Report, describe, results_markdown, run, table


def tiny(tmp_path: Path, **overrides: object) -> Options:
    """Options for a run of a few seconds that writes nothing outside ``tmp_path``."""
    options = Options(conversations=2, turns=2, rounds=1, targets=("floor", "bot"),
                      rss_conversations=0, warmup=False, domain=False, min_round_seconds=0,
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


async def test_a_failing_target_shows_its_errors(tmp_path: Path) -> None:
    report = await run(tiny(tmp_path, targets=("floor",), fail_floor=True))
    floor = describe(report)["floor"]
    assert floor["turns"] == 4 and floor["errors"] == 4


async def test_postgres_is_skipped_with_a_note_when_not_configured(tmp_path: Path) -> None:
    report = await run(tiny(tmp_path, targets=("bot-pg",), postgres_url=None))
    assert "skipped" in report.targets["bot-pg"].note
    assert "skipped" in table(report)
