"""Peak RSS of a run of the real definitions, for bigger days and longer ranges, in a child process.

    .venv/bin/python benchmarks/bench_memory.py
    .venv/bin/python benchmarks/bench_memory.py --records 50000 200000 --range-days 1 30

Each measurement starts a simulator in its own process (its records and CPU are not counted),
then a child process loads ``laaffic_pipeline.definitions:defs`` with ``LAAFFIC_*`` pointing at
the simulator and a fresh DuckDB file, and runs the ``laaffic_daily`` job (raw landing, marts,
every check) with ``execute_in_process``: for a day size, one partition (yesterday); for a range,
the last N days of ``--range-records`` calls as one ranged run (the tags
``dagster/asset_partition_range_start``/``_end``, as a backfill under
``BackfillPolicy.single_run()`` launches it). The child reports its own ``ru_maxrss``; the parent
also samples its RSS every 20 ms, then counts the rows landed per day.
Targets (issue 14): peak RSS under 512 MiB whatever the size of the day or of the range; growth
under 10 MiB per 100,000 calls.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from _common import (
    MIB,
    WAREHOUSE,
    PeakRss,
    Stopwatch,
    Target,
    last_days,
    max_rss_mib,
    report,
    simulator_process,
    utc_day_window,
)

PEAK_RSS_TARGET_MIB = 512.0
GROWTH_TARGET_MIB_PER_100K = 10.0
JOB = "laaffic_daily"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
CHILD_PREFIX = "CHILD "
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_child(kind: str, first: str, last: str) -> None:
    """In the child (settings from the environment): the daily job for one partition (``day``)
    or for ``first..last`` as one ranged run (``range``)."""
    import psutil
    from dagster import DagsterInstance

    from laaffic_pipeline.definitions import defs

    job = defs().resolve_job_def(JOB)
    if kind == "day":
        where: dict[str, Any] = {"partition_key": first}
    else:
        where = {"tags": {RANGE_START_TAG: first, RANGE_END_TAG: last}}
    rss_before_mib = psutil.Process().memory_info().rss / MIB
    with DagsterInstance.ephemeral() as instance, Stopwatch() as watch:
        result = job.execute_in_process(
            instance=instance, run_config=QUIET_CONSOLE, raise_on_error=False, **where
        )
    checks = result.get_asset_check_evaluations()
    failures = [event.message for event in result.all_events if event.is_failure]
    print(
        CHILD_PREFIX
        + json.dumps(
            {
                "success": result.success,
                "materializations": len(result.get_asset_materialization_events()),
                "checks_passed": sum(check.passed for check in checks),
                "checks": len(checks),
                "run_s": watch.seconds,
                "rss_before_run_mib": rss_before_mib,
                "ru_maxrss_mib": max_rss_mib(),
                "failures": failures[:3],
            }
        ),
        flush=True,
    )


def measure(
    kind: str, days: list[date], records: int, latency_ms: float, folder: Path, memory_limit: str | None
) -> dict[str, Any]:
    """Start a simulator of ``records`` a day, run ``days`` in a child process, return its figures."""
    database = folder / f"warehouse-{records}-{len(days)}.duckdb"
    with simulator_process(records, latency_ms) as simulator:
        for day in days:  # generated (and cached) by the simulator before the child starts
            simulator.warm_up(utc_day_window(day))
        env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("LAAFFIC_")},
            "LAAFFIC_API_KEY": simulator.api_key,
            "LAAFFIC_API_SECRET": simulator.api_secret,
            "LAAFFIC_BASE_URL": simulator.base_url,
            "LAAFFIC_DUCKDB_PATH": str(database),
            "LAAFFIC_START_DATE": days[0].isoformat(),  # the default starts a day inside retention
            "LAAFFIC_STEP_RETRIES": "0",
            **({"LAAFFIC_DUCKDB_MEMORY_LIMIT": memory_limit} if memory_limit else {}),
            "PYTHONWARNINGS": "ignore",  # Dagster's preview/beta warnings at import; not measured
        }
        script = str(Path(__file__).resolve())
        command = [sys.executable, script, "--child", kind, days[0].isoformat(), days[-1].isoformat()]
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        with PeakRss(child.pid) as sampled:
            output, _ = child.communicate()
    lines = [line for line in output.splitlines() if line.startswith(CHILD_PREFIX)]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"the child run failed (exit {child.returncode}); its output:\n{output}")
    figures = json.loads(lines[-1].removeprefix(CHILD_PREFIX))
    with duckdb.connect(str(database), read_only=True) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM raw.call_records").fetchone() or (0,)
        (facts,) = conn.execute("SELECT count(*) FROM marts.call_facts").fetchone() or (0,)
    database.unlink()
    return {**figures, "rows": rows, "fact_rows": facts, "sampled_peak_rss_mib": sampled.peak_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--records", type=int, nargs="*", default=[50_000, 200_000, 1_000_000], help="day sizes (one day)"
    )
    parser.add_argument("--range-days", type=int, nargs="*", default=[1, 30, 60], help="range lengths")
    parser.add_argument("--range-records", type=int, default=50_000, help="calls per day of a range")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--duckdb-memory-limit", help="LAAFFIC_DUCKDB_MEMORY_LIMIT for the runs (default: the setting's)"
    )
    parser.add_argument("--child", nargs=3, metavar=("KIND", "FIRST", "LAST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return

    runs: list[dict[str, Any]] = []
    plan = [("day", 1, records) for records in args.records]
    plan += [("range", days, args.range_records) for days in args.range_days]
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as work:
        for kind, count, records in plan:
            days = last_days(count)
            what = f"one {records:,}-call day" if kind == "day" else f"{count} x {records:,}-call days"
            print(f"{what} ({'one partition' if kind == 'day' else 'one ranged run'}), child process ...")
            run = measure(kind, days, records, args.latency_ms, Path(work), args.duckdb_memory_limit)
            run |= {"days": count, "calls_per_day": records, "calls": count * records, "kind": kind}
            runs.append(run)
            print(
                f"  {run['rows']:,} rows, {run['fact_rows']:,} facts in {run['run_s']:.1f} s "
                f"({'ok' if run['success'] else 'FAILED: ' + '; '.join(run['failures'])}); peak RSS "
                f"{run['ru_maxrss_mib']:.0f} MiB (sampled {run['sampled_peak_rss_mib']:.0f}, "
                f"before the run {run['rss_before_run_mib']:.0f})",
                flush=True,
            )

    figures: dict[str, Any] = {
        "latency_ms": args.latency_ms,
        "duckdb_memory_limit": args.duckdb_memory_limit or WAREHOUSE.duckdb_memory_limit,
    }
    for run in runs:
        name = f"{run['kind']}_{run['days']}x{run['calls_per_day']}"
        figures |= {
            f"{name}_peak_rss_mib": run["ru_maxrss_mib"],
            f"{name}_sampled_peak_rss_mib": run["sampled_peak_rss_mib"],
            f"{name}_rss_before_run_mib": run["rss_before_run_mib"],
            f"{name}_run_s": run["run_s"],
            f"{name}_rows_landed": run["rows"],
            f"{name}_checks_passed": f"{run['checks_passed']}/{run['checks']}",
        }
    targets = []
    for group, label in (("day", "day size"), ("range", "range length")):
        members = sorted((run for run in runs if run["kind"] == group), key=lambda run: run["calls"])
        for run in members:
            what = f"{run['calls_per_day']:,}-call day" if group == "day" else f"{run['days']}-day range"
            targets.append(Target(f"peak RSS, {what}", run["ru_maxrss_mib"], PEAK_RSS_TARGET_MIB, "MiB"))
        if len(members) >= 2 and members[-1]["calls"] > members[0]["calls"]:
            growth = (members[-1]["ru_maxrss_mib"] - members[0]["ru_maxrss_mib"]) / (
                members[-1]["calls"] - members[0]["calls"]
            )
            figures[f"{group}_growth_mib_per_100k_calls"] = growth * 100_000
            targets.append(
                Target(
                    f"growth per 100k calls ({label})", growth * 100_000, GROWTH_TARGET_MIB_PER_100K, "MiB"
                )
            )
    missing = sum(run["calls"] - run["rows"] for run in runs)
    targets += [
        Target("rows missing after landing (all runs)", missing, 0, "rows"),
        Target("failed runs", sum(not run["success"] for run in runs), 0, "runs"),
    ]
    measured = [f"one day of {', '.join(f'{records:,}' for records in args.records)} calls"] * bool(
        args.records
    )
    if args.range_days:
        measured.append(
            f"ranges of {', '.join(map(str, args.range_days))} days x {args.range_records:,} calls"
        )
    report(
        "memory",
        f"Peak RSS of a run of the daily job (child process): {'; '.join(measured)}",
        figures,
        targets,
    )


if __name__ == "__main__":
    main()
