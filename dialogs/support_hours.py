"""When CLOUDEX support is staffed: parse ``SUPPORT_HOURS`` and answer "open now?" / "open when?".

The setting reads like a sign on a door: ``Mon-Fri 08:00-17:00 Europe/Riga``.
Several day groups may be given, separated by ``,`` or ``;`` (``Mon-Thu
08:00-17:00, Fri 08:00-15:00 Europe/Riga``); the time zone is the last word
and defaults to UTC. A window whose end is not after its start runs past
midnight (``Sat 22:00-02:00``). Times are wall-clock times in that zone, so
daylight-saving changes are handled by ``zoneinfo``. Saying a time to a
customer, in their language, is the handoff's (:func:`dialogs.handoff.phrases.when`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUP = re.compile(
    r"^(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*/\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


class SupportHoursError(ValueError):
    """``SUPPORT_HOURS`` could not be read; the message says what was wrong."""


@dataclass(frozen=True)
class Window:
    """Support is staffed on ``weekday`` (0 = Monday) from ``start`` to ``end`` (local time)."""

    weekday: int
    start: time
    end: time

    @property
    def overnight(self) -> bool:
        """True when the window ends on the next day."""
        return self.end <= self.start

    def on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Return the window's aware start and end for the calendar ``day``."""
        start = datetime.combine(day, self.start, tzinfo=zone)
        end_day = day + timedelta(days=1) if self.overnight else day
        return start, datetime.combine(end_day, self.end, tzinfo=zone)


@dataclass(frozen=True)
class SupportHours:
    """The staffed windows of a week in one time zone."""

    windows: tuple[Window, ...]
    zone: ZoneInfo
    text: str

    def _around(
        self, moment: datetime, days_back: int, days_ahead: int
    ) -> list[tuple[datetime, datetime]]:
        local = moment.astimezone(self.zone).date()
        spans = []
        for offset in range(-days_back, days_ahead + 1):
            day = local + timedelta(days=offset)
            for window in self.windows:
                if window.weekday == day.weekday():
                    spans.append(window.on(day, self.zone))
        return sorted(spans)

    def is_open(self, moment: datetime) -> bool:
        """Return True when ``moment`` (an aware datetime) falls inside a window.

        Args:
            moment: Any aware datetime.

        Returns:
            Whether support is staffed then.
        """
        return any(start <= moment < end for start, end in self._around(moment, 1, 0))

    def closes_at(self, moment: datetime) -> datetime | None:
        """Return when the window containing ``moment`` ends (local time), or None when closed.

        Args:
            moment: Any aware datetime.

        Returns:
            The end of the current window in the support time zone, or None.
        """
        for start, end in self._around(moment, 1, 0):
            if start <= moment < end:
                return end
        return None

    def next_open(self, moment: datetime) -> datetime:
        """Return when support next opens after ``moment`` (``moment`` itself if open).

        Args:
            moment: Any aware datetime.

        Returns:
            An aware datetime in the support time zone.
        """
        for start, end in self._around(moment, 1, 8):
            if start <= moment < end:
                return moment.astimezone(self.zone)
            if start > moment:
                return start
        raise AssertionError("a parsed SupportHours always has a window within 8 days")

    @property
    def zone_name(self) -> str:
        """The IANA name of the support time zone (e.g. ``Europe/Riga``)."""
        return self.zone.key


def _day_index(name: str) -> int:
    try:
        return DAYS.index(name)
    except ValueError as exc:
        raise SupportHoursError(
            f"unknown day {name!r}; use Mon, Tue, Wed, Thu, Fri, Sat, Sun") from exc


def _days(spec: str) -> list[int]:
    result: list[int] = []
    for part in spec.split("/"):
        first, _, last = (p.strip() for p in part.partition("-"))
        start = _day_index(first)
        stop = _day_index(last) if last else start
        day = start
        while True:
            if day not in result:
                result.append(day)
            if day == stop:
                break
            day = (day + 1) % 7  # "Fri-Mon" wraps over the weekend
    return result


def _clock(value: str) -> time:
    hours, _, minutes = value.partition(":")
    hour, minute = int(hours), int(minutes)
    if hour == 24 and minute == 0:
        return time(0, 0)
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise SupportHoursError(f"{value!r} is not a time of day (HH:MM)")
    return time(hour, minute)


def parse_support_hours(text: str) -> SupportHours | None:
    """Read a ``SUPPORT_HOURS`` value.

    Args:
        text: For example ``Mon-Fri 08:00-17:00 Europe/Riga``. Empty means
            support is always staffed.

    Returns:
        The parsed hours, or None for an empty value.

    Raises:
        SupportHoursError: The value cannot be read (unknown day, zone or time).
    """
    raw = " ".join(text.split())
    if not raw:
        return None
    zone_name = "UTC"
    head, _, last = raw.rpartition(" ")
    if head and not re.search(r"\d", last):
        zone_name, raw = last, head
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SupportHoursError(f"unknown time zone {zone_name!r} in SUPPORT_HOURS") from exc
    windows: list[Window] = []
    for group in re.split(r"[,;]", raw):
        group = group.strip().lower()
        if not group:
            continue
        match = _GROUP.match(group)
        if match is None:
            raise SupportHoursError(
                f"cannot read {group!r} in SUPPORT_HOURS; "
                "write e.g. 'Mon-Fri 08:00-17:00 Europe/Riga'"
            )
        start, end = _clock(match["start"]), _clock(match["end"])
        if start == end:
            raise SupportHoursError(f"{group!r}: the window is empty")
        windows.extend(Window(day, start, end) for day in _days(match["days"]))
    if not windows:
        raise SupportHoursError("SUPPORT_HOURS names no days")
    return SupportHours(tuple(windows), zone, text.strip())


def utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
