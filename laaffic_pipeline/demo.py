"""``laaffic-pipeline demo``: the last N days through Dagster against the simulator, a summary, a report."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import duckdb
from dagster import DagsterInstance

from laaffic_pipeline.defs import build_definitions
from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.partitions import final_day_keys
from laaffic_pipeline.local_stack import prepare_dagster_home, simulator_environment
from laaffic_pipeline.report import write_report
from laaffic_pipeline.settings import PipelineSettings
from laaffic_pipeline.simulator import LaafficSimulator
from laaffic_pipeline.warehouse.exports import exports_dir
from laaffic_pipeline.warehouse.query import connect_read_only
from laaffic_pipeline.warehouse.tables import (
    MARTS_DAILY_COSTS_BY_CURRENCY,
    RAW_CALL_RECORD_PAGES,
    RAW_CALL_RECORDS,
)

# Dagster's console logger prints every event at DEBUG; the demo prints its own summary instead.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_demo(days: int = 7, records_per_day: int = 500, out: TextIO = sys.stdout) -> int:
    """Materialize the last ``days`` partitions with the daily job; 0 when every run and check passed."""
    home = prepare_dagster_home(Path(os.environ.get("DAGSTER_HOME", ".dagster_home")), Path.cwd())
    os.environ["DAGSTER_HOME"] = str(home)
    with simulator_environment(records_per_day=records_per_day) as simulator:
        settings = PipelineSettings.from_env()  # the simulator's URL and secret were just set
        job = build_definitions(settings, os.environ).resolve_job_def(DAILY_JOB_NAME)
        partitions_def = job.partitions_def
        final_lag = timedelta(minutes=settings.client.final_lag_min)
        keys = final_day_keys(partitions_def, datetime.now(UTC), final_lag)[-days:]
        print(
            f"Simulator on {simulator.base_url}; warehouse {settings.warehouse.duckdb_path}; "
            f"Dagster home {home}",
            file=out,
        )
        with DagsterInstance.get() as instance:
            # One ranged run, as a backfill from the UI launches it: each day still its own window.
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=QUIET_CONSOLE,
                tags={
                    "dagster/asset_partition_range_start": keys[0],
                    "dagster/asset_partition_range_end": keys[-1],
                },
            )
        print(
            f"Run {result.run_id[:8]} over {keys[0]} .. {keys[-1]}: {'ok' if result.success else 'FAILED'}",
            file=out,
        )
        evaluations = result.get_asset_check_evaluations()
        failed = [] if result.success else ["the run"]
        for key in keys:
            checks = [c for c in evaluations if c.partition == key]
            failed_checks = [c.asset_check_key.name for c in checks if not c.passed]
            print(
                f"  {key}: checks passed {len(checks) - len(failed_checks)}/{len(checks)}"
                + (f" (failed: {', '.join(failed_checks)})" if failed_checks else ""),
                file=out,
            )
            if failed_checks or not checks:
                failed.append(key)
        mismatched = print_summary(settings, simulator, partitions_def, keys, out)
    report = write_report(settings.warehouse.duckdb_path, days=days)
    print(f"\nReport (cost per currency and ASR per day): {report.resolve()}", file=out)
    print(f"Parquet exports of the marts: {exports_dir(settings.warehouse.duckdb_path).resolve()}", file=out)
    print(
        f"Analysts' file (open it read-only in any DuckDB tool, for as long as you like): "
        f"{settings.warehouse.analytics_file.resolve()}",
        file=out,
    )
    if failed or mismatched:
        print(
            f"Demo FAILED: days or runs failed {failed or 'none'}; "
            f"days not matching the simulator {mismatched or 'none'}",
            file=out,
        )
        return 1
    print("Demo OK: every day matches the simulator's records exactly, every check passed.", file=out)
    return 0


def print_summary(
    settings: PipelineSettings, simulator: LaafficSimulator, partitions_def, keys: list[str], out: TextIO
) -> list[str]:
    """Rows landed per day, compared with the simulator's own records; returns days that differ."""
    mismatched = []
    with connect_read_only(settings.warehouse.duckdb_path) as conn:
        print(f"\nRaw records landed ({RAW_CALL_RECORDS}):", file=out)
        print(f"  {'day':<10}  {'rows':>6}  {'pages':>5}  matches simulator", file=out)
        for key in keys:
            window = partitions_def.time_window_for_partition_key(key)
            expected = simulator.records_for_window(
                window.start.isoformat(timespec="seconds"), window.end.isoformat(timespec="seconds")
            )
            rows = conn.execute(
                f"SELECT record FROM {RAW_CALL_RECORDS} WHERE partition_date = ? ORDER BY page, position",
                [key],
            ).fetchall()
            (pages,) = conn.execute(
                f"SELECT count(*) FROM {RAW_CALL_RECORD_PAGES} WHERE partition_date = ?", [key]
            ).fetchone()
            matches = [json.loads(row[0]) for row in rows] == expected
            if not matches:
                mismatched.append(key)
            print(f"  {key:<10}  {len(rows):>6}  {pages:>5}  {'yes' if matches else 'NO'}", file=out)
        print_costs(conn, keys, out)
    return mismatched


def print_costs(conn: duckdb.DuckDBPyConnection, keys: list[str], out: TextIO) -> None:
    """Per day and currency: calls, ASR and cost, from the dashboard view (money never mixed)."""
    rows = conn.execute(
        "SELECT call_date, currency, calls, answered_calls, asr, total_cost, expected_cost "
        f"FROM {MARTS_DAILY_COSTS_BY_CURRENCY} WHERE call_date BETWEEN ? AND ? ORDER BY call_date, currency",
        [keys[0], keys[-1]],
    ).fetchall()
    print(f"\nCost and ASR per day and currency ({MARTS_DAILY_COSTS_BY_CURRENCY}):", file=out)
    line = "  {:<10}  {:<3}  {:>6}  {:>8}  {:>6}  {:>14}  {:>14}"
    print(line.format("day", "cur", "calls", "answered", "ASR", "cost", "expected"), file=out)
    for day, currency, calls, answered, asr, cost, expected in rows:
        print(
            line.format(str(day), currency, calls, answered, f"{asr:.1%}", str(cost), str(expected)), file=out
        )
