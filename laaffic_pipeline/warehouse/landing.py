"""Replace one partition of the raw tables with a staged read, in a single transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import duckdb

from laaffic_pipeline.warehouse.sql import run_sql
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead
from laaffic_pipeline.warehouse.tables import RAW_CALL_RECORDS


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    run_sql(conn, "create_raw_tables")


# One stream of JSON into one table: on one thread, in any order, DuckDB's buffers stay inside its
# memory limit (a 1M-record day at 256MB runs out of memory on two threads, at equal speed).
# Both settings are the whole database's, so they are set for the landing and reset after it:
# the marts, built on the same connection afterwards, use every thread.
LANDING_SETTINGS = {"threads": "1", "preserve_insertion_order": "false"}


@contextmanager
def landing_settings(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    for name, value in LANDING_SETTINGS.items():
        conn.execute(f"SET {name} = {value}")
    try:
        yield
    finally:
        for name in LANDING_SETTINGS:
            conn.execute(f"RESET {name}")


class PartitionShrinkError(RuntimeError):
    """A re-fetch returned fewer records than stored (the API may have purged the day)."""


@dataclass(frozen=True)
class LandedPartition:
    rows_before: int
    rows_after: int


def replace_raw_partition(
    conn: duckdb.DuckDBPyConnection,
    partition_date: date,
    staged: StagedNdjsonRead,
    str_time: str,
    end_time: str,
    reads: int,
    *,
    allow_fewer_rows: bool = False,
    prepared: bool = False,
) -> LandedPartition:
    """Swap the partition's rows for the staged read's: all or nothing, other days untouched.

    ``str_time``/``end_time`` are the window exactly as sent. Refuses (and rolls back) a
    replacement that would leave fewer rows than stored unless ``allow_fewer_rows``: past the
    API's retention the warehouse holds the only copy. ``prepared``: the raw tables exist already
    (the step made them when it opened the warehouse).
    """
    if not prepared:
        ensure_raw_tables(conn)
    run_sql(conn, "staged_read_macros")
    day = {"partition_date": partition_date}
    with landing_settings(conn):
        return _replace(conn, day, staged, str_time, end_time, reads, allow_fewer_rows)


def _replace(
    conn: duckdb.DuckDBPyConnection,
    day: dict[str, date],
    staged: StagedNdjsonRead,
    str_time: str,
    end_time: str,
    reads: int,
    allow_fewer_rows: bool,
) -> LandedPartition:
    partition_date = day["partition_date"]
    conn.begin()
    try:
        rows_before = _count(conn, partition_date)
        run_sql(conn, "delete_raw_partition", day)
        figures = staged.figures()
        distinct = (
            figures["distinct_voice_ids"] + figures["records_without_voice_id"] == figures["records_landed"]
        )
        statement = "insert_distinct_raw_records" if distinct else "insert_raw_records"
        run_sql(conn, statement, {**day, "records_path": str(staged.records_path)})
        run_sql(
            conn,
            "insert_raw_pages",
            {
                **day,
                "pages_path": str(staged.pages_path),
                "str_time": str_time,
                "end_time": end_time,
                "reads": reads,
            },
        )
        rows_after = _count(conn, partition_date)
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


def _count(conn: duckdb.DuckDBPyConnection, partition_date: date) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM {RAW_CALL_RECORDS} WHERE partition_date = $d", {"d": partition_date}
    ).fetchone()
    assert row is not None
    return int(row[0])
