"""The one step that materializes days: raw landing, marts and every check, per day, for a range.

A run covers one day (the UI, ``dg launch --partition``) or a range (a backfill, the nightly
schedule: ``BackfillPolicy.single_run()``). Either way each day is its own API window (or, with
``LAAFFIC_SIP_GROUPS``, one window per listed SIP group), its own raw transaction, and its own
materialization and check results in the UI. What happens to the days of a run, in order;
everything but the API reads happens on the step's own thread, which alone uses DuckDB and alone
talks to Dagster:

1. **Plan.** A day the API still serves is read: whole once it is final (it ended
   ``LAAFFIC_FINAL_LAG_MIN`` ago), else only what is new of it (today: ``defs/laaffic/reading.py``).
   A day past its two months is never requested: stored, its raw is kept as it is (said on its
   materialization) and its marts are rebuilt from it; not stored, it is the one failure, naming
   the day and the floor.
2. **Read.** ``DayReads`` reads the days in one background thread, several at once through one
   client, and hands over each day once all its windows have settled (and each staged read to
   judge).
3. **Land.** Each day read is landed in its own transaction (every window's read together): a
   final read replaces the day and is archived, a provisional one is merged into it. Then it is
   judged (page counts, window by window; schema drift) and recorded, one log line a day.
4. **Build.** Once every day up to some day has settled, the settled days not built yet are
   built a batch of up to ``MARTS_BATCH_DAYS`` at a time: marts rebuilt in one transaction, each
   day exported to Parquet, checked and recorded. Day D reads raw D-1 and its cost band the days
   before it, hence the order. A day failing its page check is landed but kept out of the marts.
5. **End.** The analysts' file is refreshed; the run fails naming every day that failed.
"""

import time
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from duckdb import DuckDBPyConnection
from pydantic import Field

from laaffic_pipeline.api.window import QueryWindow, format_api_time, retention_floor
from laaffic_pipeline.defs.interrupts import is_interrupt
from laaffic_pipeline.defs.laaffic.checks import archive_result, page_count_result, schema_drift_result
from laaffic_pipeline.defs.laaffic.fetching import DayRead, DayReads, DayUnread, Judgment, LogLine
from laaffic_pipeline.defs.laaffic.reading import DayNotBegunError, is_final_at, plan_read
from laaffic_pipeline.defs.laaffic.specs import (
    PAGE_COUNT_CHECK,
    RAW_CALL_RECORDS_KEY,
    raw_check_specs,
    raw_specs,
)
from laaffic_pipeline.defs.marts.checks import call_facts_results, daily_costs_results
from laaffic_pipeline.defs.marts.specs import CALL_FACTS_KEY, DAILY_COSTS_KEY, mart_check_specs, mart_specs
from laaffic_pipeline.defs.metadata import evaluation, markdown_table
from laaffic_pipeline.defs.partitions import query_window
from laaffic_pipeline.defs.resources import (
    ClockResource,
    LaafficApiResource,
    MartsResource,
    WarehouseResource,
    WarehouseSession,
)
from laaffic_pipeline.settings import MartsSettings, PipelineSettings
from laaffic_pipeline.warehouse.analytics import ensure_analytics_file
from laaffic_pipeline.warehouse.archive import ArchiveError, archive_day, configured_archive_url, verify_day
from laaffic_pipeline.warehouse.consistency import day_figures, day_page_count_problems
from laaffic_pipeline.warehouse.exports import export_partition, exports_dir
from laaffic_pipeline.warehouse.landing import (
    PartitionShrinkError,
    WindowRead,
    ensure_raw_tables,
    merge_raw_partition,
    provisional_days_among,
    replace_raw_partition,
    stored_days_among,
)
from laaffic_pipeline.warehouse.marts import MartsRebuild, ensure_mart_tables, rebuild_marts
from laaffic_pipeline.warehouse.schema_drift import SchemaDrift, schema_drift
from laaffic_pipeline.warehouse.sql import query_rows
from laaffic_pipeline.warehouse.tables import (
    MARTS_CALL_FACTS,
    MARTS_DAILY_COSTS,
)

MARTS_BATCH_DAYS = 7
"""Consecutive settled days whose marts are rebuilt in one transaction: DuckDB's working set stays
that of a batch whatever the range, and the first batch is recorded while later days are read."""

Event = dg.AssetMaterialization | dg.AssetCheckEvaluation


class DaysConfig(dg.Config):
    allow_fewer_rows: bool = Field(
        default=False,
        description="Replace a stored day even if the re-fetch has fewer records (e.g. API purged it).",
    )


def laaffic_days_asset(
    settings: PipelineSettings, partitions: dg.DailyPartitionsDefinition
) -> dg.AssetsDefinition:
    """The step, for ``settings``' partitions and retry policy (definition-time values)."""

    @dg.multi_asset(
        name="laaffic_days",
        specs=[*raw_specs(partitions), *mart_specs(partitions, settings)],
        check_specs=[*raw_check_specs(partitions), *mart_check_specs(partitions)],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
        # One run at a time writes the warehouse (DuckDB takes one writer), so two runs never work
        # on the same day at once, and a range's reads share one client's limits.
        pool="laaffic_warehouse",
        # Re-runs the step when a fetch failed for reasons a later try can fix (e.g. an outage).
        retry_policy=dg.RetryPolicy(
            max_retries=settings.step_retries,
            delay=settings.step_retry_delay_s,
            backoff=dg.Backoff.EXPONENTIAL,
        ),
    )
    def laaffic_days(
        context: dg.AssetExecutionContext,
        config: DaysConfig,
        laaffic: LaafficApiResource,
        duckdb: WarehouseResource,
        marts: MartsResource,
        clock: ClockResource,
    ) -> Iterator[Event]:
        try:
            yield from materialize_days(
                context, config, laaffic, duckdb, marts.settings, partitions, clock.now()
            )
        except (Exception, dg.DagsterExecutionInterruptedError, KeyboardInterrupt) as error:
            # Dagster re-runs an interrupted step that has a retry policy, so the UI's Terminate (or
            # Ctrl-C on `dg launch`) would be followed by the whole range again 30 s later: stop.
            # An interrupt arriving inside a DuckDB query surfaces as DuckDB's error (is_interrupt).
            if not is_interrupt(error):
                raise
            raise dg.Failure(
                "The run was interrupted (terminated from the UI, Ctrl-C or a shutdown) and is not "
                "retried. Each day landed before that is stored whole and recorded; the others were "
                "not written. Launch the range again to finish it.",
                allow_retries=False,
            ) from error

    return laaffic_days


@dataclass
class RunDays:
    """What the step knows of its days as they settle (its own thread's state, shared with none)."""

    keys: list[str]
    settled: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # not landed: why
    unservable: list[str] = field(default_factory=list)  # past the API's two months, nothing stored
    floor: datetime | None = None
    kept_out: dict[str, str] = field(default_factory=dict)  # landed or stored, but not built: why
    provisional: set[str] = field(default_factory=set)  # read before they were final: merged
    retryable: bool = True  # whether a later try could mend every failure
    built: list[str] = field(default_factory=list)

    def ready_to_build(self, *, final: bool) -> list[list[str]]:
        """Batches of settled days to build now: days every one of whose predecessors in the run has
        settled, not built yet, neither failed nor kept out; by whole batches unless ``final``."""
        waiting, done = [], {*self.built, *self.failed, *self.kept_out, *self.unservable}
        for key in self.keys:
            if key not in self.settled:
                break
            if key not in done:
                waiting.append(key)
        batches = [waiting[i : i + MARTS_BATCH_DAYS] for i in range(0, len(waiting), MARTS_BATCH_DAYS)]
        return batches if final else [batch for batch in batches if len(batch) == MARTS_BATCH_DAYS]

    def failure(self) -> dg.Failure | None:
        everything = {**self.failed, **self.kept_out}
        if not everything and not self.unservable:
            return None
        reasons = [f"{key}: {message}" for key, message in sorted(everything.items())]
        if self.unservable:
            assert self.floor is not None
            reasons.insert(
                0,
                f"{len(self.unservable)} day(s) {spans(self.unservable)}: they start before the API's "
                f"retention limit {format_api_time(self.floor)} (it keeps only the last two months) and the "
                "warehouse holds nothing of them, so they can no longer be fetched; nothing was "
                "requested for them",
            )
        return dg.Failure(
            f"{len(everything) + len(self.unservable)} of {len(self.keys)} day(s) failed: "
            + "; ".join(reasons),
            # A later try can fix a fetch; a failed page check is what the API sent.
            allow_retries=self.retryable and not self.unservable and bool(self.failed) and not self.kept_out,
        )


def materialize_days(
    context: dg.AssetExecutionContext,
    config: DaysConfig,
    laaffic: LaafficApiResource,
    duckdb: WarehouseResource,
    rules: MartsSettings,
    partitions: dg.DailyPartitionsDefinition,
    now: datetime,
) -> Iterator[Event]:
    """Steps 1-5 of the module's docstring for the run's days and selection, at ``now``."""
    days = RunDays(list(context.partition_keys))
    selected = context.selected_asset_keys
    landing = RAW_CALL_RECORDS_KEY in selected
    building = bool({CALL_FACTS_KEY, DAILY_COSTS_KEY} & selected)
    windows = {key: query_window(partitions.time_window_for_partition_key(key)) for key in days.keys}
    floor = retention_floor(now)
    describe_run(context, days.keys)
    started = time.monotonic()

    def prepare(conn: DuckDBPyConnection) -> None:
        ensure_raw_tables(conn)
        if building:
            ensure_mart_tables(conn, rules.cost_currency)

    exports = exports_dir(duckdb.database)
    with duckdb.session(prepare) as warehouse:

        def build_ready(*, final: bool = False) -> Iterator[Event]:
            if building:
                for batch in days.ready_to_build(final=final):
                    yield from build_batch(context, warehouse.conn, batch, rules, days.built, exports)

        # 1. Plan.
        servable = {key: window for key, window in windows.items() if window.start >= floor}
        expired = [key for key in days.keys if key not in servable]
        to_read: dict[str, QueryWindow] = {}
        if not landing:  # the marts alone: every day is as stored; its page check decides
            days.kept_out.update(stored_days_failing_page_check(warehouse.conn, days.keys))
            days.settled.update(days.keys)
        else:
            to_read = plan_reads(context, warehouse, laaffic, servable, now, days)
        if landing and expired:
            stored = {day.isoformat() for day in stored_days_among(warehouse.conn, expired)}
            for key in expired:
                if key in stored:
                    yield from keep_stored_day(context, warehouse.conn, key, windows[key], floor, days)
                else:
                    days.unservable.append(key)
                days.settled.add(key)
            days.floor = floor
        if to_read:
            provisional = f" ({len(days.provisional)} provisional)" if days.provisional else ""
            context.log.info(f"Reading {len(to_read)} day(s){provisional} from the API: {laaffic.describe()}")
        yield from build_ready()

        # 2-4. Read, land, build, as the days settle.
        with DayReads(
            laaffic.client,
            to_read,
            staging=Path(duckdb.database).parent,
            days_in_flight=laaffic.client_settings.days_in_flight,
            max_reads=laaffic.client_settings.max_reads,
            memory_limit=duckdb.settings.duckdb_memory_limit,
            sip_groups=laaffic.client_settings.sip_groups,
        ) as reads:
            for item in reads:
                if isinstance(item, Judgment):
                    item.run()
                    continue
                if isinstance(item, LogLine):
                    getattr(context.log, item.level)(item.message)
                    continue
                if isinstance(item, DayRead):
                    yield from land_day(context, warehouse.conn, item, to_read[item.key], config, days, now)
                elif isinstance(item, DayUnread):
                    days.failed[item.key] = item.reason
                    days.retryable &= item.error.retryable
                    context.log.error(f"{item.key}: not landed: {item.reason}")
                days.settled.add(item.key)
                yield from build_ready()
        if to_read:
            context.log.info(
                f"Landed {len(to_read) - len(days.failed.keys() & to_read.keys())} of {len(to_read)} "
                f"day(s) read with {reads.requests.sent} requests ({reads.requests.retries} retried after "
                f"an error, {reads.requests.throttled} after HTTP 429) in {time.monotonic() - started:.1f}s"
            )

        # 5. End.
        yield from build_ready(final=True)
        if days.built:
            refresh = ensure_analytics_file(
                duckdb.database,
                duckdb.settings.analytics_file,
                storage_version=duckdb.settings.duckdb_storage_version,
                log=context.log,
            )
            if refresh:
                context.log.info(refresh.message)
            context.log.info(
                f"Built, exported and checked the marts of {len(days.built)} day(s) in "
                f"{time.monotonic() - started:.1f}s from the start of the step"
            )
    context.log.info(
        "Every check result was recorded on its own day (a step over many days records them as events, "
        "so Dagster also says the step did not yield its check outputs: nothing was skipped)."
    )
    if (failure := days.failure()) is not None:
        raise failure


def spans(keys: list[str]) -> str:
    """Consecutive days written as ranges: ``2026-09-27; 2026-09-29 .. 2026-10-02``."""
    days = [date.fromisoformat(key) for key in keys]
    runs: list[list[date]] = []
    for day in days:
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return "; ".join(f"{run[0]}" if len(run) == 1 else f"{run[0]} .. {run[-1]}" for run in runs)


def describe_run(context: dg.AssetExecutionContext, keys: list[str]) -> None:
    """Tag a ranged run with its days, so the UI's runs list shows them (a single day has its badge)."""
    if len(keys) > 1:
        context.instance.add_run_tags(
            context.run.run_id, {"laaffic/days": f"{keys[0]}...{keys[-1]} ({len(keys)} days)"}
        )


def plan_reads(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseSession,
    laaffic: LaafficApiResource,
    servable: dict[str, QueryWindow],
    now: datetime,
    days: RunDays,
) -> dict[str, QueryWindow]:
    """The window to read of each day the API serves: the whole day once final, else what is new of
    it since its last refresh (``days.provisional``); a day with nothing new is settled unread."""
    settings = laaffic.client_settings
    final_lag = timedelta(minutes=settings.final_lag_min)
    overlap = timedelta(minutes=settings.intraday_overlap_min)
    unfinished = [
        date.fromisoformat(key)
        for key, window in servable.items()
        if not is_final_at(window.end, now, final_lag)
    ]
    # Only a run with a day not yet final asks the warehouse (opening it) before reading.
    refreshed = provisional_days_among(warehouse.conn, unfinished) if unfinished else {}
    to_read = {}
    for key, window in servable.items():
        stored = refreshed.get(date.fromisoformat(key))
        try:
            plan = plan_read(
                window,
                now,
                final_lag=final_lag,
                overlap=overlap,
                read_until=stored.read_until if stored else None,
            )
        except DayNotBegunError as error:
            days.failed[key] = f"not read: {error}"
            days.retryable = False
            days.settled.add(key)
            continue
        if plan.window is None:
            context.log.info(f"{key}: nothing new to read since the last refresh, which ended at now")
            days.settled.add(key)
            continue
        to_read[key] = plan.window
        if not plan.final:
            days.provisional.add(key)
    return to_read


def judge_stored_day(conn: DuckDBPyConnection, key: str) -> tuple[list[dict[str, Any]], SchemaDrift]:
    """What the warehouse holds of a day, as its raw checks judge it: page figures per window and
    schema drift (of a day just landed, or one kept as stored)."""
    return query_rows(conn, "page_count_consistency", {"partition_date": key}), schema_drift(
        conn, date.fromisoformat(key)
    )


def keep_stored_day(
    context: dg.AssetExecutionContext,
    conn: DuckDBPyConnection,
    key: str,
    window: QueryWindow,
    floor: datetime,
    days: RunDays,
) -> Iterator[Event]:
    """A stored day past the API's two months: its raw stays as it is, recorded as kept, and judged."""
    landed, drift = judge_stored_day(conn, key)
    rows = day_figures(landed)["records_landed"]
    reason = (
        f"kept as stored: the day starts {window.str_time}, before the API's retention limit "
        f"{format_api_time(floor)}, so it was not requested; the warehouse's copy is the only one"
    )
    context.log.info(f"{key}: {reason} ({rows} records)")
    yield dg.AssetMaterialization(
        asset_key=RAW_CALL_RECORDS_KEY,
        partition=key,
        metadata={"kept_as_stored": reason, "requests_sent": 0, "dagster/row_count": rows},
    )
    yield from record_raw_checks(key, landed, drift, days)
    yield archive_and_verify(context, conn, key)


def land_day(
    context: dg.AssetExecutionContext,
    conn: DuckDBPyConnection,
    day: DayRead,
    window: QueryWindow,
    config: DaysConfig,
    days: RunDays,
    now: datetime,
) -> Iterator[Event]:
    """Land the day's reads (one per window) in one transaction, judge what landed, record it: a
    final read replaces the day, a provisional one (``days.provisional``) is merged into it."""
    final = day.key not in days.provisional
    reads = [
        WindowRead(read.staged, window.str_time, window.end_time, read.reads, group)
        for group, read in day.reads.items()
    ]
    try:
        if final:
            landed = replace_raw_partition(
                conn,
                date.fromisoformat(day.key),
                reads,
                allow_fewer_rows=config.allow_fewer_rows,
                prepared=True,
            )
        else:
            landed = merge_raw_partition(
                conn, date.fromisoformat(day.key), reads, window.end, refreshed_at=now, prepared=True
            )
    except PartitionShrinkError as error:
        days.failed[day.key] = str(error)
        days.retryable = False
        context.log.error(f"{day.key}: not landed: {error}")
        return
    finally:
        day.discard()
    stored, drift = judge_stored_day(conn, day.key)
    windows = window_figures(day, stored)
    summary = {
        name: sum(figures[name] for figures in windows.values())
        for name in ("pages_fetched", "reported_total", "records_received", "reads")
    }
    requests = day.total_requests
    done = len(days.settled) + 1
    per_group = "".join(
        f"; {group}: {figures['records_landed']} records, {figures['pages_fetched']} pages, "
        f"{figures['reads']} read(s), {figures['requests_sent']} requests"
        for group, figures in windows.items()
        if group
    )
    how = (
        "landed"
        if final
        else f"provisional, read up to {window.end_time}: merged {summary['records_received']} into"
    )
    context.log.info(
        f"{day.key}: {how} {landed.rows_after} records from {summary['pages_fetched']} pages in "
        f"{summary['reads']} read(s), {requests.sent} requests, {day.seconds:.1f}s "
        f"({done} of {len(days.keys)}){per_group}"
    )
    grouped = any(day.reads)
    metadata: dict[str, Any] = {
        "is_final": final,
        "window": f"{window.str_time} .. {window.end_time}",
        **summary,
        "duplicates_dropped": summary["records_received"] - landed.rows_after,
        # The one window's problems per read; per group when the day is read per group.
        "read_problems": dg.MetadataValue.json(
            {group: read.history for group, read in day.reads.items()} if grouped else day.reads[""].history
        ),
        "requests_sent": requests.sent,
        "request_retries": requests.retries,
        "requests_throttled": requests.throttled,
        ("rows_replaced" if final else "rows_before_merge"): landed.rows_before,
        "dagster/row_count": landed.rows_after,
    }
    if grouped:
        metadata["by_sip_group"] = dg.MetadataValue.json(windows)
    yield dg.AssetMaterialization(asset_key=RAW_CALL_RECORDS_KEY, partition=day.key, metadata=metadata)
    yield from record_raw_checks(day.key, stored, drift, days)
    if final:  # a provisional day changes at every refresh: archived once, when final
        yield archive_and_verify(context, conn, day.key)


def archive_and_verify(context: dg.AssetExecutionContext, conn: DuckDBPyConnection, key: str) -> Event:
    """Archive the day's committed raw as a new version (none when the latest holds the same rows)
    and check the archive against the warehouse; archiving failing fails this check, not the day."""
    settings = context.resources.duckdb.settings
    url = configured_archive_url(settings.archive_url, settings.duckdb_path)
    day, archived = date.fromisoformat(key), None
    try:
        archived = archive_day(conn, day, url, run_id=context.run.run_id, landed_at=datetime.now(UTC))
        # A version written now was checked before it was uploaded (its files' rows have the
        # warehouse's digests); one written earlier is compared with the warehouse again.
        problems = [] if archived.written else verify_day(conn, day, url)
    except ArchiveError as error:
        problems = [f"{key} could not be archived: {error}"]
    return evaluation(archive_result(problems, archived), key)


def window_figures(day: DayRead, stored: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each window's figures, by group: its read (pages, reported total, records received, reads,
    requests) and, from ``stored`` (the landed day's page figures), the records landed from it."""
    landed = {figures["sip_group_name"]: figures["records_landed"] for figures in stored}
    return {
        group: {
            "records_landed": landed.get(group, 0),
            **read.staged.page_summary(),
            "reads": read.reads,
            "requests_sent": day.requests[group].sent,
            "request_retries": day.requests[group].retries,
            "requests_throttled": day.requests[group].throttled,
        }
        for group, read in day.reads.items()
    }


def record_raw_checks(
    key: str, windows: list[dict[str, Any]], drift: SchemaDrift, days: RunDays
) -> Iterator[Event]:
    """The raw checks of a day (``windows``: its page figures, a row per window); a failed page
    check keeps it out of the marts."""
    page_check = page_count_result(windows)
    yield evaluation(page_check, key)
    yield evaluation(schema_drift_result(drift), key)
    if not page_check.passed:
        days.kept_out[key] = kept_out_because(page_check.description or "")


def stored_days_failing_page_check(conn: DuckDBPyConnection, keys: list[str]) -> dict[str, str]:
    """Stored days whose raw fails the page-count rule, with why: kept out of a marts-only run."""
    failing = {}
    for key in keys:
        windows = query_rows(conn, "page_count_consistency", {"partition_date": key})
        if problems := day_page_count_problems(windows):
            failing[key] = kept_out_because("; ".join(problems))
    return failing


def kept_out_because(problems: str) -> str:
    """Why a day is left out of the marts, as the run's failure names it."""
    return f"{PAGE_COUNT_CHECK} failed ({problems}); its marts were not rebuilt"


def build_batch(
    context: dg.AssetExecutionContext,
    conn: DuckDBPyConnection,
    keys: list[str],
    rules: MartsSettings,
    built: list[str],
    exports: Path,
) -> Iterator[Event]:
    """Rebuild the marts of ``keys`` in one transaction, check them (each check one query for the
    batch), then export and record each day."""
    started = time.monotonic()
    batch = [date.fromisoformat(key) for key in keys]
    rebuilt = rebuild_marts(conn, batch, rules.cost_currency, prepared=True)
    selected = context.selected_asset_keys
    checks = BatchChecks(
        call_facts_results(conn, batch, rules.max_flagged_share) if CALL_FACTS_KEY in selected else {},
        daily_costs_results(conn, batch, rules.anomaly_band, rules.spend_rate_band)
        if DAILY_COSTS_KEY in selected
        else {},
    )
    for day in batch:
        yield from record_day(conn, selected, day, rebuilt, checks, exports, rules)
    built.extend(keys)
    context.log.info(
        f"Rebuilt, exported and checked the marts of {keys[0]} .. {keys[-1]} ({len(keys)} day(s)) "
        f"in {time.monotonic() - started:.1f}s"
    )


@dataclass(frozen=True)
class BatchChecks:
    """The check results of a built batch, by day (each table's, when selected)."""

    call_facts: dict[date, list[dg.AssetCheckResult]]
    daily_costs: dict[date, list[dg.AssetCheckResult]]


def record_day(
    conn: DuckDBPyConnection,
    selected: AbstractSet[dg.AssetKey],
    day: date,
    built: MartsRebuild,
    checks: BatchChecks,
    exports: Path,
    rules: MartsSettings,
) -> Iterator[Event]:
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
                "cost_currency_rule": rules.cost_currency,
                "export_path": dg.MetadataValue.path(str(path.resolve())),
            },
        )
        for result in checks.call_facts[day]:
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
        for result in checks.daily_costs[day]:
            yield evaluation(result, key)
