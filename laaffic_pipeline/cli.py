"""Command line: ``laaffic-pipeline <command>``; each command is one ``add_*_command`` function."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Sequence
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
            f"laaffic-pipeline simulate: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr
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

    return run_demo(days=days, records_per_day=records_per_day)


def add_dev_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("dev", help="the simulator plus the Dagster UI and daemon (dagster dev)")
    parser.add_argument("--ui-port", type=int, default=3000)
    parser.add_argument("--simulator-port", type=int, default=8765)
    parser.add_argument("--records-per-day", type=int, default=500)
    parser.set_defaults(run=lambda args: run_dev(args.ui_port, args.simulator_port, args.records_per_day))


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
    from laaffic_pipeline.settings import PipelineSettings

    try:
        database = PipelineSettings.from_env().warehouse.duckdb_path
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


def run_sql_command(args: argparse.Namespace) -> int:
    from laaffic_pipeline.settings import PipelineSettings
    from laaffic_pipeline.warehouse.analytics import default_analytics_path
    from laaffic_pipeline.warehouse.query import query_read_only

    query = sys.stdin.read() if args.query == "-" else args.query
    warehouse = PipelineSettings.from_env().warehouse
    analytics = Path(warehouse.analytics_path or default_analytics_path(warehouse.duckdb_path))
    use_analytics = not args.warehouse and analytics.is_file()
    database = args.database or (str(analytics) if use_analytics else warehouse.duckdb_path)
    try:
        result = query_read_only(database, query, wait_s=args.wait)
    except WarehouseQueryError as error:
        print(f"laaffic-pipeline sql: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(result.render(args.format))
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
