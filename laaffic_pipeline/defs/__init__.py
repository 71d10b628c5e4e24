"""The Dagster definitions, built from one ``PipelineSettings`` when the code location loads.

Definition-time values (the partitions, the schedule's cron, the retry policy, whether alerts are
on) come from the settings here, once; run-time values live in the resources, which a run can
override in its config.
"""

import warnings
from collections.abc import Mapping
from datetime import datetime

import dagster as dg

from laaffic_pipeline.defs.alerts import alert_sensors
from laaffic_pipeline.defs.daily import laaffic_days_asset
from laaffic_pipeline.defs.jobs import daily_job
from laaffic_pipeline.defs.laaffic.schedules import intraday_schedule, nightly_schedule
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.defs.resources import pipeline_resources
from laaffic_pipeline.settings import PipelineSettings

# A feature the pipeline needs prints a warning at every load: per-partition check specs
# (PreviewWarning). It is chosen, so the warning says nothing a user can act on.
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def.*")


def build_definitions(
    settings: PipelineSettings, env: Mapping[str, str], now: datetime | None = None
) -> dg.Definitions:
    """Everything Dagster needs, for ``settings`` (``env``: which optional secrets are set;
    ``now``: when the definitions load, for a fresh warehouse's first partition)."""
    partitions = daily_partitions(settings, now)
    return dg.Definitions(
        assets=[laaffic_days_asset(settings, partitions)],
        jobs=[daily_job],
        schedules=[nightly_schedule(settings, partitions), intraday_schedule(settings, partitions)],
        sensors=alert_sensors(settings, partitions, env),
        resources=pipeline_resources(settings, env),
        # One process per run: the step opens the one DuckDB file, which takes a single writer,
        # so a process per step would only add start-up time and lock waits.
        executor=dg.in_process_executor,
    )
