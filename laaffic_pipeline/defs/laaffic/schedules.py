"""The nightly schedule: yesterday plus a lookback of earlier days (late records), as one ranged run."""

from zoneinfo import ZoneInfo

import dagster as dg

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.settings import PipelineSettings

SCHEDULE_NAME = "laaffic_daily_with_lookback"


def nightly_schedule(
    settings: PipelineSettings, partitions: dg.DailyPartitionsDefinition
) -> dg.ScheduleDefinition:
    """At ``LAAFFIC_SCHEDULE_CRON``: the last ``LAAFFIC_LOOKBACK_DAYS`` + 1 whole days, one run."""
    lookback, cron = settings.lookback_days, settings.schedule_cron

    @dg.schedule(
        name=SCHEDULE_NAME,
        job_name=DAILY_JOB_NAME,
        cron_schedule=cron,
        execution_timezone=partitions.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"At '{cron}' in {partitions.timezone}: yesterday's partition and the {lookback} days "
            "before it (late records), in one run; each day still its own window."
        ),
    )
    def laaffic_daily_with_lookback(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        # Dagster decides which days are complete at the tick, in the partitions' zone.
        keys = partitions.get_partition_keys(current_time=tick)[-(lookback + 1) :]
        if not keys:
            return dg.SkipReason(f"no complete day since the first partition {partitions.start:%Y-%m-%d}")
        tick_day = tick.astimezone(ZoneInfo(partitions.timezone)).date()
        # Stable run key: a re-evaluated tick never launches the same days twice.
        return dg.RunRequest(
            run_key=f"{keys[0]}...{keys[-1]}@{tick_day.isoformat()}",
            tags={
                "dagster/asset_partition_range_start": keys[0],
                "dagster/asset_partition_range_end": keys[-1],
            },
        )

    return laaffic_daily_with_lookback
