"""The one step that materializes days: raw landing, marts and every check, per day, for a range.

A run covers one day (the UI, ``dg launch --partition``) or a range (a backfill, the nightly
schedule: ``BackfillPolicy.single_run()``). Either way each day is its own API window, its own
raw transaction, and its own materialization and check results in the UI. A day whose page-count
check fails is landed but not built into the marts, the other days are, and the run fails naming
it. The UI can also materialize a subset, e.g. the marts alone to restate stored days from raw.
"""

import time
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from laaffic_pipeline.defs.laaffic.checks import page_count_result, schema_drift_result
from laaffic_pipeline.defs.laaffic.landing import land_days
from laaffic_pipeline.defs.laaffic.specs import (
    PAGE_COUNT_CHECK,
    RAW_CALL_RECORDS_KEY,
    raw_check_specs,
    raw_specs,
)
from laaffic_pipeline.defs.marts.checks import call_facts_results, daily_costs_results
from laaffic_pipeline.defs.marts.specs import CALL_FACTS_KEY, DAILY_COSTS_KEY, mart_check_specs, mart_specs
from laaffic_pipeline.defs.metadata import evaluation, markdown_table
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.defs.resources import LaafficApiResource, WarehouseResource
from laaffic_pipeline.settings import load_settings
from laaffic_pipeline.warehouse.analytics import default_analytics_path, ensure_analytics_file
from laaffic_pipeline.warehouse.consistency import page_count_problems
from laaffic_pipeline.warehouse.exports import export_partition, exports_dir
from laaffic_pipeline.warehouse.marts import MartsRebuild, rebuild_marts
from laaffic_pipeline.warehouse.sql import query_rows
from laaffic_pipeline.warehouse.tables import MARTS_CALL_FACTS, MARTS_DAILY_COSTS

SETTINGS = load_settings()
MARTS_DAYS_PER_BUILD = 7


class DaysConfig(dg.Config):
    allow_fewer_rows: bool = Field(
        default=False,
        description="Replace a stored day even if the re-fetch has fewer records (e.g. API purged it).",
    )


@dg.multi_asset(
    name="laaffic_days",
    specs=[*raw_specs(), *mart_specs()],
    check_specs=[*raw_check_specs(), *mart_check_specs()],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
    # One run at a time writes the warehouse: never two runs of the same day, and a range's
    # fetches share one client's limits instead of competing runs multiplying them.
    pool="laaffic_warehouse",
    # Re-runs the step when a fetch failed for reasons a later try can fix (e.g. an outage).
    retry_policy=dg.RetryPolicy(
        max_retries=SETTINGS.step_retries, delay=SETTINGS.step_retry_delay_s, backoff=dg.Backoff.EXPONENTIAL
    ),
)
def laaffic_days(
    context: dg.AssetExecutionContext,
    config: DaysConfig,
    laaffic: LaafficApiResource,
    duckdb: WarehouseResource,
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    keys = list(context.partition_keys)
    selected = context.selected_asset_keys
    failed: dict[str, str] = {}  # days whose fetch or landing failed
    kept_out: dict[str, str] = {}  # days landed but left out of the marts (failed page check)
    retryable = True

    started = time.monotonic()
    if RAW_CALL_RECORDS_KEY in selected:
        landing = land_days(
            context,
            laaffic,
            duckdb,
            keys,
            allow_fewer_rows=config.allow_fewer_rows,
            days_in_flight=SETTINGS.days_in_flight,
        )
        failed.update(landing.failed)
        retryable = landing.retryable
        for key, landed in sorted(landing.landed.items()):
            yield dg.AssetMaterialization(
                asset_key=RAW_CALL_RECORDS_KEY,
                partition=key,
                metadata={**landed.metadata, **landing.requests},
            )
            page_check = page_count_result(landed.page_figures)
            yield evaluation(page_check, key)
            yield evaluation(schema_drift_result(landed.drift), key)
            if not page_check.passed:  # blocking: whether or not the marts are part of this run
                kept_out[key] = (
                    f"{PAGE_COUNT_CHECK} failed ({page_check.description}); its marts were not rebuilt"
                )
        to_build = [key for key in keys if key in landing.landed and key not in kept_out]
        context.log.info(
            f"Fetched and landed {len(landing.landed)} day(s) in {time.monotonic() - started:.1f}s"
        )
    else:
        to_build = keys

    if {CALL_FACTS_KEY, DAILY_COSTS_KEY} & selected and to_build:
        started = time.monotonic()
        # Days landed by this run were judged when landed; stored days are judged here.
        judge_stored = RAW_CALL_RECORDS_KEY not in selected
        yield from build_marts(context, duckdb, to_build, kept_out, judge_stored=judge_stored)
        context.log.info(
            f"Built, exported and checked the marts of {len(to_build)} day(s) "
            f"in {time.monotonic() - started:.1f}s"
        )

    if failed or kept_out:
        everything = {**failed, **kept_out}
        raise dg.Failure(
            f"{len(everything)} of {len(keys)} day(s) failed: "
            + "; ".join(f"{key}: {message}" for key, message in sorted(everything.items())),
            # A later try can fix a fetch; a failed page check is what the API sent.
            allow_retries=retryable and bool(failed) and not kept_out,
        )


def build_marts(
    context: dg.AssetExecutionContext,
    duckdb: WarehouseResource,
    keys: list[str],
    kept_out: dict[str, str],
    *,
    judge_stored: bool,
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """Rebuild both marts for the days of ``keys``, a week per transaction; then export, check and
    record each day. With ``judge_stored``, days whose stored raw fails the page-count rule are
    left out (into ``kept_out``) first."""
    selected = context.selected_asset_keys
    with duckdb.get_connection() as conn:
        good = []
        for key in keys:
            problems = []
            if judge_stored:
                (figures,) = query_rows(conn, "page_count_consistency", {"partition_date": key})
                problems = page_count_problems(figures)
            if problems:
                kept_out[key] = (
                    f"{PAGE_COUNT_CHECK} failed ({'; '.join(problems)}); its marts were not rebuilt"
                )
            else:
                good.append(date.fromisoformat(key))
        if not good:
            return
        exports = exports_dir(duckdb.database)
        # A week at a time: DuckDB's working set stays that of a week, whatever the range; each
        # day is still rebuilt whole in one transaction.
        for first in range(0, len(good), MARTS_DAYS_PER_BUILD):
            week = good[first : first + MARTS_DAYS_PER_BUILD]
            started = time.monotonic()
            built = rebuild_marts(conn, week, SETTINGS.cost_currency)
            context.log.info(f"Rebuilt the marts of {len(week)} day(s) in {time.monotonic() - started:.1f}s")
            for day in week:
                yield from record_day(conn, selected, day, built, exports)
    analytics = Path(SETTINGS.warehouse.analytics_path or default_analytics_path(duckdb.database))
    if ensure_analytics_file(
        duckdb.database, analytics, storage_version=SETTINGS.warehouse.duckdb_storage_version
    ):
        context.log.info(f"Wrote the analysts' file {analytics} (views over the Parquet exports)")


def record_day(
    conn: duckdb.DuckDBPyConnection,
    selected: AbstractSet[dg.AssetKey],
    day: date,
    built: MartsRebuild,
    exports: Path,
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """Export one built day and record its materializations and check results."""
    key = day.isoformat()
    facts = dict(built.call_facts[day])
    if CALL_FACTS_KEY in selected:
        path = export_partition(conn, MARTS_CALL_FACTS, day, exports)
        yield dg.AssetMaterialization(
            asset_key=CALL_FACTS_KEY,
            partition=key,
            metadata={
                "dagster/row_count": facts.pop("rows"),
                **facts,
                "cost_currency_rule": SETTINGS.cost_currency,
                "export_path": dg.MetadataValue.path(str(path.resolve())),
            },
        )
        for result in call_facts_results(conn, day, SETTINGS.max_flagged_share):
            yield evaluation(result, key)
    if DAILY_COSTS_KEY in selected:
        costs = built.daily_costs[day]
        path = export_partition(conn, MARTS_DAILY_COSTS, day, exports)
        yield dg.AssetMaterialization(
            asset_key=DAILY_COSTS_KEY,
            partition=key,
            metadata={
                "dagster/row_count": costs.rows,
                "by_currency": dg.MetadataValue.md(markdown_table(costs.by_currency)),
                "export_path": dg.MetadataValue.path(str(path.resolve())),
            },
        )
        for result in daily_costs_results(conn, day, SETTINGS.anomaly_band):
            yield evaluation(result, key)
