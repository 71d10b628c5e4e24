"""The one step that materializes days: raw landing, marts and every check, per day, for a range.

A run covers one day (the UI, ``dg launch --partition``) or a range (a backfill, the nightly
schedule: ``BackfillPolicy.single_run()``). Either way each day is its own API window, its own
raw transaction, and its own materialization and check results in the UI. A day whose page-count
check fails is landed but not built into the marts, the other days are, and the run fails naming
it. The UI can also materialize a subset, e.g. the marts alone to restate stored days from raw.

A range streams: one worker thread reads and lands the days, another builds the marts of each
week whose days have settled, and the step's own thread records what they post (``mailbox``), so
the UI shows each day as it lands and the marts are built while later days are still read.
"""

import time
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import dagster as dg
from duckdb import DuckDBPyConnection
from pydantic import Field

from laaffic_pipeline.defs.laaffic.checks import page_count_result, schema_drift_result
from laaffic_pipeline.defs.laaffic.landing import DayLanding, LandedDay
from laaffic_pipeline.defs.laaffic.specs import (
    PAGE_COUNT_CHECK,
    RAW_CALL_RECORDS_KEY,
    raw_check_specs,
    raw_specs,
)
from laaffic_pipeline.defs.mailbox import DaySettled, LandingEnded, Log, Mailbox, WeekBuilt
from laaffic_pipeline.defs.marts.checks import call_facts_results, daily_costs_results
from laaffic_pipeline.defs.marts.specs import CALL_FACTS_KEY, DAILY_COSTS_KEY, mart_check_specs, mart_specs
from laaffic_pipeline.defs.metadata import evaluation, markdown_table
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.defs.resources import LaafficApiResource, WarehouseResource, WarehouseSession
from laaffic_pipeline.settings import load_settings
from laaffic_pipeline.warehouse.analytics import default_analytics_path, ensure_analytics_file
from laaffic_pipeline.warehouse.consistency import page_count_problems
from laaffic_pipeline.warehouse.exports import export_partition, exports_dir
from laaffic_pipeline.warehouse.landing import prepare_for_landing
from laaffic_pipeline.warehouse.marts import MartsRebuild, ensure_mart_tables, rebuild_marts
from laaffic_pipeline.warehouse.sql import query_rows
from laaffic_pipeline.warehouse.tables import MARTS_CALL_FACTS, MARTS_DAILY_COSTS
from laaffic_pipeline.warehouse.turns import DUCKDB_TURNS, SMALL_WAREHOUSE_RECORDS

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
    selected = context.selected_asset_keys
    building = bool({CALL_FACTS_KEY, DAILY_COSTS_KEY} & selected)

    def prepare(conn: DuckDBPyConnection) -> None:
        # Tables and settings once, before any write: landings and marts then write side by side.
        if RAW_CALL_RECORDS_KEY in selected:
            prepare_for_landing(conn)
        if building:
            ensure_mart_tables(conn, SETTINGS.cost_currency)

    try:
        # One warehouse connection for the step's writes: each day and week is a cursor of it.
        with duckdb.session(prepare) as warehouse:
            yield from materialize_days(context, config, laaffic, duckdb, warehouse, building=building)
    except (dg.DagsterExecutionInterruptedError, KeyboardInterrupt) as interrupt:
        # Dagster re-runs an interrupted step that has a retry policy, so the UI's Terminate (or
        # Ctrl-C on `dg launch`) would be followed by the whole range again 30 s later: stop instead.
        raise dg.Failure(
            "The run was interrupted (terminated from the UI, Ctrl-C or a shutdown) and is not "
            "retried. Each day landed before that is stored whole and recorded; the others were not "
            "written. Launch the range again to finish it.",
            allow_retries=False,
        ) from interrupt


def materialize_days(
    context: dg.AssetExecutionContext,
    config: DaysConfig,
    laaffic: LaafficApiResource,
    duckdb: WarehouseResource,
    warehouse: WarehouseSession,
    *,
    building: bool,
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """Land the selected days (if raw is selected) in one worker thread and build their marts week
    by week in another as the days settle; record everything from this thread as it finishes; fail
    at the end naming every day that failed or was kept out of the marts."""
    keys = list(context.partition_keys)
    landing_raw = RAW_CALL_RECORDS_KEY in context.selected_asset_keys
    kept_out: dict[str, str] = {}  # days landed but left out of the marts (failed page check)
    mailbox = Mailbox()
    started = time.monotonic()
    with ExitStack() as stack:
        landing = (
            stack.enter_context(
                DayLanding(
                    context,
                    laaffic,
                    duckdb,
                    warehouse,
                    mailbox,
                    keys,
                    allow_fewer_rows=config.allow_fewer_rows,
                    days_in_flight=SETTINGS.days_in_flight,
                )
            )
            if landing_raw
            else None
        )
        landed = landing.landed if landing is not None else {}
        marts = (
            stack.enter_context(MartsBuild(context, warehouse, mailbox, kept_out, landed))
            if building
            else None
        )
        if landing is None and marts is not None:
            # Days landed by another run are judged here, as their landing judged them.
            kept_out.update(stored_days_failing_page_check(warehouse, keys))
            marts.submit(keys, final=True)
        settled: set[str] = set()
        landing_runs = landing is not None
        while landing_runs or (marts is not None and marts.pending):
            message = mailbox.get()
            if isinstance(message, Log):
                getattr(context.log, message.level)(message.message)
            elif isinstance(message, DaySettled):
                settled.add(message.key)
                assert landing is not None
                if message.key in landing.landed:
                    yield from record_landed_day(message.key, landing.landed[message.key], kept_out)
                if marts is not None:
                    # Day D's call facts read raw D-1, and its cost band the days before: the marts
                    # are built for the days all of whose predecessors in the run have settled.
                    ready = settled_prefix(keys, settled)
                    marts.submit(
                        [key for key in ready if key in landing.landed], final=len(ready) == len(keys)
                    )
            elif isinstance(message, LandingEnded):
                if message.error is not None:
                    raise message.error
                landing_runs = False
                assert landing is not None
                context.log.info(landing.summary())
                context.log.info(
                    f"Fetched and landed {len(landing.landed)} day(s) in {time.monotonic() - started:.1f}s"
                )
            elif isinstance(message, WeekBuilt):
                assert marts is not None
                yield from marts.received(message)
        if marts is not None:
            if (analytics := marts.write_analytics_file()) is not None:
                context.log.info(f"Wrote the analysts' file {analytics} (views over the Parquet exports)")
            context.log.info(
                f"Built, exported and checked the marts of {len(marts.built)} day(s) "
                f"in {time.monotonic() - started:.1f}s from the start of the step"
            )

    failed = landing.failed if landing is not None else {}
    if failed or kept_out:
        everything = {**failed, **kept_out}
        retryable = landing is not None and landing.retryable
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
        kept_out[key] = kept_out_because(page_check.description or "")


def stored_days_failing_page_check(warehouse: WarehouseSession, keys: list[str]) -> dict[str, str]:
    """Stored days whose raw fails the page-count rule, with why: kept out of a marts-only run."""
    failing = {}
    with DUCKDB_TURNS.turn(alone=True), warehouse.cursor() as conn:
        for key in keys:
            (figures,) = query_rows(conn, "page_count_consistency", {"partition_date": key})
            problems = page_count_problems(figures)
            if problems:
                failing[key] = kept_out_because("; ".join(problems))
    return failing


def kept_out_because(problems: str) -> str:
    """Why a day is left out of the marts, as the run's failure names it."""
    return f"{PAGE_COUNT_CHECK} failed ({problems}); its marts were not rebuilt"


class MartsBuild:
    """The marts of a run's days, built a week per transaction in a worker thread as days settle.

    DuckDB's working set stays that of a week whatever the range, each day is rebuilt whole in one
    transaction, and a week takes its turn (``DUCKDB_TURNS``): beside the landings under way when
    the week is small (``landed`` holds the days this run landed, with their rows), alone otherwise.
    Weeks are built one after another, oldest first (a day's cost band reads the days before it);
    each posts ``WeekBuilt`` with its Dagster events to the ``mailbox``.
    """

    def __init__(
        self,
        context: dg.AssetExecutionContext,
        warehouse: WarehouseSession,
        mailbox: Mailbox,
        kept_out: dict[str, str],
        landed: Mapping[str, LandedDay],
    ) -> None:
        self._selected = context.selected_asset_keys
        self._warehouse = warehouse
        self._mailbox = mailbox
        self._kept_out = kept_out
        self._landed = landed
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="laaffic-marts")
        self._submitted: set[str] = set()
        self.pending = 0  # weeks submitted and not yet received
        self.built: list[str] = []

    def __enter__(self) -> "MartsBuild":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    def submit(self, ready: list[str], *, final: bool) -> None:
        """Queue the days of ``ready`` not queued yet (nor kept out), by whole weeks unless ``final``."""
        waiting = [key for key in ready if key not in self._submitted and key not in self._kept_out]
        while len(waiting) >= MARTS_DAYS_PER_BUILD or (final and waiting):
            week, waiting = waiting[:MARTS_DAYS_PER_BUILD], waiting[MARTS_DAYS_PER_BUILD:]
            self._submitted.update(week)
            self.pending += 1
            self._worker.submit(self._build, week)

    def received(self, built: WeekBuilt) -> list[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
        """A week's events to record (or its error, raised)."""
        self.pending -= 1
        if built.error is not None:
            raise built.error
        self.built += built.keys
        return built.events

    def write_analytics_file(self) -> Path | None:
        """Rewrite the analysts' file if its views changed (after any week was built); its path if so."""
        if not self.built:
            return None
        database = self._warehouse.database
        analytics = Path(SETTINGS.warehouse.analytics_path or default_analytics_path(database))
        written = ensure_analytics_file(
            database, analytics, storage_version=SETTINGS.warehouse.duckdb_storage_version
        )
        return analytics if written else None

    def _build(self, keys: list[str]) -> None:
        started = time.monotonic()
        try:
            week = [date.fromisoformat(key) for key in keys]
            exports = exports_dir(self._warehouse.database)
            # Days this run did not land (a marts-only run) are of unknown size: built alone.
            alone = (
                any(key not in self._landed for key in keys)
                or sum(self._landed[key].metadata["dagster/row_count"] for key in keys)
                > SMALL_WAREHOUSE_RECORDS
            )
            with DUCKDB_TURNS.turn(alone=alone), self._warehouse.cursor() as conn:
                built = rebuild_marts(conn, week, SETTINGS.cost_currency, prepared=True)
                events = [
                    event for day in week for event in record_day(conn, self._selected, day, built, exports)
                ]
        except BaseException as error:
            self._mailbox.post(WeekBuilt(keys, [], error))
        else:
            seconds = time.monotonic() - started
            self._mailbox.post(
                Log("info", f"Rebuilt, exported and checked the marts of {len(keys)} days: {seconds:.1f}s")
            )
            self._mailbox.post(WeekBuilt(keys, events))


def record_day(
    conn: DuckDBPyConnection,
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
