"""Replace one partition of the raw tables in a single transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from laaffic_pipeline.api.models import PageLog
from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.warehouse.sql import run_sql
from laaffic_pipeline.warehouse.tables import RAW_CALL_RECORDS


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    run_sql(conn, "create_raw_tables")


class PartitionShrinkError(RuntimeError):
    """A re-fetch returned fewer records than stored (the API may have purged the day)."""


@dataclass(frozen=True)
class LandedPartition:
    rows_before: int
    rows_after: int


def replace_raw_partition(
    conn: duckdb.DuckDBPyConnection,
    partition_date: date,
    staging_path: Path,
    pages: list[PageLog],
    window: QueryWindow,
    reads: int,
    *,
    allow_fewer_rows: bool = False,
) -> LandedPartition:
    """Swap the partition's rows for the staged ones: all or nothing, other days untouched.

    Refuses (and rolls back) a replacement that would leave fewer rows than stored unless
    ``allow_fewer_rows``: past the API's retention the warehouse holds the only copy.
    """
    ensure_raw_tables(conn)
    day = {"partition_date": partition_date}
    conn.begin()
    try:
        (rows_before,) = _count(conn, partition_date)
        run_sql(conn, "delete_raw_partition", day)
        run_sql(conn, "insert_raw_records", {**day, "staging_path": str(staging_path)})
        run_sql(
            conn,
            "insert_raw_pages",
            {
                **day,
                "page": [log.page for log in pages],
                "reported_total": [log.reported_total for log in pages],
                "reported_pages": [log.reported_pages for log in pages],
                "records_on_page": [log.records for log in pages],
                "fetched_at": [log.fetched_at for log in pages],
                "str_time": window.str_time,
                "end_time": window.end_time,
                "reads": reads,
            },
        )
        (rows_after,) = _count(conn, partition_date)
        if rows_after < rows_before and not allow_fewer_rows:
            raise PartitionShrinkError(
                f"re-fetching {partition_date} returned {rows_after} records but the warehouse holds "
                f"{rows_before}: replacing would lose {rows_before - rows_after} rows, so the stored "
                "partition was kept. If the loss is intended, re-run with allow_fewer_rows: true "
                "in the raw asset's run config."
            )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return LandedPartition(rows_before, rows_after)


def _count(conn: duckdb.DuckDBPyConnection, partition_date: date) -> tuple[int]:
    row = conn.execute(
        f"SELECT count(*) FROM {RAW_CALL_RECORDS} WHERE partition_date = $d", {"d": partition_date}
    ).fetchone()
    assert row is not None
    return (int(row[0]),)
