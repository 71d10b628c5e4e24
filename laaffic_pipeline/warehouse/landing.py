"""Replace one partition of the raw tables with a staged read, in a single transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from laaffic_pipeline.warehouse.sql import run_sql
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead
from laaffic_pipeline.warehouse.tables import RAW_CALL_RECORDS


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    run_sql(conn, "create_raw_tables")


def prepare_for_landing(conn: duckdb.DuckDBPyConnection) -> None:
    """Make the raw tables and set the database up for landings (``replace_raw_partition(...,
    prepared=True)``), once for a connection shared by several writers: creating tables and
    changing settings while another writer's transaction is open would conflict with it."""
    ensure_raw_tables(conn)
    for name, value in LANDING_SETTINGS.items():
        conn.execute(f"SET {name} = {value}")


# One stream of JSON into one table: on one thread, in any order, DuckDB's buffers stay inside its
# memory limit (a 1M-record day at 256MB runs out of memory on two threads, at equal speed).
# Both settings are the whole database's, not one connection's.
LANDING_SETTINGS = {"threads": "1", "preserve_insertion_order": "false"}


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
    API's retention the warehouse holds the only copy. ``prepared``: the database went through
    ``prepare_for_landing`` already (a shared connection); otherwise this landing does it and undoes
    the settings afterwards.
    """
    if not prepared:
        prepare_for_landing(conn)
    run_sql(conn, "staged_read_macros")
    day = {"partition_date": partition_date}
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
    finally:
        if not prepared:
            for name in LANDING_SETTINGS:
                conn.execute(f"RESET {name}")
    return LandedPartition(rows_before, rows_after)


def _count(conn: duckdb.DuckDBPyConnection, partition_date: date) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM {RAW_CALL_RECORDS} WHERE partition_date = $d", {"d": partition_date}
    ).fetchone()
    assert row is not None
    return int(row[0])
