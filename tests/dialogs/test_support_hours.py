"""SUPPORT_HOURS: parsing, open/closed, next opening, across weekends, midnight and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dialogs.handoff.phrases import when
from dialogs.i18n import translator
from dialogs.support_hours import SupportHoursError, parse_support_hours

RIGA = ZoneInfo("Europe/Riga")
EN = translator("en")


def riga(*args: int) -> datetime:
    return datetime(*args, tzinfo=RIGA)


def test_empty_means_always_staffed() -> None:
    assert parse_support_hours("") is None
    assert parse_support_hours("   ") is None


def test_weekday_hours_in_riga() -> None:
    hours = parse_support_hours("Mon-Fri 08:00-17:00 Europe/Riga")
    assert hours is not None and hours.zone_name == "Europe/Riga"
    # Wednesday 2026-12-02
    assert hours.is_open(riga(2026, 12, 2, 8, 0))
    assert hours.is_open(riga(2026, 12, 2, 16, 59))
    assert not hours.is_open(riga(2026, 12, 2, 17, 0))
    assert not hours.is_open(riga(2026, 12, 2, 7, 59))
    # The same instant given in UTC (Riga is UTC+2 in winter).
    assert hours.is_open(datetime(2026, 12, 2, 6, 0, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 12, 2, 5, 59, tzinfo=UTC))
    assert hours.closes_at(riga(2026, 12, 2, 10, 0)) == riga(2026, 12, 2, 17, 0)
    assert hours.closes_at(riga(2026, 12, 2, 18, 0)) is None


def test_next_opening_skips_the_weekend() -> None:
    hours = parse_support_hours("Mon-Fri 08:00-17:00 Europe/Riga")
    assert hours is not None
    friday_evening = riga(2026, 12, 4, 18, 30)
    monday = hours.next_open(friday_evening)
    assert monday == riga(2026, 12, 7, 8, 0)
    assert when(monday, friday_evening, RIGA, EN) == "on Monday at 08:00 (Europe/Riga time)"
    early = riga(2026, 12, 2, 6, 0)
    assert when(hours.next_open(early), early, RIGA, EN) == (
        "today at 08:00 (Europe/Riga time)")
    late = riga(2026, 12, 2, 20, 0)
    assert when(hours.next_open(late), late, RIGA, EN) == (
        "tomorrow at 08:00 (Europe/Riga time)")
    open_now = riga(2026, 12, 2, 9, 0)
    assert hours.next_open(open_now) == open_now


def test_several_groups_overnight_and_utc_default() -> None:
    hours = parse_support_hours("Mon-Thu 08:00-17:00, Fri 08:00-15:00; Sat 22:00-02:00")
    assert hours is not None and hours.zone_name == "UTC"
    assert not hours.is_open(datetime(2026, 12, 4, 15, 30, tzinfo=UTC))  # Friday afternoon
    assert hours.is_open(datetime(2026, 12, 3, 15, 30, tzinfo=UTC))  # Thursday afternoon
    assert hours.is_open(datetime(2026, 12, 5, 23, 0, tzinfo=UTC))  # Saturday night
    assert hours.is_open(datetime(2026, 12, 6, 1, 59, tzinfo=UTC))  # …into Sunday
    assert not hours.is_open(datetime(2026, 12, 6, 2, 0, tzinfo=UTC))


def test_daylight_saving_keeps_wall_clock_hours() -> None:
    hours = parse_support_hours("Mon-Fri 08:00-17:00 Europe/Riga")
    assert hours is not None
    # Summer: Riga is UTC+3, so 08:00 local is 05:00 UTC.
    assert hours.is_open(datetime(2026, 7, 1, 5, 0, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 7, 1, 4, 59, tzinfo=UTC))


@pytest.mark.parametrize("bad", [
    "Mon-Fri 08:00-17:00 Mars/Olympus", "Funday 08:00-17:00", "Mon-Fri 8-17",
    "Mon-Fri 25:00-26:00 UTC", "Mon 09:00-09:00",
])
def test_unreadable_values_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(SupportHoursError):
        parse_support_hours(bad)
