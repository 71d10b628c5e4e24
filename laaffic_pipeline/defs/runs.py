"""Runs of the daily job launched by the pipeline's own commands, in their process, recorded in the
Dagster instance of ``DAGSTER_HOME`` like any run (the UI shows them, with every check)."""

import os
from datetime import date
from pathlib import Path

import dagster as dg

from laaffic_pipeline.defs import build_definitions
from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.marts.specs import CALL_FACTS_KEY, DAILY_COSTS_KEY
from laaffic_pipeline.defs.partitions import first_partition_record, record_first_partition_at_most
from laaffic_pipeline.local_stack import prepare_dagster_home
from laaffic_pipeline.settings import PipelineSettings

QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def rebuild_marts_through_dagster(first: date, last: date) -> str:
    """The marts alone over ``first..last``, from stored raw, as one ranged run: materializations,
    every check, the Parquet exports and the analysts' file, exactly as a normal run builds them.

    Days before the warehouse's first partition (history restored from the archive) are made
    partitions first: a day the warehouse holds never stays out of the list. Raises on failure.
    """
    settings = PipelineSettings.from_env()
    record_first_partition_at_most(first_partition_record(settings), first)
    job = build_definitions(settings, os.environ).resolve_job_def(DAILY_JOB_NAME)
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    if not os.environ.get("DAGSTER_HOME"):  # as `make dev` keeps it, so the run shows in the UI
        os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(Path(".dagster_home"), Path.cwd()))
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[CALL_FACTS_KEY, DAILY_COSTS_KEY],
            tags=tags,
            run_config=QUIET_CONSOLE,
            raise_on_error=False,
        )
    if not result.success:
        failures = [event.message for event in result.all_events if event.is_failure]
        raise RuntimeError(f"the marts run {result.run_id} over {first} .. {last} failed: {failures[-1:]}")
    return (
        f"Built the marts of {first} .. {last} through Dagster (run {result.run_id[:8]}): every check "
        "recorded, the Parquet exports and the analysts' file refreshed"
    )
