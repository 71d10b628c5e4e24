"""Materialize one partition of ``raw/call_records`` in a process of its own, for tests to kill.

    python -m tests.reliability.materialize BASE_URL DUCKDB_PATH PARTITION [--pause-in-write MARKER]

Credentials come from ``LAAFFIC_API_KEY``/``LAAFFIC_API_SECRET``. With ``--pause-in-write`` the
landing stops inside its transaction (old rows deleted, new rows inserted, nothing committed),
touches MARKER and sleeps, so a test can kill the process at the worst moment.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from dagster import DagsterInstance

from laaffic_pipeline.definitions import defs
from laaffic_pipeline.defs.laaffic.specs import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.warehouse import landing


def pause_inside_the_write(marker: Path) -> None:
    run_sql = landing.run_sql

    def run_sql_then_pause(conn, name, params=None):
        run_sql(conn, name, params)
        if name in ("insert_raw_records", "insert_distinct_raw_records"):
            marker.touch()
            time.sleep(120)

    landing.run_sql = run_sql_then_pause


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("duckdb_path")
    parser.add_argument("partition")
    parser.add_argument("--pause-in-write", type=Path)
    args = parser.parse_args()
    if args.pause_in_write:
        pause_inside_the_write(args.pause_in_write)
    os.environ.update(
        LAAFFIC_BASE_URL=args.base_url,
        LAAFFIC_DUCKDB_PATH=args.duckdb_path,
        LAAFFIC_PAGE_SIZE="50",
        LAAFFIC_CONCURRENCY="2",
        LAAFFIC_STEP_RETRIES="0",
    )
    job = defs().resolve_job_def("laaffic_daily")
    result = job.execute_in_process(
        partition_key=args.partition,
        instance=DagsterInstance.ephemeral(),
        asset_selection=[RAW_CALL_RECORDS_KEY],
        raise_on_error=False,
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
