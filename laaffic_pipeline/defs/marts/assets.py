"""``marts/call_facts`` and ``marts/daily_costs``: one day rebuilt in DuckDB from the raw landing."""

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import dagster as dg

from laaffic_pipeline.defs.column_docs import CALL_FACTS_SCHEMA, DAILY_COSTS_SCHEMA
from laaffic_pipeline.defs.laaffic.assets import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.defs.resources import WarehouseResource
from laaffic_pipeline.warehouse.exports import export_partition, exports_dir
from laaffic_pipeline.warehouse.marts import rebuild_call_facts, rebuild_daily_costs
from laaffic_pipeline.warehouse.tables import (
    MARTS_CALL_FACTS,
    MARTS_DAILY_COSTS,
    MARTS_DAILY_COSTS_BY_CURRENCY,
)

CALL_FACTS_KEY = dg.AssetKey(["marts", "call_facts"])
DAILY_COSTS_KEY = dg.AssetKey(["marts", "daily_costs"])

# The nightly schedule runs at 02:00 local time; by 06:00 the marts should have been rebuilt
# since the previous deadline, or the UI marks them as failing freshness (a missed day).
FRESHNESS_DEADLINE_CRON = "0 6 * * *"
MART_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron=FRESHNESS_DEADLINE_CRON,
    lower_bound_delta=timedelta(hours=24),
    timezone=daily_partitions.timezone,
)


@dg.asset(
    key=CALL_FACTS_KEY,
    # Day D also reads raw D-1 (a call returned by two adjacent days stays in the earlier one), so
    # re-landing D-1 marks D stale.
    deps=[
        dg.AssetDep(
            RAW_CALL_RECORDS_KEY,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True
            ),
        )
    ],
    partitions_def=daily_partitions,
    group_name="marts",
    kinds={"duckdb"},
    freshness_policy=MART_FRESHNESS,
    description=(
        "One row per call, typed and cleaned from the raw JSON (`marts.call_facts`): exact "
        "DECIMAL money, TIMESTAMPTZ times, country/region, answer and timing measures, billing "
        "reconciliation against the bill-period rule, and `quality_flags` naming every value "
        "that could not be parsed. A voice id returned by two adjacent days stays in the earlier. "
        "Each rebuilt day is also written to `exports/call_facts/call_date=<day>.parquet` beside "
        "the warehouse file."
    ),
    metadata={"dagster/table_name": MARTS_CALL_FACTS, "dagster/column_schema": CALL_FACTS_SCHEMA},
)
def call_facts(context: dg.AssetExecutionContext, duckdb: WarehouseResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with duckdb.get_connection() as conn:
        figures = rebuild_call_facts(conn, day)
        export = export_partition(conn, MARTS_CALL_FACTS, day, exports_dir(duckdb.database))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": figures.pop("rows"),
            **figures,
            "export_path": dg.MetadataValue.path(str(export.resolve())),
        }
    )


@dg.asset(
    key=DAILY_COSTS_KEY,
    deps=[CALL_FACTS_KEY],
    partitions_def=daily_partitions,
    group_name="marts",
    kinds={"duckdb"},
    freshness_policy=MART_FRESHNESS,
    description=(
        "Calls, ASR, seconds, ACD, post-dial delay and cost (Laaffic's and expected) per day, "
        "group, phone, country and currency (`marts.daily_costs`); money is never summed across "
        f"currencies. `{MARTS_DAILY_COSTS_BY_CURRENCY}` rolls it up per day and currency. Each "
        "rebuilt day is also written to `exports/daily_costs/call_date=<day>.parquet` beside the "
        "warehouse file."
    ),
    metadata={"dagster/table_name": MARTS_DAILY_COSTS, "dagster/column_schema": DAILY_COSTS_SCHEMA},
)
def daily_costs(context: dg.AssetExecutionContext, duckdb: WarehouseResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with duckdb.get_connection() as conn:
        built = rebuild_daily_costs(conn, day)
        export = export_partition(conn, MARTS_DAILY_COSTS, day, exports_dir(duckdb.database))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": built.rows,
            "by_currency": dg.MetadataValue.md(markdown_table(built.by_currency)),
            "export_path": dg.MetadataValue.path(str(export.resolve())),
        }
    )


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of ``rows`` (ratios to 4 places, NULL shown as an em dash)."""
    if not rows:
        return "_no rows_"
    names = list(rows[0])
    lines = [
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
        *("| " + " | ".join(_cell(row[name]) for name in names) + " |" for row in rows),
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
