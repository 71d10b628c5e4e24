"""The nightly schedule: yesterday's partition plus a lookback of earlier days for late records."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME

SCHEDULE_NAME = "laaffic_daily_with_lookback"


def lookback_partition_keys(
    partitions_def: DailyPartitionsDefinition, tick_day: date, lookback_days: int
) -> list[str]:
    """Yesterday (relative to the tick's local day) and the ``lookback_days`` days before it,
    oldest first, limited to partitions that exist."""
    days = [tick_day - timedelta(days=offset) for offset in range(lookback_days + 1, 0, -1)]
    first = date.fromisoformat(partitions_def.start.strftime("%Y-%m-%d"))
    return [day.isoformat() for day in days if day >= first]


def build_daily_schedule(
    partitions_def: DailyPartitionsDefinition, lookback_days: int, hour_of_day: int = 2
) -> ScheduleDefinition:
    @schedule(
        name=SCHEDULE_NAME,
        job_name=DAILY_JOB_NAME,
        cron_schedule=f"0 {hour_of_day} * * *",
        execution_timezone=partitions_def.timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description=(
            f"At {hour_of_day:02d}:00 {partitions_def.timezone}: yesterday's partition and the "
            f"{lookback_days} days before it (late records), one run per partition."
        ),
    )
    def laaffic_daily_with_lookback(context: ScheduleEvaluationContext):
        tick_day = context.scheduled_execution_time.astimezone(ZoneInfo(partitions_def.timezone)).date()
        for key in lookback_partition_keys(partitions_def, tick_day, lookback_days):
            # Stable run key: a re-evaluated tick never launches the same partition twice.
            yield RunRequest(partition_key=key, run_key=f"{key}@{tick_day.isoformat()}")

    return laaffic_daily_with_lookback
