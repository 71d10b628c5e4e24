"""Asset checks on the raw landing; each records its result on the partition it checked."""

from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    DailyPartitionsDefinition,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from laaffic_pipeline.defs.raw_assets import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.warehouse.sql import load_sql


def page_count_problems(figures: dict[str, Any]) -> list[str]:
    """Why a landed partition disagrees with what the API reported (empty when it agrees)."""
    if figures["pages_fetched"] == 0:
        return ["the partition has not been landed: no pages are stored for it"]
    problems = []
    expected_pages = max(figures["pages_reported"] or 0, 1)  # an empty window still answers page 1
    if figures["pages_fetched"] != expected_pages:
        problems.append(
            f"pages fetched {figures['pages_fetched']} != pages reported {figures['pages_reported']}"
        )
    if figures["distinct_reported_totals"] != 1:
        problems.append(f"pages reported {figures['distinct_reported_totals']} different totals")
    if figures["records_landed"] != figures["reported_total"]:
        problems.append(
            f"records landed {figures['records_landed']} != reported total {figures['reported_total']}"
        )
    identities = figures["distinct_voice_ids"] + figures["records_without_voice_id"]
    if identities != figures["records_landed"]:
        problems.append(
            f"distinct voice ids {figures['distinct_voice_ids']} (+{figures['records_without_voice_id']} "
            f"without id) != records landed {figures['records_landed']}"
        )
    return problems


def build_raw_checks(partitions_def: DailyPartitionsDefinition) -> list[Any]:
    @asset_check(
        asset=RAW_CALL_RECORDS_KEY,
        name="page_count_consistency",
        blocking=True,
        partitions_def=partitions_def,
        description=(
            "Pages fetched = pages reported, every page reported the same total, records landed = "
            "total, and voice ids are distinct. Blocking: the marts do not build on a bad day."
        ),
    )
    def page_count_consistency(
        context: AssetCheckExecutionContext, duckdb: DuckDBResource
    ) -> AssetCheckResult:
        with duckdb.get_connection() as conn:
            cursor = conn.execute(
                load_sql("page_count_consistency"), {"partition_date": context.partition_key}
            )
            names = [column[0] for column in cursor.description]
            figures = dict(zip(names, cursor.fetchone() or (), strict=True))
        problems = page_count_problems(figures)
        return AssetCheckResult(
            passed=not problems,
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(problems) or "landed records agree with the API's page counts",
            metadata={**figures, "problems": problems},
        )

    return [page_count_consistency]
