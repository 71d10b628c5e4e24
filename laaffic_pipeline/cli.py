"""Command line: ``laaffic-pipeline <command>``; each command is one ``add_*_command`` function."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from laaffic_pipeline.local_stack import run_dev
from laaffic_pipeline.simulator import FaultConfig, LaafficSimulator
from laaffic_pipeline.warehouse.query import FORMATS, WarehouseQueryError


def add_simulate_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "simulate",
        help="serve a local Laaffic API with synthetic call records",
        description="Serve POST /v3/voice/recordSipQuery locally until SIGINT or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LAAFFIC_API_KEY"),
        help="key clients must send (default: $LAAFFIC_API_KEY)",
    )
    parser.add_argument(
        "--api-secret",
        default=os.environ.get("LAAFFIC_API_SECRET"),
        help="secret clients sign with (default: $LAAFFIC_API_SECRET, keeps it off the command line)",
    )
    parser.add_argument("--seed", type=int, default=7, help="same seed, same records")
    parser.add_argument("--records-per-day", type=int, default=500, help="records per UTC day")
    parser.add_argument("--record-offset", default="+08:00", help="zone offset of record times")
    parser.add_argument("--timestamp-tolerance-s", type=int, default=300)
    faults = parser.add_argument_group("faults (all off by default)")
    for spec in dataclasses.fields(FaultConfig):
        faults.add_argument(
            f"--{spec.name.replace('_', '-')}",
            dest=spec.name,
            default=spec.default,
            help=spec.metadata.get("help"),
            **_fault_flag(spec.type),
        )
    parser.set_defaults(run=run_simulate, parser=parser)


def _fault_flag(annotation: str) -> dict[str, Any]:
    """How a ``FaultConfig`` field of this type is given on the command line."""
    if annotation == "bool":
        return {"action": argparse.BooleanOptionalAction}
    if annotation == "tuple[str, ...]":
        return {"nargs": "+", "metavar": "VALUE"}
    return {"type": {"int": int, "float": float, "str": str}[annotation]}


def run_simulate(args: argparse.Namespace) -> int:
    if not args.api_key or not args.api_secret:
        args.parser.error("--api-key and --api-secret (or LAAFFIC_API_KEY/LAAFFIC_API_SECRET) are required")
    try:
        faults = FaultConfig(
            **{spec.name: getattr(args, spec.name) for spec in dataclasses.fields(FaultConfig)}
        )
        simulator = LaafficSimulator(
            args.api_key,
            args.api_secret,
            seed=args.seed,
            records_per_day=args.records_per_day,
            record_offset=args.record_offset,
            timestamp_tolerance_s=args.timestamp_tolerance_s,
            faults=faults,
        )
    except ValueError as error:
        args.parser.error(str(error))
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        simulator.start(args.host, args.port)
    except OSError as error:
        print(
            f"laaffic-pipeline simulate: cannot listen on {args.host}:{args.port}: {error} "
            "(is `make dev` or another simulator using it? pick another port: --port N, or "
            "`make simulate SIMULATOR_PORT=N`)",
            file=sys.stderr,
        )
        return 1
    with simulator:
        print(f"Laaffic simulator listening on {simulator.base_url}", flush=True)
        stopping.wait()
    return 0


def add_demo_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the daily job for the last days against a fresh simulator and print what landed",
    )
    parser.add_argument("--days", type=int, default=7, help="how many of the latest partitions")
    parser.add_argument("--records-per-day", type=int, default=500)
    parser.set_defaults(run=lambda args: _demo(args.days, args.records_per_day))


def _demo(days: int, records_per_day: int) -> int:
    from laaffic_pipeline.demo import run_demo  # imports Dagster: only when asked for

    status = run_demo(days=days, records_per_day=records_per_day)
    if status == 0:
        print(demo_next_steps(warehouse_files()[1]), flush=True)
    return status


def demo_next_steps(analytics: Path) -> str:
    """What to try after ``make demo``: the UI, a query of the analysts' file, the docs."""
    query = "SELECT call_date, currency, calls, total_cost FROM marts.daily_costs_by_currency ORDER BY 1 DESC"
    return (
        "\nNext:\n"
        "  make dev     the Dagster UI on http://127.0.0.1:3000, this run in its history; it prints\n"
        "               the `source` line a second shell needs for `dg launch`\n"
        f'  .venv/bin/laaffic-pipeline sql "{query}"\n'
        f"  .venv/bin/duckdb -readonly {analytics}   the analysts' file in the DuckDB CLI\n"
        "  docs/warehouse.md   every table and column, the KPIs, tested example queries"
    )


def add_dev_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "dev",
        help="the simulator plus the Dagster UI and daemon (dg dev), history kept in $DAGSTER_HOME",
        description="Start the simulator (a fresh random secret) and `dg dev` until Ctrl-C, SIGTERM or "
        "SIGHUP, which stop every process it started. Writes $DAGSTER_HOME/dev.env (mode 0600, removed "
        "on exit) with the export lines a second shell sources to reach the same simulator and "
        "instance, e.g. for `dg launch`.",
    )
    parser.add_argument(
        "--ui-port", type=int, default=3000, help="port of the Dagster UI on 127.0.0.1 (default 3000)"
    )
    parser.add_argument(
        "--simulator-port",
        type=int,
        default=8765,
        help="port of the simulator on 127.0.0.1 (default 8765; 0 picks a free one)",
    )
    parser.add_argument(
        "--records-per-day", type=int, default=500, help="synthetic records per UTC day (default 500)"
    )
    parser.set_defaults(run=run_dev_command)


def run_dev_command(args: argparse.Namespace) -> int:
    try:
        return run_dev(args.ui_port, args.simulator_port, args.records_per_day)
    except OSError as error:  # the simulator's port is taken
        print(
            f"laaffic-pipeline dev: cannot start the simulator on 127.0.0.1:{args.simulator_port}: {error} "
            "(pick another port: --simulator-port N, or `make dev SIMULATOR_PORT=N`)",
            file=sys.stderr,
        )
        return 1


def add_report_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report",
        help="write the HTML report (daily cost per currency and ASR) beside the warehouse",
        description="Render data/report.html (or beside $LAAFFIC_DUCKDB_PATH) from the marts; "
        "opens the warehouse read-only for a moment.",
    )
    parser.add_argument("--days", type=int, default=31, help="days shown, up to the latest day with marts")
    parser.add_argument("--output", help="where to write it (default: report.html beside the warehouse)")
    parser.set_defaults(run=lambda args: _report(args.days, args.output))


def _report(days: int, output: str | None) -> int:
    from laaffic_pipeline.report import write_report

    try:
        database, _ = warehouse_files()
        path = write_report(database, Path(output) if output else None, days)
    except WarehouseQueryError as error:
        print(error, file=sys.stderr)
        return 1
    print(path.resolve())
    return 0


def add_sql_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sql",
        help="run a query on the analysts' file (or the warehouse) read-only and print the result",
        description="Open the analysts' file (views of the marts over the Parquet exports: it never "
        "keeps the pipeline waiting) read-only, run QUERY and print the rows. With --warehouse, or "
        "before the analysts' file exists, the pipeline's warehouse file instead (raw tables too): "
        "it is closed before anything is printed, so the pipeline waits only while the query runs.",
    )
    parser.add_argument("query", help="the SQL to run; '-' reads it from standard input")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--database", help="a DuckDB file to query instead")
    parser.add_argument(
        "--warehouse",
        action="store_true",
        help="query the pipeline's warehouse file ($LAAFFIC_DUCKDB_PATH) instead of the analysts' file",
    )
    parser.add_argument(
        "--wait", type=float, default=10.0, help="seconds to wait while the pipeline is writing (default 10)"
    )
    parser.set_defaults(run=run_sql_command)


# The two settings `sql` and `report` read, by name and default as settings.py declares them
# (tests/test_cli_sql.py holds them equal). Read here, not through PipelineSettings: an analyst's
# query needs no pipeline setting to be valid, and settings.py imports Dagster (~3 s a query).
DUCKDB_PATH_VARIABLE, DEFAULT_DUCKDB_PATH = "LAAFFIC_DUCKDB_PATH", "data/laaffic.duckdb"
ANALYTICS_PATH_VARIABLE = "LAAFFIC_ANALYTICS_PATH"


def warehouse_files(env: Mapping[str, str] | None = None) -> tuple[str, Path]:
    """The warehouse file and the analysts' file, from ``LAAFFIC_DUCKDB_PATH`` and
    ``LAAFFIC_ANALYTICS_PATH`` alone (unset or empty: their defaults)."""
    from laaffic_pipeline.warehouse.analytics import default_analytics_path

    env = os.environ if env is None else env
    warehouse = env.get(DUCKDB_PATH_VARIABLE, "").strip() or DEFAULT_DUCKDB_PATH
    analytics = env.get(ANALYTICS_PATH_VARIABLE, "").strip()
    return warehouse, Path(analytics) if analytics else default_analytics_path(warehouse)


def run_sql_command(args: argparse.Namespace) -> int:
    from laaffic_pipeline.warehouse.analytics import PIPELINE_VIEWS
    from laaffic_pipeline.warehouse.query import UnknownRelationError, query_read_only

    query = sys.stdin.read() if args.query == "-" else args.query
    warehouse, analytics = warehouse_files()
    use_analytics = not args.database and not args.warehouse and analytics.is_file()
    database = args.database or (str(analytics) if use_analytics else warehouse)
    try:
        result = query_read_only(database, query, wait_s=args.wait)
    except WarehouseQueryError as error:
        print(f"laaffic-pipeline sql: {error}", file=sys.stderr)
        if use_analytics and isinstance(error, UnknownRelationError):
            print(
                f"hint: the analysts' file {analytics} holds the views {', '.join(PIPELINE_VIEWS)} (and "
                "whatever you saved there); the raw tables (raw.call_records, raw.call_record_pages) "
                "are in the warehouse: add --warehouse",
                file=sys.stderr,
            )
        return 1
    sys.stdout.write(result.render(args.format))
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day YYYY-MM-DD") from None


MartsRebuild = Callable[[date, date], str]
"""Builds the marts, exports and analysts' file of the days ``first..last`` from stored raw through
the same Dagster code as a normal run, and returns a line saying what it did (raises on failure)."""


def add_restore_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "restore",
        help="rebuild the warehouse's raw days from the archive (no API request), then their marts",
        description="Rebuild raw.call_records and raw.call_record_pages of every archived day in the range "
        "(default: all) from the latest archived version of each, exactly as landed, each day in one "
        "transaction checked against its manifest; no API request is sent. Then the marts, exports and "
        "the analysts' file of those days are built through Dagster, as a normal run builds them. Days "
        "the warehouse already holds are refused unless --force.",
    )
    parser.add_argument(
        "--from-url",
        dest="archive_url",
        metavar="URL",
        help="the archive: a folder or s3://bucket/prefix (default: LAAFFIC_ARCHIVE_URL, else archive/ "
        "beside the warehouse); S3 credentials come from the usual AWS_* variables",
    )
    parser.add_argument(
        "--from", dest="first", type=_day, metavar="YYYY-MM-DD", help="first day (default: oldest archived)"
    )
    parser.add_argument(
        "--to", dest="last", type=_day, metavar="YYYY-MM-DD", help="last day (default: newest archived)"
    )
    parser.add_argument("--force", action="store_true", help="replace days the warehouse already holds")
    parser.add_argument(
        "--raw-only",
        action="store_true",
        help="restore raw alone; build the marts later (materialize marts/* over the days)",
    )
    parser.set_defaults(run=run_restore, parser=parser)


def run_restore(args: argparse.Namespace, rebuild_marts: MartsRebuild | None = None) -> int:
    """``restore``: raw from the archive, then ``rebuild_marts`` (default: the Dagster code's
    ``laaffic_pipeline.defs.rebuild_marts_through_dagster``) once per run of consecutive days."""
    from laaffic_pipeline.settings import PipelineSettings, SettingsError
    from laaffic_pipeline.warehouse.archive import (
        ArchiveError,
        archived_days,
        configured_archive_url,
        restore_days,
    )
    from laaffic_pipeline.warehouse.connection import WarehouseLockedError, connect_waiting

    if args.first and args.last and args.first > args.last:
        args.parser.error(f"--from {args.first} is after --to {args.last}")
    try:
        settings = PipelineSettings.from_env()
    except SettingsError as error:
        print(f"laaffic-pipeline restore: {error}", file=sys.stderr)
        return 1
    warehouse = settings.warehouse
    url = args.archive_url or configured_archive_url(warehouse.archive_url, warehouse.duckdb_path)
    if not args.raw_only and rebuild_marts is None:
        from laaffic_pipeline.defs.runs import rebuild_marts_through_dagster  # imports Dagster: only now

        rebuild_marts = rebuild_marts_through_dagster
    try:
        days = archived_days(url, args.first, args.last)
    except ArchiveError as error:
        print(f"laaffic-pipeline restore: {error}", file=sys.stderr)
        return 1
    if not days:
        print(f"laaffic-pipeline restore: {url} holds no archived day in that range", file=sys.stderr)
        return 1
    Path(warehouse.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
    try:  # the pipeline's own wait for the lock and DuckDB settings (WarehouseResource)
        conn = connect_waiting(
            warehouse.duckdb_path,
            read_only=False,
            wait_s=warehouse.duckdb_lock_timeout_s,
            initial_wait_s=0.5,
            config={
                "storage_compatibility_version": warehouse.duckdb_storage_version,
                "memory_limit": warehouse.duckdb_memory_limit,
            },
            advice="Nothing was restored (LAAFFIC_DUCKDB_LOCK_TIMEOUT_S); try again when it is free.",
        )
    except WarehouseLockedError as error:
        print(f"laaffic-pipeline restore: {error}", file=sys.stderr)
        return 1
    try:
        restored = restore_days(conn, url, days, overwrite=args.force)
    except ArchiveError as error:
        print(f"laaffic-pipeline restore: {error}", file=sys.stderr)
        return 1
    finally:
        conn.close()  # the marts' run opens the warehouse itself
    print(_restore_summary(restored, url, warehouse.duckdb_path))
    if rebuild_marts is not None:
        for first, last in _consecutive_spans([day.day for day in restored]):
            print(rebuild_marts(first, last), flush=True)
    return 0


def _restore_summary(restored: Sequence[Any], url: str, database: str) -> str:
    lines = [f"Restored {len(restored)} day(s) of raw from {url} into {database}, without any API request:"]
    for day in restored:
        replaced = f"; replaced {day.rows_replaced} stored records" if day.rows_replaced else ""
        lines.append(
            f"  {day.day}: {day.records} records, {day.pages} pages, version {day.version} "
            f"(landed {day.landed_at.isoformat()} by run {day.run_id}){replaced}"
        )
    return "\n".join(lines)


def _consecutive_spans(days: Sequence[date]) -> list[tuple[date, date]]:
    """``days`` (sorted) as (first, last) runs of consecutive days."""
    spans: list[list[date]] = []
    for day in days:
        if spans and (day - spans[-1][1]).days == 1:
            spans[-1][1] = day
        else:
            spans.append([day, day])
    return [(first, last) for first, last in spans]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laaffic-pipeline", description="Laaffic call records into a DuckDB warehouse."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_simulate_command(commands)
    add_demo_command(commands)
    add_dev_command(commands)
    add_report_command(commands)
    add_sql_command(commands)
    add_restore_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except Exception as error:
        problem = settings_error(error)
        if problem is None:
            raise
        # What to fix, not a traceback: the message names the variable and what it accepts.
        print(f"laaffic-pipeline {args.command}: {' '.join(str(problem).split())}", file=sys.stderr)
        return 2


def settings_error(error: BaseException) -> Exception | None:
    """The ``SettingsError`` behind ``error`` (itself, or one Dagster's loading wrapped), or None."""
    # Looked up, not imported: settings.py imports Dagster, which `sql` and `report` never need.
    settings = sys.modules.get("laaffic_pipeline.settings")
    if settings is None:  # never imported: no setting was read
        return None
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, settings.SettingsError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


if __name__ == "__main__":
    sys.exit(main())
