"""The intra-day schedule's ticks at pinned instants, against a real (ephemeral) instance: today's
partition each tick, skipped while the previous refresh is unfinished, off with one switch."""

from datetime import datetime
from zoneinfo import ZoneInfo

from dagster import DefaultScheduleStatus, build_schedule_context, instance_for_test

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from tests.defs.pipeline import load_definitions, set_pipeline_env

SCHEDULE_NAME = "laaffic_today_refresh"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def evaluate(defs, instance, when: datetime):
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
    )
    return defs.resolve_schedule_def(SCHEDULE_NAME).evaluate_tick(context)


def test_each_tick_refreshes_todays_partition_in_the_partitions_zone(monkeypatch):
    set_pipeline_env(monkeypatch, {"timezone": "Asia/Shanghai", "start_date": "2026-01-01"})
    defs = load_definitions()
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("*/15 * * * *", "Asia/Shanghai")
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    with instance_for_test() as instance:
        # 00:15 on the 27th in Shanghai is still the 26th in UTC: today is the 27th.
        result = evaluate(defs, instance, datetime(2026, 11, 27, 0, 15, tzinfo=SHANGHAI))
    (request,) = result.run_requests
    assert request.partition_key == "2026-11-27"
    assert request.run_key == "2026-11-27@2026-11-27T00:15+08:00"
    assert request.tags["laaffic/intraday"] == "true"


def test_a_tick_is_skipped_while_the_previous_refresh_is_unfinished(monkeypatch):
    set_pipeline_env(monkeypatch, {"start_date": "2026-01-01"})
    defs = load_definitions()
    job = defs.resolve_job_def(DAILY_JOB_NAME)
    when = datetime(2026, 11, 27, 10, 15, tzinfo=ZoneInfo("UTC"))
    with instance_for_test() as instance:
        running = instance.create_run_for_job(
            job, tags={"laaffic/intraday": "true", "dagster/partition": "2026-11-27"}
        )
        skipped = evaluate(defs, instance, when)
        instance.report_run_canceled(running)
        launched = evaluate(defs, instance, when)

    assert skipped.run_requests == []
    assert "has not finished" in skipped.skip_message
    assert [request.partition_key for request in launched.run_requests] == ["2026-11-27"]


def test_the_refresh_can_be_switched_off(monkeypatch):
    set_pipeline_env(monkeypatch, {"intraday_refresh": "false"})
    schedule = load_definitions().resolve_schedule_def(SCHEDULE_NAME)
    assert schedule.default_status == DefaultScheduleStatus.STOPPED


def test_the_nightly_run_never_includes_today(monkeypatch):
    set_pipeline_env(monkeypatch, {"lookback_days": 0, "start_date": "2026-01-01"})
    defs = load_definitions()
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 27, 2, tzinfo=ZoneInfo("UTC")),
        repository_def=defs.get_repository_def(),
    )
    (request,) = defs.resolve_schedule_def("laaffic_daily_with_lookback").evaluate_tick(context).run_requests
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-26"


def test_a_nightly_tick_within_the_lag_leaves_yesterday_to_the_next_night(monkeypatch):
    set_pipeline_env(
        monkeypatch, {"lookback_days": 1, "start_date": "2026-01-01", "schedule_cron": "30 0 * * *"}
    )
    defs = load_definitions()
    # 00:30 is within the default 65 minutes of lag: the 26th would be read provisional.
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 27, 0, 30, tzinfo=ZoneInfo("UTC")),
        repository_def=defs.get_repository_def(),
    )
    (request,) = defs.resolve_schedule_def("laaffic_daily_with_lookback").evaluate_tick(context).run_requests
    assert (
        request.tags["dagster/asset_partition_range_start"],
        request.tags["dagster/asset_partition_range_end"],
    ) == ("2026-11-24", "2026-11-25")
