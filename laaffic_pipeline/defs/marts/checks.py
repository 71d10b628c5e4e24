"""Asset checks on the marts; each records its result, with its figures, on the partition it checked.

The pass/fail logic is in plain functions of the figures (``*_result``) so it can be tested
without Dagster; the figures come from ``sql/check_*.sql``. The five checks on call_facts run as
one step on one DuckDB connection: separate steps would queue on the warehouse's single lock.
"""

from collections.abc import Iterator
from datetime import date
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from laaffic_pipeline.defs.marts.assets import CALL_FACTS_KEY, DAILY_COSTS_KEY, markdown_table
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.defs.resources import WarehouseResource
from laaffic_pipeline.settings import load_settings
from laaffic_pipeline.warehouse.marts import query_all, query_one

Figures = dict[str, Any]

CALL_FACTS_CHECKS = {
    "voice_id_unique": "Each of this day's voice ids appears once in the whole table (any day).",
    "voice_id_not_null": "Every row has a voice id (records the API sent without one are kept, flagged).",
    "required_fields_present": (
        "Rows missing a value needed to attribute or cost the call, per column. A warning: such rows "
        "are kept and flagged; flagged_share_below_threshold judges how many is too many."
    ),
    "flagged_share_below_threshold": (
        "At most LAAFFIC_MAX_FLAGGED_SHARE (default 5%) of the day's rows carry a quality flag."
    ),
    "billing_reconciles": (
        "Laaffic's chargedDuration and cost agree with the bill-period rule (cost within 0.000001); "
        "mismatches are counted with up to 10 sample voice ids each."
    ),
}


def voice_id_unique_result(figures: Figures) -> AssetCheckResult:
    repeated = figures["repeated_voice_ids"]
    return AssetCheckResult(
        asset_key=CALL_FACTS_KEY,
        check_name="voice_id_unique",
        passed=repeated == 0,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"{repeated} of this day's voice ids are stored more than once in marts.call_facts"
            if repeated
            else "every voice id of this day is stored once in marts.call_facts"
        ),
        metadata=figures,
    )


def voice_id_not_null_result(figures: Figures) -> AssetCheckResult:
    rows, missing = figures["rows"], figures["rows_without_voice_id"]
    return AssetCheckResult(
        asset_key=CALL_FACTS_KEY,
        check_name="voice_id_not_null",
        passed=missing == 0,
        severity=AssetCheckSeverity.ERROR,
        description=f"{missing} of {rows} rows have no voice id" if missing else "no row lacks a voice id",
        metadata={"rows": rows, "rows_without_voice_id": missing},
    )


def required_fields_result(figures: Figures) -> AssetCheckResult:
    missing = {column: rows for column, rows in figures.items() if column != "rows" and rows}
    return AssetCheckResult(
        asset_key=CALL_FACTS_KEY,
        check_name="required_fields_present",
        passed=not missing,
        severity=AssetCheckSeverity.WARN,
        description=(
            "rows missing a required value: "
            + ", ".join(f"{column} {rows}" for column, rows in missing.items())
            if missing
            else "every row has every required value"
        ),
        metadata={"rows": figures["rows"], "rows_missing_value": missing},
    )


def flagged_share_result(figures: Figures, max_share: float) -> AssetCheckResult:
    rows, flagged = figures["rows"], figures["flagged_rows"]
    share = flagged / rows if rows else 0.0
    return AssetCheckResult(
        asset_key=CALL_FACTS_KEY,
        check_name="flagged_share_below_threshold",
        passed=share <= max_share,
        severity=AssetCheckSeverity.WARN,
        description=f"{flagged} of {rows} rows flagged ({share:.2%}; threshold {max_share:.2%})",
        metadata={
            "rows": rows,
            "flagged_rows": flagged,
            "flagged_share": share,
            "max_flagged_share": max_share,
            "rows_per_flag": {entry["flag"]: entry["rows"] for entry in figures["rows_per_flag"]},
        },
    )


def billing_result(figures: Figures) -> AssetCheckResult:
    charged, cost = figures["charged_duration_mismatches"], figures["cost_mismatches"]
    return AssetCheckResult(
        asset_key=CALL_FACTS_KEY,
        check_name="billing_reconciles",
        passed=charged == 0 and cost == 0,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"{charged} calls with chargedDuration and {cost} with cost differing from the bill-period "
            f"rule (cost tolerance 0.000001); {figures['unreconciled_rows']} calls could not be reconciled"
        ),
        metadata=figures,
    )


def totals_result(per_currency: list[Figures]) -> AssetCheckResult:
    differing = [row["currency"] for row in per_currency if not row["matches"]]
    return AssetCheckResult(
        asset_key=DAILY_COSTS_KEY,
        check_name="totals_match_call_facts",
        passed=not differing,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"daily_costs totals differ from call_facts for currencies {differing}"
            if differing
            else f"daily_costs totals equal call_facts sums for {len(per_currency)} currencies"
        ),
        metadata={
            "currencies": len(per_currency),
            "differing_currencies": differing,
            "per_currency": MetadataValue.md(markdown_table(per_currency)),
        },
    )


MAX_FLAGGED_SHARE = load_settings().max_flagged_share


@multi_asset_check(
    name="call_facts_checks",
    specs=[
        AssetCheckSpec(name, asset=CALL_FACTS_KEY, description=description, partitions_def=daily_partitions)
        for name, description in CALL_FACTS_CHECKS.items()
    ],
    description=f"Checks on one day of marts.call_facts (max flagged share {MAX_FLAGGED_SHARE:.2%}).",
)
def call_facts_checks(
    context: AssetCheckExecutionContext, duckdb: WarehouseResource
) -> Iterator[AssetCheckResult]:
    day = date.fromisoformat(context.partition_key)
    with duckdb.get_connection() as conn:
        voice_ids = query_one(conn, "check_call_facts_voice_ids", day)
        required = query_one(conn, "check_call_facts_required_fields", day)
        flagged = query_one(conn, "check_call_facts_flagged_share", day)
        billing = query_one(conn, "check_call_facts_billing", day)
    yield voice_id_unique_result(voice_ids)
    yield voice_id_not_null_result(voice_ids)
    yield required_fields_result(required)
    yield flagged_share_result(flagged, MAX_FLAGGED_SHARE)
    yield billing_result(billing)


@asset_check(
    asset=DAILY_COSTS_KEY,
    name="totals_match_call_facts",
    partitions_def=daily_partitions,
    description="Per currency, the day's totals equal the same sums over marts.call_facts.",
)
def totals_match_call_facts(
    context: AssetCheckExecutionContext, duckdb: WarehouseResource
) -> AssetCheckResult:
    with duckdb.get_connection() as conn:
        per_currency = query_all(conn, "check_daily_costs_totals", date.fromisoformat(context.partition_key))
    return totals_result(per_currency)
