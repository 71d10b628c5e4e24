"""What a run reads of a day at a moment: literal windows, written out by hand."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.defs.laaffic.reading import DayNotBegunError, plan_read

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = QueryWindow(datetime(2026, 12, 2, tzinfo=SHANGHAI), datetime(2026, 12, 3, tzinfo=SHANGHAI))
HOUR = timedelta(hours=1)


def plan(now: datetime, read_until: datetime | None = None, lag: timedelta = HOUR):
    return plan_read(DAY, now, final_lag=lag, overlap=HOUR, read_until=read_until)


def test_today_is_read_from_midnight_to_now_in_whole_seconds():
    read = plan(datetime(2026, 12, 2, 2, 0, 0, 999_999, tzinfo=UTC))  # 10:00:00.999999 in Shanghai
    assert not read.final
    assert (read.window.str_time, read.window.end_time) == (
        "2026-12-02T00:00:00+08:00",
        "2026-12-02T10:00:00+08:00",
    )


def test_a_refresh_reads_from_the_last_refresh_minus_the_overlap():
    read = plan(datetime(2026, 12, 2, 5, tzinfo=UTC), read_until=datetime(2026, 12, 2, 2, tzinfo=UTC))
    assert (read.window.str_time, read.window.end_time) == (
        "2026-12-02T09:00:00+08:00",
        "2026-12-02T13:00:00+08:00",
    )


def test_the_overlap_never_reaches_before_midnight():
    read = plan(datetime(2026, 12, 1, 17, tzinfo=UTC), read_until=datetime(2026, 12, 1, 16, 30, tzinfo=UTC))
    assert read.window.str_time == "2026-12-02T00:00:00+08:00"


def test_after_midnight_but_within_the_lag_the_whole_day_is_still_provisional():
    last_refresh = datetime(2026, 12, 2, 15, 45, tzinfo=UTC)
    read = plan(datetime(2026, 12, 2, 16, 30, tzinfo=UTC), read_until=last_refresh)
    assert not read.final
    assert (read.window.str_time, read.window.end_time) == (
        "2026-12-02T22:45:00+08:00",
        "2026-12-03T00:00:00+08:00",
    )


def test_once_the_lag_has_passed_the_read_is_the_whole_day_and_final():
    read = plan(datetime(2026, 12, 2, 17, tzinfo=UTC), read_until=datetime(2026, 12, 2, 15, 45, tzinfo=UTC))
    assert read.final
    assert read.window == DAY


def test_with_no_lag_a_day_is_final_at_midnight():
    assert plan(datetime(2026, 12, 2, 16, tzinfo=UTC), lag=timedelta(0)).final


def test_a_refresh_at_the_instant_of_the_last_one_has_nothing_to_read():
    moment = datetime(2026, 12, 1, 16, tzinfo=UTC)  # midnight in Shanghai, with no overlap left
    assert plan(moment).window is None


def test_a_day_that_has_not_begun_is_refused_naming_it():
    with pytest.raises(DayNotBegunError, match=r"starts 2026-12-02T00:00:00\+08:00, after now"):
        plan(datetime(2026, 12, 1, 15, tzinfo=UTC))
