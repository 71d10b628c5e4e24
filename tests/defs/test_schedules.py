"""The nightly schedule's ticks at pinned instants; the partitions start at a pinned day, so the
ticks' days are partitions whatever day the suite runs."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import build_schedule_context

from tests.defs.pipeline import load_definitions, set_pipeline_env

SCHEDULE_NAME = "laaffic_daily_with_lookback"


def tick(monkeypatch, settings: dict, when: datetime) -> list[tuple[str, str, str]]:
    """Each run request of the tick: first day, last day, run key."""
    set_pipeline_env(monkeypatch, settings)
    defs = load_definitions()
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    context = build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def())
    return [
        (
            request.tags["dagster/asset_partition_range_start"],
            request.tags["dagster/asset_partition_range_end"],
            request.run_key,
        )
        for request in schedule.evaluate_tick(context).run_requests
    ]


def test_tick_requests_yesterday_and_the_lookback_days_as_one_ranged_run(monkeypatch):
    settings = {"lookback_days": 2, "start_date": "2026-01-01"}
    requests = tick(monkeypatch, settings, datetime(2026, 11, 27, 2, 0, tzinfo=ZoneInfo("UTC")))
    assert requests == [("2026-11-24", "2026-11-26", "2026-11-24...2026-11-26@2026-11-27")]


def test_tick_day_is_taken_in_the_partitions_timezone(monkeypatch):
    settings = {"timezone": "Asia/Shanghai", "lookback_days": 0, "start_date": "2026-01-01"}
    # 02:00 in Shanghai on the 27th is still the 26th in UTC.
    when = datetime(2026, 11, 27, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert tick(monkeypatch, settings, when) == [
        ("2026-11-26", "2026-11-26", "2026-11-26...2026-11-26@2026-11-27")
    ]


def test_lookback_never_reaches_before_the_first_partition(monkeypatch):
    settings = {"lookback_days": 5, "start_date": "2026-01-01"}
    when = datetime(2026, 1, 3, 2, 0, tzinfo=ZoneInfo("UTC"))
    assert [(first, last) for first, last, _ in tick(monkeypatch, settings, when)] == [
        ("2026-01-01", "2026-01-02")
    ]


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
def test_schedule_runs_at_two_in_the_partitions_timezone(monkeypatch, timezone):
    set_pipeline_env(monkeypatch, {"timezone": timezone})
    defs = load_definitions()
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", timezone)
