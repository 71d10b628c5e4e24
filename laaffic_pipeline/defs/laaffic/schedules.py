"""The nightly schedule: yesterday plus a lookback of earlier days (late records), as one ranged run."""

from zoneinfo import ZoneInfo

import dagster as dg

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.settings import load_settings

SCHEDULE_NAME = "laaffic_daily_with_lookback"
LOOKBACK_DAYS = load_settings().lookback_days
CRON = load_settings().schedule_cron


@dg.schedule(
    name=SCHEDULE_NAME,
    job_name=DAILY_JOB_NAME,
    cron_schedule=CRON,
    execution_timezone=daily_partitions.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        f"At '{CRON}' in {daily_partitions.timezone}: yesterday's partition and the "
        f"{LOOKBACK_DAYS} days before it (late records), in one run; each day still its own window."
    ),
)
def laaffic_daily_with_lookback(context: dg.ScheduleEvaluationContext):
    tick = context.scheduled_execution_time
    # Dagster decides which days are complete at the tick, in the partitions' zone.
    keys = daily_partitions.get_partition_keys(current_time=tick)[-(LOOKBACK_DAYS + 1) :]
    if not keys:
        return dg.SkipReason(f"no complete day since the first partition {daily_partitions.start:%Y-%m-%d}")
    tick_day = tick.astimezone(ZoneInfo(daily_partitions.timezone)).date()
    # Stable run key: a re-evaluated tick never launches the same days twice.
    return dg.RunRequest(
        run_key=f"{keys[0]}...{keys[-1]}@{tick_day.isoformat()}",
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )
