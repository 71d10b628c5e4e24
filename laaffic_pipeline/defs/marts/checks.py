"""Results of the checks on a built day of the marts, each with the figures it judged.

The pass/fail logic is in plain functions of the figures (``*_result``) so it can be tested
without Dagster; the figures come from ``sql/check_*.sql``, all read on the one connection that
built the days (separate steps would queue on the warehouse's single lock). Each statement judges
a batch of days at once (``$days``) and returns a row per day: one query for the batch, not one a day.
"""

from collections.abc import Sequence
from datetime import date
from typing import Any

import duckdb
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from laaffic_pipeline.defs.marts.specs import (
    CALL_FACTS_KEY,
    COST_ANOMALY_CHECK,
    DAILY_COSTS_KEY,
    SPEND_RATE_CHECK,
)
from laaffic_pipeline.defs.metadata import markdown_table
from laaffic_pipeline.warehouse.cost_anomalies import CostAnomalies, cost_anomalies
from laaffic_pipeline.warehouse.marts import figures_by_day
from laaffic_pipeline.warehouse.spend_rate import SpendRate, spend_rate

Figures = dict[str, Any]


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


def cost_anomaly_result(anomalies: CostAnomalies) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=DAILY_COSTS_KEY,
        check_name=COST_ANOMALY_CHECK,
        passed=not anomalies.flagged,
        severity=AssetCheckSeverity.WARN,
        description=anomalies.summary(),
        metadata={
            "judged": anomalies.judged,
            "history_days": anomalies.history_days,
            "band_robust_sd": anomalies.band,
            "flagged": MetadataValue.json(anomalies.flagged),
            "groups": MetadataValue.json(anomalies.groups),
        },
    )


def spend_rate_result(rate: SpendRate) -> AssetCheckResult:
    """Fails (WARN) only at the refresh where a spike starts: the alert goes out once per spike."""
    return AssetCheckResult(
        asset_key=DAILY_COSTS_KEY,
        check_name=SPEND_RATE_CHECK,
        passed=not rate.spikes,
        severity=AssetCheckSeverity.WARN,
        description=rate.summary(),
        metadata={
            "judged": rate.judged,
            "until": rate.until.isoformat() if rate.until else None,
            "local_until": rate.local_until.isoformat() if rate.local_until else None,
            "history_days": rate.history_days,
            "band_robust_sd": rate.band,
            "spikes": MetadataValue.json(rate.spikes),
            "lasting_spikes": MetadataValue.json(rate.lasting),
            "groups": MetadataValue.json(rate.groups),
        },
    )


def one_row_a_day(grouped: dict[date, list[Figures]]) -> dict[date, Figures]:
    """The one row each day of a per-day statement has (``figures_by_day``'s lists of one)."""
    for day, rows in grouped.items():
        assert len(rows) == 1, f"{len(rows)} rows for {day}, expected 1"
    return {day: rows[0] for day, rows in grouped.items()}


def call_facts_results(
    conn: duckdb.DuckDBPyConnection, days: Sequence[date], max_flagged_share: float
) -> dict[date, list[AssetCheckResult]]:
    """Every check on each built day of ``marts.call_facts``, by day."""
    voice_ids = one_row_a_day(figures_by_day(conn, "check_call_facts_voice_ids", days))
    required = one_row_a_day(figures_by_day(conn, "check_call_facts_required_fields", days))
    flagged = one_row_a_day(figures_by_day(conn, "check_call_facts_flagged_share", days))
    billing = one_row_a_day(figures_by_day(conn, "check_call_facts_billing", days))
    return {
        day: [
            voice_id_unique_result(voice_ids[day]),
            voice_id_not_null_result(voice_ids[day]),
            required_fields_result(required[day]),
            flagged_share_result(flagged[day], max_flagged_share),
            billing_result(billing[day]),
        ]
        for day in voice_ids
    }


def daily_costs_results(
    conn: duckdb.DuckDBPyConnection, days: Sequence[date], anomaly_band: float, spend_rate_band: float
) -> dict[date, list[AssetCheckResult]]:
    """Every check on each built day of ``marts.daily_costs``, by day (each day's cost anomalies
    against its own trailing weeks; a provisional day's last hour of spend against the same hour
    of the weeks before)."""
    totals = figures_by_day(conn, "check_daily_costs_totals", days)
    return {
        day: [
            totals_result(per_currency),
            cost_anomaly_result(cost_anomalies(conn, day, anomaly_band)),
            spend_rate_result(spend_rate(conn, day, spend_rate_band)),
        ]
        for day, per_currency in totals.items()
    }
