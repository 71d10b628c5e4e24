"""The nightly schedule: yesterday's partition plus a lookback of earlier days for late records."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.settings import load_settings

SCHEDULE_NAME = "laaffic_daily_with_lookback"
LOOKBACK_DAYS = load_settings().lookback_days
HOUR_OF_DAY = 2


def lookback_partition_keys(partitions_def: dg.DailyPartitionsDefinition, tick: datetime) -> list[str]:
    """The last complete day at the tick and the ``LOOKBACK_DAYS`` before it, oldest first.

    Dagster decides which days are complete in the partitions' zone; days before the first
    partition do not exist and are left out.
    """
    keys = partitions_def.get_partition_keys(current_time=tick)
    return keys[-(LOOKBACK_DAYS + 1) :]


@dg.schedule(
    name=SCHEDULE_NAME,
    job_name=DAILY_JOB_NAME,
    cron_schedule=f"0 {HOUR_OF_DAY} * * *",
    execution_timezone=daily_partitions.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        f"At {HOUR_OF_DAY:02d}:00 {daily_partitions.timezone}: yesterday's partition and the "
        f"{LOOKBACK_DAYS} days before it (late records), one run per partition."
    ),
)
def laaffic_daily_with_lookback(context: dg.ScheduleEvaluationContext):
    tick = context.scheduled_execution_time
    tick_day = tick.astimezone(ZoneInfo(daily_partitions.timezone)).date()
    for key in lookback_partition_keys(daily_partitions, tick):
        # Stable run key: a re-evaluated tick never launches the same partition twice.
        yield dg.RunRequest(partition_key=key, run_key=f"{key}@{tick_day.isoformat()}")
