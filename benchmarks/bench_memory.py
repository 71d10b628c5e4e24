"""Peak RSS of the whole raw asset for a busy day, measured on a child process.

    .venv/bin/python benchmarks/bench_memory.py

For each day size (50,000 then 200,000 records) a fresh simulator is started in its own process,
then a child process materializes ``raw/call_records`` (and its page-count check) for yesterday
with Dagster's ``execute_in_process``, exactly as the daily job does: stable read into the NDJSON
staging file, then ``replace_raw_partition`` into a DuckDB file. The parent samples the child's
RSS every 20 ms; the child reports its own ``ru_maxrss`` when done. Two sizes show the slope.
Target (issue): a 200,000-record day peaks under 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from _common import (
    BENCH_API_KEY,
    MIB,
    PeakRss,
    Stopwatch,
    Target,
    max_rss_mib,
    report,
    simulator_process,
    utc_day_window,
    yesterday_utc,
)

PEAK_RSS_TARGET_MIB = 1024.0
CHILD_PREFIX = "CHILD "
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_child(base_url: str, database: str) -> None:
    """In the child: materialize yesterday's raw partition and print what it cost."""
    import psutil
    from dagster import DagsterInstance

    from laaffic_pipeline.definitions import build_definitions
    from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
    from laaffic_pipeline.defs.raw_assets import RAW_CALL_RECORDS_KEY
    from laaffic_pipeline.settings import PipelineSettings

    settings = replace(PipelineSettings.from_env({}), base_url=base_url, duckdb_path=database, step_retries=0)
    job = build_definitions(settings).resolve_job_def(DAILY_JOB_NAME)
    day = yesterday_utc().isoformat()
    rss_before_mib = psutil.Process().memory_info().rss / MIB
    with DagsterInstance.ephemeral() as instance, Stopwatch() as watch:
        result = job.execute_in_process(
            partition_key=day,
            instance=instance,
            asset_selection=[RAW_CALL_RECORDS_KEY],
            run_config=QUIET_CONSOLE,
            raise_on_error=False,
        )
    materializations = result.asset_materializations_for_node("raw__call_records") if result.success else []
    metadata = materializations[0].metadata if materializations else {}
    checks = result.get_asset_check_evaluations()
    print(
        CHILD_PREFIX
        + json.dumps(
            {
                "day": day,
                "success": result.success,
                "rows": metadata["dagster/row_count"].value if metadata else 0,
                "pages": metadata["pages_fetched"].value if metadata else 0,
                "checks_passed": sum(check.passed for check in checks),
                "checks": len(checks),
                "run_s": watch.seconds,
                "rss_before_run_mib": rss_before_mib,
                "ru_maxrss_mib": max_rss_mib(),
            }
        ),
        flush=True,
    )


def measure(records: int, latency_ms: float, folder: Path) -> dict[str, Any]:
    """Start a simulator for ``records`` a day, run the asset in a child, return its figures."""
    with simulator_process(records, latency_ms) as simulator:
        simulator.warm_up(utc_day_window(yesterday_utc()))
        env = {
            **os.environ,
            "LAAFFIC_API_KEY": BENCH_API_KEY,
            "LAAFFIC_API_SECRET": simulator.api_secret,
            "PYTHONWARNINGS": "ignore",  # Dagster's preview/beta warnings at import; not measured
        }
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            simulator.base_url,
            str(folder / f"raw-{records}.duckdb"),
        ]
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        with PeakRss(child.pid) as sampled:
            output, _ = child.communicate()
    lines = [line for line in output.splitlines() if line.startswith(CHILD_PREFIX)]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"the child run failed (exit {child.returncode}); its output:\n{output}")
    figures = json.loads(lines[-1].removeprefix(CHILD_PREFIX))
    return {**figures, "sampled_peak_rss_mib": sampled.peak_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--records", type=int, nargs="+", default=[50_000, 200_000], help="day sizes")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--child", nargs=2, metavar=("BASE_URL", "DATABASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return

    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as work:
        for records in args.records:
            print(f"Raw asset for a {records:,}-record day in a child process ...", flush=True)
            runs[records] = run = measure(records, args.latency_ms, Path(work))
            print(
                f"  {run['rows']:,} rows, {run['pages']} pages in {run['run_s']:.1f} s; peak RSS "
                f"{run['ru_maxrss_mib']:.0f} MiB (before the run {run['rss_before_run_mib']:.0f} MiB)"
            )

    largest = max(runs)
    smallest = min(runs)
    peak = runs[largest]["ru_maxrss_mib"]
    figures: dict[str, Any] = {"day": runs[largest]["day"], "latency_ms": args.latency_ms}
    for records, run in sorted(runs.items()):
        figures |= {
            f"records_{records}_rows_landed": run["rows"],
            f"records_{records}_pages": run["pages"],
            f"records_{records}_run_s": run["run_s"],
            f"records_{records}_rss_before_run_mib": run["rss_before_run_mib"],
            f"records_{records}_peak_rss_mib": run["ru_maxrss_mib"],
            f"records_{records}_sampled_peak_rss_mib": run["sampled_peak_rss_mib"],
            f"records_{records}_checks_passed": f"{run['checks_passed']}/{run['checks']}",
        }
    if largest != smallest:
        growth = peak - runs[smallest]["ru_maxrss_mib"]
        figures["peak_rss_growth_mib_per_100k_records"] = growth / (largest - smallest) * 100_000
    targets = [
        Target(f"peak RSS, {largest:,}-record day", peak, PEAK_RSS_TARGET_MIB, "MiB"),
        Target("rows missing after landing", largest - runs[largest]["rows"], 0, "rows"),
    ]
    report(
        "memory", f"Raw asset peak RSS (child process), days of {', '.join(map(str, runs))}", figures, targets
    )


if __name__ == "__main__":
    main()
