"""The daily job: every asset and check of the pipeline for the partition (or range) it is given."""

import dagster as dg

from laaffic_pipeline.defs.laaffic.specs import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.defs.marts.specs import CALL_FACTS_KEY, DAILY_COSTS_KEY

DAILY_JOB_NAME = "laaffic_daily"

# The step's three assets, named: the selection then includes their checks and no source assets.
daily_job = dg.define_asset_job(
    DAILY_JOB_NAME,
    selection=dg.AssetSelection.assets(RAW_CALL_RECORDS_KEY, CALL_FACTS_KEY, DAILY_COSTS_KEY),
    description="Fetch days from Laaffic, land them raw, build the marts and run every check.",
)
