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
from laaffic_pipeline.defs.laaffic.landing import DayLanding, LandedDay
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
from laaffic_pipeline.warehouse.staging import ONE_DUCKDB_AT_A_TIME
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
    marts = MartsBuild(context, duckdb, kept_out) if {CALL_FACTS_KEY, DAILY_COSTS_KEY} & selected else None

    started = time.monotonic()
    if RAW_CALL_RECORDS_KEY in selected:
        with DayLanding(
            context,
            laaffic,
            duckdb,
            keys,
            allow_fewer_rows=config.allow_fewer_rows,
            days_in_flight=SETTINGS.days_in_flight,
        ) as landing:
            settled: set[str] = set()
            for key in landing.settled():
                settled.add(key)
                if key in landing.landed:
                    yield from record_landed_day(key, landing.landed[key], kept_out)
                if marts is not None:
                    # Day D's call facts read raw D-1, and its cost band the days before: the marts
                    # are built for the days all of whose predecessors in the run have settled.
                    yield from marts.add(settled_prefix(keys, settled), final=False)
        failed.update(landing.failed)
        retryable = landing.retryable
        context.log.info(
            f"Fetched and landed {len(landing.landed)} day(s) in {time.monotonic() - started:.1f}s"
        )
        built_from = [key for key in keys if key in landing.landed]
    else:
        built_from = keys
        if marts is not None:
            # Days landed by another run are judged here, as their landing judged them.
            kept_out.update(stored_days_failing_page_check(duckdb, keys))

    if marts is not None:
        yield from marts.add([key for key in built_from if key not in kept_out], final=True)
        context.log.info(
            f"Built, exported and checked the marts of {len(marts.built)} day(s) "
            f"in {time.monotonic() - started:.1f}s from the start of the step"
        )

    if failed or kept_out:
        everything = {**failed, **kept_out}
        raise dg.Failure(
            f"{len(everything)} of {len(keys)} day(s) failed: "
            + "; ".join(f"{key}: {message}" for key, message in sorted(everything.items())),
            # A later try can fix a fetch; a failed page check is what the API sent.
            allow_retries=retryable and bool(failed) and not kept_out,
        )


def settled_prefix(keys: list[str], settled: AbstractSet[str]) -> list[str]:
    """The keys, in order, before the first one that has not settled yet."""
    prefix = []
    for key in keys:
        if key not in settled:
            break
        prefix.append(key)
    return prefix


def record_landed_day(
    key: str, landed: LandedDay, kept_out: dict[str, str]
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """The raw materialization and check results of one landed day; a failed page check keeps the
    day out of the marts (whether or not the marts are part of this run)."""
    yield dg.AssetMaterialization(asset_key=RAW_CALL_RECORDS_KEY, partition=key, metadata=landed.metadata)
    page_check = page_count_result(landed.page_figures)
    yield evaluation(page_check, key)
    yield evaluation(schema_drift_result(landed.drift), key)
    if not page_check.passed:
        kept_out[key] = f"{PAGE_COUNT_CHECK} failed ({page_check.description}); its marts were not rebuilt"


def stored_days_failing_page_check(duckdb: WarehouseResource, keys: list[str]) -> dict[str, str]:
    """Stored days whose raw fails the page-count rule, with why: kept out of a marts-only run."""
    failing = {}
    with ONE_DUCKDB_AT_A_TIME, duckdb.get_connection() as conn:
        for key in keys:
            (figures,) = query_rows(conn, "page_count_consistency", {"partition_date": key})
            problems = page_count_problems(figures)
            if problems:
                failing[key] = (
                    f"{PAGE_COUNT_CHECK} failed ({'; '.join(problems)}); its marts were not rebuilt"
                )
    return failing


class MartsBuild:
    """The marts of a run's days, built a week per transaction as the days become ready.

    DuckDB's working set stays that of a week whatever the range, each day is rebuilt whole in one
    transaction, and the work takes its turn with the landings (``ONE_DUCKDB_AT_A_TIME``); the
    events of a week are yielded after its turn, so Dagster records them while landings go on.
    """

    def __init__(
        self, context: dg.AssetExecutionContext, duckdb: WarehouseResource, kept_out: dict[str, str]
    ) -> None:
        self._context = context
        self._duckdb = duckdb
        self._kept_out = kept_out
        self.built: list[str] = []

    def add(
        self, ready: list[str], *, final: bool
    ) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
        """Build the days of ``ready`` not built yet (nor kept out), by whole weeks unless ``final``."""
        done = set(self.built)
        waiting = [key for key in ready if key not in done and key not in self._kept_out]
        while len(waiting) >= MARTS_DAYS_PER_BUILD or (final and waiting):
            week, waiting = waiting[:MARTS_DAYS_PER_BUILD], waiting[MARTS_DAYS_PER_BUILD:]
            yield from self._build([date.fromisoformat(key) for key in week])
            self.built += week
        if final and self.built:
            self._write_analytics_file()

    def _build(self, week: list[date]) -> list[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
        selected = self._context.selected_asset_keys
        exports = exports_dir(self._duckdb.database)
        started = time.monotonic()
        with ONE_DUCKDB_AT_A_TIME, self._duckdb.get_connection() as conn:
            built = rebuild_marts(conn, week, SETTINGS.cost_currency)
            events = [event for day in week for event in record_day(conn, selected, day, built, exports)]
        seconds = time.monotonic() - started
        self._context.log.info(f"Rebuilt, exported and checked the marts of {len(week)} days: {seconds:.1f}s")
        return events

    def _write_analytics_file(self) -> None:
        analytics = Path(SETTINGS.warehouse.analytics_path or default_analytics_path(self._duckdb.database))
        if ensure_analytics_file(
            self._duckdb.database, analytics, storage_version=SETTINGS.warehouse.duckdb_storage_version
        ):
            self._context.log.info(f"Wrote the analysts' file {analytics} (views over the Parquet exports)")


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
