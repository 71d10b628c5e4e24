"""The daily job: every asset and check of the pipeline for the partition (or range) it is given."""

import dagster as dg

DAILY_JOB_NAME = "laaffic_daily"

laaffic_daily = dg.define_asset_job(
    DAILY_JOB_NAME,
    selection=dg.AssetSelection.all(include_sources=False),
    description="Fetch days from Laaffic, land them raw, build the marts and run every check.",
)
