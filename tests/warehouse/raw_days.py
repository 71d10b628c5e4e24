"""Days of raw landed through the real landing, from the simulator's own records, and raw read back whole.

The archive tests need days whose records look like the API's (the simulator's generator, as
served), landed exactly as the pipeline lands them (``StagedNdjsonRead`` pages of 100, then
``replace_raw_partition``), and every column of every row of raw to compare afterwards.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from laaffic_pipeline.simulator import LaafficSimulator
from laaffic_pipeline.warehouse.landing import replace_raw_partition
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead
from tests.conftest import TEST_API_KEY, TEST_API_SECRET
from tests.staged import day_bounds

PAGE_SIZE = 100
MEMORY_LIMIT = "256MB"
ZONE = "UTC"
_reads = itertools.count(1)


class Page(NamedTuple):
    total: int
    pages: int
    records: list[dict[str, Any]]


def truth(day: date, records_per_day: int = 300, seed: int = 7) -> list[dict[str, Any]]:
    """The simulator's records of the local (UTC) day, as it serves them: the test's expectation."""
    simulator = LaafficSimulator(TEST_API_KEY, TEST_API_SECRET, seed=seed, records_per_day=records_per_day)
    return simulator.records_for_local_day(day, ZONE)


def land_day(
    conn: duckdb.DuckDBPyConnection,
    folder: Path,
    day: date,
    records: list[dict[str, Any]],
    fetched_at: datetime,
) -> int:
    """Stage ``records`` as the API's pages of 100 and land them as ``day``; returns the rows landed."""
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [records[i : i + PAGE_SIZE] for i in range(0, len(records), PAGE_SIZE)] or [[]]
    staged = StagedNdjsonRead(folder, next(_reads), MEMORY_LIMIT)
    for number, chunk in enumerate(chunks, start=1):
        staged.write_page(number, fetched_at, Page(len(records), len(chunks), chunk))
    staged.close()
    landed = replace_raw_partition(conn, day, staged, *day_bounds(day, ZONE), reads=1)
    staged.discard()
    return landed.rows_after


def raw_rows(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every column of every row of both raw tables, in a fixed order, with JSON as its stored text
    and times as microseconds since the epoch (no session time zone in the comparison)."""
    records = conn.execute(
        "SELECT partition_date, voice_id, record::VARCHAR, page, position, epoch_us(fetched_at) "
        "FROM raw.call_records ORDER BY partition_date, page, position"
    ).fetchall()
    pages = conn.execute(
        "SELECT partition_date, page, reported_total, reported_pages, records_on_page, epoch_us(fetched_at), "
        "str_time, end_time, reads FROM raw.call_record_pages ORDER BY partition_date, page"
    ).fetchall()
    return {"records": records, "pages": pages}


def raw_columns(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(table, column, type) of the raw tables, so a restore is also checked for its schema."""
    return conn.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'raw' "
        "ORDER BY table_name, column_index"
    ).fetchall()
