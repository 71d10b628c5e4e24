"""The code location: ``laaffic_pipeline.definitions:defs`` (settings come from the environment)."""

from __future__ import annotations

from dagster import Backoff, Definitions, RetryPolicy, in_process_executor

from laaffic_pipeline.defs.checks import build_raw_checks
from laaffic_pipeline.defs.jobs import build_daily_job
from laaffic_pipeline.defs.mart_assets import build_mart_assets
from laaffic_pipeline.defs.mart_checks import build_mart_checks
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.defs.raw_assets import build_raw_call_records
from laaffic_pipeline.defs.resources import build_resources
from laaffic_pipeline.defs.schedules import build_daily_schedule
from laaffic_pipeline.settings import PipelineSettings


def build_definitions(settings: PipelineSettings) -> Definitions:
    """Everything Dagster loads, built from one settings object so tests can vary it."""
    partitions_def = daily_partitions(settings)
    # Re-runs the fetch when a failure outlived the client's own retries (e.g. an outage).
    retry_policy = RetryPolicy(
        max_retries=settings.step_retries, delay=settings.step_retry_delay_s, backoff=Backoff.EXPONENTIAL
    )
    return Definitions(
        assets=[build_raw_call_records(partitions_def, retry_policy), *build_mart_assets(partitions_def)],
        asset_checks=[
            *build_raw_checks(partitions_def),
            *build_mart_checks(partitions_def, settings.max_flagged_share),
        ],
        jobs=[build_daily_job(partitions_def)],
        schedules=[build_daily_schedule(partitions_def, settings.lookback_days)],
        resources=build_resources(settings),
        # One process per run (per partition): every step opens the one DuckDB file, which takes a
        # single writer, so a process per step would only add start-up time and lock waits.
        executor=in_process_executor,
    )


defs = build_definitions(PipelineSettings.from_env())
