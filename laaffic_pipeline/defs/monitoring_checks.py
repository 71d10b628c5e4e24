"""Warning checks that watch trends rather than correctness: schema drift and cost anomalies.

Factories, so the assets' keys, partitions and the band come in as arguments. Both checks are
WARN and non-blocking: they never fail a run, the check-failure alert sensor reports them.
"""

from datetime import date

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    DailyPartitionsDefinition,
    MetadataValue,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from laaffic_pipeline.warehouse.cost_anomalies import (
    DEFAULT_BAND,
    FLOOR_ABSOLUTE,
    FLOOR_SHARE,
    HISTORY_DAYS,
    MIN_HISTORY_DAYS,
    CostAnomalies,
    cost_anomalies,
)
from laaffic_pipeline.warehouse.schema_drift import DOCUMENTED_FIELDS, DRIFT_KINDS, SchemaDrift, schema_drift

SCHEMA_DRIFT_CHECK_NAME = "schema_matches_api_document"
COST_ANOMALY_CHECK_NAME = "costs_within_trailing_band"


def schema_drift_result(drift: SchemaDrift) -> AssetCheckResult:
    return AssetCheckResult(
        passed=not drift.findings,
        severity=AssetCheckSeverity.WARN,
        description=drift.summary(),
        metadata={
            "records": drift.records,
            **{f"{kind}s": MetadataValue.json(drift.by_kind(kind)) for kind in DRIFT_KINDS},
        },
    )


def build_schema_drift_check(
    asset_key: AssetKey, partitions_def: DailyPartitionsDefinition
) -> AssetChecksDefinition:
    """WARN check on the raw records' asset: keys and JSON types sent vs the API document."""

    @asset_check(
        asset=asset_key,
        name=SCHEMA_DRIFT_CHECK_NAME,
        partitions_def=partitions_def,
        blocking=False,
        description=(
            f"The day's records carry the API document's {len(DOCUMENTED_FIELDS)} fields with their "
            "documented JSON types: new keys, missing keys and type changes are counted with up to "
            "5 example voice ids each. A warning: the records are landed and built all the same."
        ),
    )
    def schema_matches_api_document(
        context: AssetCheckExecutionContext, duckdb: DuckDBResource
    ) -> AssetCheckResult:
        with duckdb.get_connection() as conn:
            drift = schema_drift(conn, date.fromisoformat(context.partition_key))
        return schema_drift_result(drift)

    return schema_matches_api_document


def cost_anomaly_result(anomalies: CostAnomalies) -> AssetCheckResult:
    return AssetCheckResult(
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


def build_cost_anomaly_check(
    asset_key: AssetKey, partitions_def: DailyPartitionsDefinition, band: float = DEFAULT_BAND
) -> AssetChecksDefinition:
    """WARN check on the daily costs' asset: per currency and SIP group, cost and calls vs history."""

    @asset_check(
        asset=asset_key,
        name=COST_ANOMALY_CHECK_NAME,
        partitions_def=partitions_def,
        blocking=False,
        description=(
            f"Per currency and SIP group, the day's total cost and calls lie within {band:g} robust "
            f"standard deviations (1.4826 x MAD) of their median over the {HISTORY_DAYS} days before "
            f"(spread floored at {FLOOR_SHARE:.0%} of the median and at {FLOOR_ABSOLUTE:g}). Days with "
            f"fewer than {MIN_HISTORY_DAYS} built days before them pass, saying they were not judged. "
            "LAAFFIC_ANOMALY_BAND sets the band."
        ),
    )
    def costs_within_trailing_band(
        context: AssetCheckExecutionContext, duckdb: DuckDBResource
    ) -> AssetCheckResult:
        with duckdb.get_connection() as conn:
            anomalies = cost_anomalies(conn, date.fromisoformat(context.partition_key), band)
        return cost_anomaly_result(anomalies)

    return costs_within_trailing_band
