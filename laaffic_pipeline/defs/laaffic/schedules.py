"""The two schedules: the nightly run (yesterday plus a lookback of earlier days, made final) and
the intra-day refresh of today's partition (provisional until its final read)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.partitions import final_day_keys
from laaffic_pipeline.settings import PipelineSettings

SCHEDULE_NAME = "laaffic_daily_with_lookback"
INTRADAY_SCHEDULE_NAME = "laaffic_today_refresh"
INTRADAY_TAG = "laaffic/intraday"
"""Tag of a refresh launched by the intra-day schedule: a tick skips while one is unfinished."""

UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def nightly_schedule(
    settings: PipelineSettings, partitions: dg.DailyPartitionsDefinition
) -> dg.ScheduleDefinition:
    """At ``LAAFFIC_SCHEDULE_CRON``: the last ``LAAFFIC_LOOKBACK_DAYS`` + 1 days whose read is final
    (yesterday, once it ended ``LAAFFIC_FINAL_LAG_MIN`` ago), one run."""
    lookback, cron = settings.lookback_days, settings.schedule_cron
    final_lag = timedelta(minutes=settings.client.final_lag_min)

    @dg.schedule(
        name=SCHEDULE_NAME,
        job_name=DAILY_JOB_NAME,
        cron_schedule=cron,
        execution_timezone=partitions.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"At '{cron}' in {partitions.timezone}: yesterday's partition and the {lookback} days "
            "before it (late records), in one run; each day still its own window, read whole and "
            "final once it ended LAAFFIC_FINAL_LAG_MIN ago."
        ),
    )
    def laaffic_daily_with_lookback(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        # Dagster decides which days have ended at the tick, in the partitions' zone; those ended
        # less than the lag ago are left to the next night (a run now would read them provisional).
        keys = final_day_keys(partitions, tick, final_lag)[-(lookback + 1) :]
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


def intraday_schedule(
    settings: PipelineSettings, partitions: dg.DailyPartitionsDefinition
) -> dg.ScheduleDefinition:
    """At ``LAAFFIC_INTRADAY_CRON``: today's partition, refreshed with what is new since the last
    refresh; a tick that finds the previous refresh unfinished is skipped, not queued behind it."""
    cron = settings.intraday_cron

    @dg.schedule(
        name=INTRADAY_SCHEDULE_NAME,
        job_name=DAILY_JOB_NAME,
        cron_schedule=cron,
        execution_timezone=partitions.timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED
        if not settings.intraday_refresh
        else dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"At '{cron}' in {partitions.timezone}: today's partition, provisional, with the calls "
            "ended since the last refresh (LAAFFIC_INTRADAY_OVERLAP_MIN read again). Skipped while "
            "the previous refresh is unfinished. Off with LAAFFIC_INTRADAY_REFRESH=false."
        ),
    )
    def laaffic_today_refresh(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        today = partitions.get_partition_keys(current_time=tick)[-1:]
        if not today:
            return dg.SkipReason(f"no partition yet: the first is {partitions.start:%Y-%m-%d}")
        unfinished = context.instance.get_run_records(
            filters=dg.RunsFilter(job_name=DAILY_JOB_NAME, tags={INTRADAY_TAG: "true"}, statuses=UNFINISHED),
            limit=1,
        )
        if unfinished:
            run = unfinished[0].dagster_run
            return dg.SkipReason(
                f"the previous refresh (run {run.run_id}, {run.status.value}) has not finished: this "
                "tick is skipped, the next one reads everything new since that refresh"
            )
        return dg.RunRequest(
            run_key=f"{today[0]}@{tick.isoformat(timespec='minutes')}",
            partition_key=today[0],
            tags={INTRADAY_TAG: "true"},
        )

    return laaffic_today_refresh
