"""Query windows: the ``[strTime, endTime)`` pair, its documented limits, and the retention floor
(which the pipeline checks before it asks for a day: ``defs/daily.py``).

The window's two ends come from the caller (the pipeline takes them from Dagster's partition time
window); this module only checks them against the API document and formats them.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_WINDOW = timedelta(days=31)
RETENTION_MONTHS = 2


class WindowError(ValueError):
    """A window the API would refuse; raised before any request is sent."""


def format_api_time(moment: datetime) -> str:
    """ISO-8601 with seconds and the zone offset, e.g. ``2022-02-18T00:00:00+08:00``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise WindowError(f"time {moment!r} has no zone offset; the API needs one")
    return moment.isoformat(timespec="seconds")


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
    """A validated ``[start, end)`` window with zone-aware ends (each end printed with its own offset).

    On a DST change the two ends of a local day carry different offsets, e.g.
    ``2026-03-08T00:00:00-05:00`` .. ``2026-03-09T00:00:00-04:00`` (23 hours).
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, moment in (("strTime", self.start), ("endTime", self.end)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise WindowError(f"{name} {moment!r} has no zone offset; the API needs one")
            if moment.microsecond:
                raise WindowError(
                    f"{name} {moment.isoformat()} has a fraction of a second; the API takes whole seconds"
                )
        if self.duration <= timedelta(0):
            raise WindowError(f"strTime {self.str_time} must be before endTime {self.end_time}")
        if self.duration > MAX_WINDOW:
            raise WindowError(
                f"window {self.str_time} .. {self.end_time} spans {self.duration}; "
                "the API allows at most 31 days: split it"
            )

    @property
    def duration(self) -> timedelta:
        """Elapsed time (in UTC, so a DST day is 23 or 25 hours, not "1 day")."""
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)

    @property
    def str_time(self) -> str:
        return format_api_time(self.start)

    @property
    def end_time(self) -> str:
        return format_api_time(self.end)

    def __str__(self) -> str:
        return f"[{self.str_time}, {self.end_time})"
