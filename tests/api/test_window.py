from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from laaffic_pipeline.api.window import QueryWindow, WindowError, retention_floor

PLUS_8 = timezone(timedelta(hours=8))


def local_day(day: date, zone: str) -> QueryWindow:
    """Midnight to midnight in ``zone`` (as Dagster's daily partitions give them)."""
    following = day + timedelta(days=1)
    return QueryWindow(
        datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)),
        datetime(following.year, following.month, following.day, tzinfo=ZoneInfo(zone)),
    )


def test_utc_day_window_is_exactly_the_day():
    window = local_day(date(2026, 11, 1), "UTC")
    assert (window.str_time, window.end_time) == ("2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00")


def test_window_in_a_fixed_offset_zone_prints_like_the_doc():
    window = local_day(date(2022, 2, 18), "Asia/Shanghai")
    assert (window.str_time, window.end_time) == ("2022-02-18T00:00:00+08:00", "2022-02-19T00:00:00+08:00")


@pytest.mark.parametrize(
    ("day", "hours", "start", "end"),
    [
        (date(2026, 3, 29), 23, "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"),
        (date(2026, 10, 25), 25, "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"),
        (date(2026, 6, 1), 24, "2026-06-01T00:00:00+02:00", "2026-06-02T00:00:00+02:00"),
    ],
)
def test_dst_days_carry_each_ends_own_offset(day, hours, start, end):
    window = local_day(day, "Europe/Berlin")
    assert (window.str_time, window.end_time) == (start, end)
    assert window.duration == timedelta(hours=hours)


def test_start_must_precede_end():
    moment = datetime(2026, 1, 1, tzinfo=PLUS_8)
    with pytest.raises(WindowError, match="must be before endTime"):
        QueryWindow(moment, moment)


def test_window_longer_than_31_days_is_refused_before_sending():
    start = datetime(2026, 1, 1, tzinfo=PLUS_8)
    QueryWindow(start, start + timedelta(days=31))
    with pytest.raises(WindowError, match="at most 31 days"):
        QueryWindow(start, start + timedelta(days=31, seconds=1))


def test_naive_times_are_refused():
    with pytest.raises(WindowError, match="no zone offset"):
        QueryWindow(datetime(2026, 1, 1), datetime(2026, 1, 2))


@pytest.mark.parametrize(
    ("now", "floor"),
    [
        (datetime(2026, 11, 27, 10, tzinfo=UTC), datetime(2026, 9, 27, 10, tzinfo=UTC)),
        (datetime(2026, 12, 31, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC)),
        (datetime(2026, 4, 30, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), datetime(2025, 11, 15, tzinfo=UTC)),
    ],
)
def test_retention_floor_is_two_calendar_months(now, floor):
    assert retention_floor(now) == floor


def test_fractions_of_a_second_are_refused_since_the_api_reads_whole_seconds():
    start = datetime(2026, 1, 1, tzinfo=PLUS_8)
    with pytest.raises(WindowError, match="whole seconds"):
        QueryWindow(start, start + timedelta(milliseconds=500))
