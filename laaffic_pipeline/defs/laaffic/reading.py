"""What a run asks the API for, for a day, at a given moment: the whole day once it is final, or
the part of it that is new while it is provisional.

A call appears in the API when it ends, under the time it was submitted. So a day's read is
*final* only once the day has ended and ``LAAFFIC_FINAL_LAG_MIN`` more have passed (the calls in
progress at midnight have ended): that read is the whole day, read until it holds still, and
replaces what is stored. Before that the day is *provisional*: a run reads ``[start, now)`` the
first time, then, from the last refresh's end minus ``LAAFFIC_INTRADAY_OVERLAP_MIN`` (calls that
were still in progress then), and merges what it gets into the stored day. No window reaches past
now: the API document says nothing of one that does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from laaffic_pipeline.api.window import QueryWindow


class DayNotBegunError(ValueError):
    """The day starts after "now": there is nothing of it to read yet."""


@dataclass(frozen=True)
class ReadPlan:
    """The window to read of a day, and whether that read is the day's final one."""

    window: QueryWindow | None  # None: nothing new since the last refresh (it ended at now)
    final: bool


def is_final_at(day_end: datetime, now: datetime, final_lag: timedelta) -> bool:
    """Whether a day ending at ``day_end`` is read final at ``now``: the one rule, for the step,
    the nightly schedule and the demo."""
    return now >= day_end + final_lag


def plan_read(
    day: QueryWindow,
    now: datetime,
    *,
    final_lag: timedelta,
    overlap: timedelta,
    read_until: datetime | None = None,
) -> ReadPlan:
    """What to read of ``day`` at ``now``; ``read_until``: the end of the day's last provisional
    refresh, if it has one (the day is provisional in the warehouse)."""
    if now < day.start:
        raise DayNotBegunError(
            f"the day starts {day.str_time}, after now ({now.isoformat(timespec='seconds')})"
        )
    if is_final_at(day.end, now, final_lag):
        return ReadPlan(day, final=True)
    zone = day.start.tzinfo
    end = min(day.end, now.replace(microsecond=0).astimezone(zone))
    start = day.start if read_until is None else max(day.start, (read_until - overlap).astimezone(zone))
    if end <= start:
        return ReadPlan(None, final=False)
    return ReadPlan(QueryWindow(start, end), final=False)
