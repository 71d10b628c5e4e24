"""Land 1,000,000 records in one transaction, next to DuckDB's own ``read_json`` of the same file.

    .venv/bin/python benchmarks/bench_load.py

Records come from the simulator's generator (``simulator.records.generate_day``), rendered exactly
as the API serves them, and are staged page by page through ``StagedNdjsonRead`` (timed on its
own). Then, each into a fresh DuckDB file: ``replace_raw_partition`` (the landing) and a plain
``CREATE TABLE AS SELECT * FROM read_json(...)`` of the same file (the reference).
Targets (issue): the landing takes under 10 s and at most 3x the plain ``read_json``.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from _common import (
    MIB,
    PeakRss,
    Stopwatch,
    Target,
    connect_warehouse,
    report,
    stage_generated_day,
    utc_day_window,
    yesterday_utc,
)

from laaffic_pipeline.warehouse.landing import replace_raw_partition
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead

LANDING_SECONDS_TARGET = 10.0
RATIO_TO_READ_JSON_TARGET = 3.0


def land(staged: StagedNdjsonRead, database: Path, day: date) -> tuple[float, PeakRss, int]:
    """``replace_raw_partition`` into a fresh file: seconds (to a checkpoint), RSS and rows landed."""
    window = utc_day_window(day)
    with connect_warehouse(database) as conn, PeakRss() as memory, Stopwatch() as watch:
        landed = replace_raw_partition(conn, day, staged, window.str_time, window.end_time, reads=1)
        conn.execute("CHECKPOINT")
    return watch.seconds, memory, landed.rows_after


def plain_read_json(path: Path, database: Path, columns: str | None = None) -> tuple[float, int]:
    """DuckDB alone: the file into a new table (to a checkpoint), types detected or ``columns``."""
    options = f", columns = {columns}" if columns else ""
    with connect_warehouse(database) as conn:
        with Stopwatch() as watch:
            source = f"read_json($path, format = 'newline_delimited'{options})"
            conn.execute(f"CREATE TABLE plain AS SELECT * FROM {source}", {"path": str(path)})
            conn.execute("CHECKPOINT")
        row = conn.execute("SELECT count(*) FROM plain").fetchone()
    assert row is not None
    return watch.seconds, int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    day = yesterday_utc()

    with tempfile.TemporaryDirectory(prefix="bench-load-") as work:
        folder = Path(work)
        print(f"Generating and staging {args.records:,} records for {day} ...", flush=True)
        staged, staging = stage_generated_day(folder, day, args.records, args.seed)
        size_mib = staged.records_path.stat().st_size / MIB
        print(f"  staged {size_mib:,.0f} MiB in {staging['staging_write_s']:.1f} s; landing ...", flush=True)
        landing_s, landing_rss, rows = land(staged, folder / "landing.duckdb", day)
        print(f"  landing {landing_s:.2f} s; plain read_json ...", flush=True)
        plain_s, plain_rows = plain_read_json(staged.records_path, folder / "plain.duckdb")
        same_columns_s, _ = plain_read_json(
            staged.records_path,
            folder / "plain_columns.duckdb",
            "{page: 'INTEGER', position: 'INTEGER', fetched_at: 'TIMESTAMPTZ', record: 'JSON'}",
        )
        database_mib = (folder / "landing.duckdb").stat().st_size / MIB
        pages = staged.page_summary()["pages_fetched"]

    ratio = landing_s / plain_s
    figures = {
        "day": day,
        "records": args.records,
        "pages": pages,
        "staged_file_mib": size_mib,
        "generate_s": staging["generate_s"],
        "render_s": staging["render_s"],
        "staging_write_s": staging["staging_write_s"],
        "staging_write_records_per_s": args.records / staging["staging_write_s"],
        "landing_s": landing_s,
        "landing_records_per_s": rows / landing_s,
        "rss_before_landing_mib": landing_rss.start_bytes / MIB,
        "landing_peak_rss_mib": landing_rss.peak_mib,
        "rows_landed": rows,
        "read_json_s": plain_s,
        "read_json_rows": plain_rows,
        "read_json_landing_columns_s": same_columns_s,
        "ratio_to_read_json": ratio,
        "database_file_mib": database_mib,
    }
    report(
        "load",
        f"Bulk landing of {args.records:,} records (replace_raw_partition vs plain read_json)",
        figures,
        [
            Target("landing seconds", landing_s, LANDING_SECONDS_TARGET, "s"),
            Target("landing / plain read_json", ratio, RATIO_TO_READ_JSON_TARGET, "x"),
            Target("rows missing after landing", args.records - rows, 0, "rows"),
        ],
    )


if __name__ == "__main__":
    main()
