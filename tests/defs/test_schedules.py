from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import build_schedule_context

from laaffic_pipeline.definitions import build_definitions
from laaffic_pipeline.defs.schedules import SCHEDULE_NAME
from laaffic_pipeline.settings import PipelineSettings


def tick(settings: PipelineSettings, when: datetime) -> list[tuple[str, str]]:
    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    context = build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def())
    return [
        (request.partition_key, request.run_key) for request in schedule.evaluate_tick(context).run_requests
    ]


def test_tick_requests_yesterday_and_the_lookback_days_one_run_each():
    settings = replace(PipelineSettings(), lookback_days=2)
    requests = tick(settings, datetime(2026, 11, 27, 2, 0, tzinfo=ZoneInfo("UTC")))
    assert requests == [
        ("2026-11-24", "2026-11-24@2026-11-27"),
        ("2026-11-25", "2026-11-25@2026-11-27"),
        ("2026-11-26", "2026-11-26@2026-11-27"),
    ]


def test_tick_day_is_taken_in_the_partitions_timezone():
    settings = replace(PipelineSettings(), timezone="Asia/Shanghai", lookback_days=0)
    # 02:00 in Shanghai on the 27th is still the 26th in UTC.
    when = datetime(2026, 11, 27, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert tick(settings, when) == [("2026-11-26", "2026-11-26@2026-11-27")]


def test_lookback_never_reaches_before_the_first_partition():
    settings = replace(PipelineSettings(), lookback_days=5)
    when = datetime(2026, 1, 3, 2, 0, tzinfo=ZoneInfo("UTC"))
    assert [key for key, _ in tick(settings, when)] == ["2026-01-01", "2026-01-02"]


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
def test_schedule_runs_at_two_in_the_partitions_timezone(timezone):
    defs = build_definitions(replace(PipelineSettings(), timezone=timezone))
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", timezone)
