"""The blocking page-count check on the raw landing, recorded on the partition it checked."""

import dagster as dg

from laaffic_pipeline.defs.laaffic.assets import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.defs.resources import WarehouseResource
from laaffic_pipeline.warehouse.consistency import page_count_problems
from laaffic_pipeline.warehouse.sql import query_rows


@dg.asset_check(
    asset=RAW_CALL_RECORDS_KEY,
    name="page_count_consistency",
    blocking=True,
    partitions_def=daily_partitions,
    description=(
        "Pages fetched = pages reported, every page reported the same total, records landed = "
        "total, and voice ids are distinct. Blocking: the marts do not build on a bad day."
    ),
)
def page_count_consistency(
    context: dg.AssetCheckExecutionContext, duckdb: WarehouseResource
) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        (figures,) = query_rows(conn, "page_count_consistency", {"partition_date": context.partition_key})
    problems = page_count_problems(figures)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or "landed records agree with the API's page counts",
        metadata={**figures, "problems": problems},
    )
