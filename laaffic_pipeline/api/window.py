"""Query windows: the ``[strTime, endTime)`` pair, its documented limits, and the retention floor."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

MAX_WINDOW = timedelta(days=31)
RETENTION_MONTHS = 2


class WindowError(ValueError):
    """A window the API would refuse; raised before any request is sent."""


def format_api_time(moment: datetime) -> str:
    """ISO-8601 with seconds and the zone offset, e.g. ``2022-02-18T00:00:00+08:00``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise WindowError(f"time {moment!r} has no zone offset; the API needs one")
    return moment.isoformat(timespec="seconds")


def parse_api_time(text: str) -> datetime:
    """Parse an ISO-8601 time that must carry a zone offset (``Z`` or ``+hh:mm``)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise WindowError(f"time {text!r} has no zone offset; expected e.g. 2022-02-18T00:00:00+08:00")
    return moment


def subtract_months(moment: datetime, months: int) -> datetime:
    """Same wall-clock time ``months`` calendar months earlier (day clamped to the month's end)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def retention_floor(now: datetime) -> datetime:
    """Earliest instant the API still serves: it keeps the most recent two calendar months."""
    return subtract_months(now.astimezone(UTC), RETENTION_MONTHS)


@dataclass(frozen=True)
class QueryWindow:
    """A validated ``[start, end)`` window with zone-aware ends (each end keeps its own offset)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, moment in (("strTime", self.start), ("endTime", self.end)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise WindowError(f"{name} {moment!r} has no zone offset; the API needs one")
        if self.start >= self.end:
            raise WindowError(
                f"strTime {format_api_time(self.start)} must be before endTime {format_api_time(self.end)}"
            )
        if self.end - self.start > MAX_WINDOW:
            raise WindowError(
                f"window {format_api_time(self.start)} .. {format_api_time(self.end)} spans "
                f"{self.end - self.start}; the API allows at most 31 days: split it"
            )

    @property
    def str_time(self) -> str:
        return format_api_time(self.start)

    @property
    def end_time(self) -> str:
        return format_api_time(self.end)

    def check_retention(self, now: datetime) -> None:
        """Refuse, before any request, a window that starts before the API's retention floor."""
        floor = retention_floor(now)
        if self.start < floor:
            raise WindowError(
                f"window starts {self.str_time}, before the API's retention limit "
                f"{format_api_time(floor)} (the API keeps only the last {RETENTION_MONTHS} months); "
                "these records can no longer be fetched, the warehouse's copy is the only one"
            )

    def __str__(self) -> str:
        return f"[{self.str_time}, {self.end_time})"


def day_window(day: date, zone_name: str) -> QueryWindow:
    """The window for one local day: ``[00:00, next day 00:00)`` with the zone's offset at each end.

    On a DST change the two ends carry different offsets and the window is 23 or 25 hours long.
    """
    zone = ZoneInfo(zone_name)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    # Convert each end to a fixed offset so isoformat prints it and arithmetic is absolute.
    return QueryWindow(start.astimezone(_fixed(start)), end.astimezone(_fixed(end)))


def _fixed(moment: datetime) -> tzinfo:
    offset = moment.utcoffset()
    assert offset is not None
    return timezone(offset)
