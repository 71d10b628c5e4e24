"""Jobs: the daily job materializes every asset of one partition (one partition per run)."""

from __future__ import annotations

from dagster import AssetSelection, DailyPartitionsDefinition, define_asset_job
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

DAILY_JOB_NAME = "laaffic_daily"


def build_daily_job(partitions_def: DailyPartitionsDefinition) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        DAILY_JOB_NAME,
        selection=AssetSelection.all(include_sources=False),
        description="Fetch one day from Laaffic, land it raw, build the marts and run every check.",
    )
