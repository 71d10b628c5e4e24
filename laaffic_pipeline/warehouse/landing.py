"""Land one partition of the raw tables from its staged reads, in a single transaction.

A day is one window of every SIP group, or one window per group listed in ``LAAFFIC_SIP_GROUPS``;
either way its windows' reads land together, or nothing changes. A final read replaces the stored
day (``replace_raw_partition``); a provisional refresh of a day not yet final merges into it
(``merge_raw_partition``): records read again replace their stored copies, the rest are kept, and
``raw.provisional_days`` says up to when the day was read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from laaffic_pipeline.warehouse.sql import query_rows, run_sql
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead
from laaffic_pipeline.warehouse.tables import RAW_CALL_RECORDS


def stored_days_among(conn: duckdb.DuckDBPyConnection, days: Sequence[date]) -> list[date]:
    """Which of ``days`` the warehouse holds raw records or pages of, oldest first."""
    return [row["partition_date"] for row in query_rows(conn, "stored_days_among", {"days": list(days)})]


@dataclass(frozen=True)
class ProvisionalDay:
    """A day landed from reads made before it was final: read up to ``read_until``."""

    read_until: datetime
    refreshes: int


def provisional_days_among(
    conn: duckdb.DuckDBPyConnection, days: Sequence[date]
) -> dict[date, ProvisionalDay]:
    """Which of ``days`` are provisional, with the end of their latest refresh's window."""
    rows = query_rows(conn, "provisional_days_among", {"days": list(days)})
    return {row["partition_date"]: ProvisionalDay(row["read_until"], row["refreshes"]) for row in rows}


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    run_sql(conn, "create_raw_tables")


CURRENT_RAW = "laaffic_current_raw"  # the in-memory database read_raw_as_current attaches


def read_raw_as_current(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Let ``conn`` (read-only is enough) read the raw tables of a warehouse an older version wrote
    as ``create_raw_tables.sql`` brings them up to date, without writing to the file.

    The pipeline migrates a warehouse in place when it opens it for writing (``ensure_raw_tables``).
    Until then, this connection reads what that migration would leave: a table the older version
    lacked is empty (e.g. ``raw.provisional_days``: it read every day whole, final), a column it
    lacked holds its default on every stored row (``sip_group_name`` ``''``: one window of every
    group). They live in an in-memory database searched before the file's ``raw`` schema; the
    file's own default schema stays the default, and ``marts`` is read from the file as it is.
    Returns what the file lacks (``raw.provisional_days``, ``raw.call_records.sip_group_name``...);
    nothing for a current warehouse or a file without raw tables, whose connection is left as it was.
    """
    (stored,) = conn.execute("SELECT current_database()").fetchone()
    conn.execute(f"ATTACH ':memory:' AS {CURRENT_RAW} (READ_WRITE)")
    conn.execute(f"USE {CURRENT_RAW}")
    try:
        run_sql(conn, "create_raw_tables")
    finally:
        conn.execute(f"USE {_identifier(stored)}")
    columns = query_rows(conn, "raw_columns_as_current", {"current": CURRENT_RAW, "stored": stored})
    missing = list(
        dict.fromkeys(  # a table it lacks once, not once per column
            f"raw.{column['table_name']}" + (f".{column['column_name']}" if column["table_stored"] else "")
            for column in columns
            if not column["column_stored"]
        )
    )
    if not missing or not any(column["table_stored"] for column in columns):  # current, or no warehouse
        conn.execute(f"DETACH {CURRENT_RAW}")
        return []
    for table in {column["table_name"] for column in columns if column["table_stored"]}:
        defaults = "".join(
            f", CAST({column['column_default']} AS {column['data_type']})"
            f" AS {_identifier(column['column_name'])}"
            for column in columns
            if column["table_name"] == table and not column["column_stored"]
        )
        current, stored_table = f"{CURRENT_RAW}.raw.{table}", f"{_identifier(stored)}.raw.{table}"
        conn.execute(f"DROP TABLE {current}")
        if defaults:  # appended last, as ADD COLUMN appends them
            conn.execute(f"CREATE VIEW {current} AS SELECT *{defaults} FROM {stored_table}")
    # The first entry is the default for names without a schema; raw.<table> is looked up in order.
    conn.execute(
        "SET search_path = ?",
        [f"{_identifier(stored)}.main,{CURRENT_RAW}.raw,{_identifier(stored)}.raw"],
    )
    return missing


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


@dataclass(frozen=True)
class WindowRead:
    """One window's accepted read of a day: the staged read, the window exactly as sent, how many
    reads it took, and the ``sipGroupName`` it was filtered to ('' for every group)."""

    staged: StagedNdjsonRead
    str_time: str
    end_time: str
    reads: int
    sip_group_name: str = ""


def replace_raw_partition(
    conn: duckdb.DuckDBPyConnection,
    partition_date: date,
    staged: StagedNdjsonRead | Sequence[WindowRead],
    str_time: str | None = None,
    end_time: str | None = None,
    reads: int | None = None,
    *,
    allow_fewer_rows: bool = False,
    prepared: bool = False,
) -> LandedPartition:
    """Swap the partition's rows for the staged reads': all or nothing, other days untouched.

    ``staged`` is the day's reads, one ``WindowRead`` per window; or the one read of an unfiltered
    window, with ``str_time``/``end_time`` (the window exactly as sent) and ``reads``. Refuses (and
    rolls back) a replacement that would leave fewer rows than stored unless ``allow_fewer_rows``:
    past the API's retention the warehouse holds the only copy. ``prepared``: the raw tables exist
    already (the step made them when it opened the warehouse). The day is final afterwards.
    """
    if isinstance(staged, StagedNdjsonRead):
        if str_time is None or end_time is None or reads is None:
            raise TypeError("one staged read needs its str_time, end_time and reads")
        windows: Sequence[WindowRead] = [WindowRead(staged, str_time, end_time, reads)]
    elif str_time is not None or end_time is not None or reads is not None:
        raise TypeError("window reads carry their own str_time, end_time and reads")
    else:
        windows = staged
    _prepare_landing(conn, windows, prepared)
    day = {"partition_date": partition_date}
    with landing_settings(conn):
        return _replace(conn, day, windows, allow_fewer_rows)


def merge_raw_partition(
    conn: duckdb.DuckDBPyConnection,
    partition_date: date,
    windows: Sequence[WindowRead],
    read_until: datetime,
    *,
    refreshed_at: datetime,
    prepared: bool = False,
) -> LandedPartition:
    """Merge a provisional refresh (``windows``: the part of the day it read, up to ``read_until``)
    into the stored day in one transaction: records read again replace their stored copies, every
    other stored record is kept (so the day never shrinks), the refresh's pages replace the day's,
    and the day is recorded as provisional up to ``read_until``."""
    _prepare_landing(conn, windows, prepared)
    day = {"partition_date": partition_date}
    with landing_settings(conn):
        conn.begin()
        try:
            rows_before = _count(conn, partition_date)
            records = {**day, **_records_params(windows)}
            run_sql(conn, "delete_records_read_again", records)
            run_sql(conn, "insert_raw_records", records)  # a record read twice kept once
            _insert_pages(conn, day, windows)
            run_sql(
                conn,
                "mark_provisional_day",
                {**day, "read_until": read_until, "refreshed_at": refreshed_at},
            )
            rows_after = _count(conn, partition_date)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return LandedPartition(rows_before, rows_after)


def _prepare_landing(conn: duckdb.DuckDBPyConnection, windows: Sequence[WindowRead], prepared: bool) -> None:
    groups = [window.sip_group_name for window in windows]
    if not windows or len(set(groups)) != len(groups):
        raise ValueError(f"a day lands one read per window, each group once; got groups {groups}")
    if not prepared:
        ensure_raw_tables(conn)
    run_sql(conn, "staged_read_macros")


def _records_params(windows: Sequence[WindowRead]) -> dict[str, list[str]]:
    return {
        "records_paths": [str(window.staged.records_path) for window in windows],
        "sip_group_names": [window.sip_group_name for window in windows],
    }


def _insert_pages(
    conn: duckdb.DuckDBPyConnection, day: dict[str, date], windows: Sequence[WindowRead]
) -> None:
    for window in windows:
        run_sql(
            conn,
            "insert_raw_pages",
            {
                **day,
                "pages_path": str(window.staged.pages_path),
                "str_time": window.str_time,
                "end_time": window.end_time,
                "reads": window.reads,
                "sip_group_name": window.sip_group_name,
            },
        )


def _replace(
    conn: duckdb.DuckDBPyConnection,
    day: dict[str, date],
    windows: Sequence[WindowRead],
    allow_fewer_rows: bool,
) -> LandedPartition:
    partition_date = day["partition_date"]
    records = _records_params(windows)
    conn.begin()
    try:
        rows_before = _count(conn, partition_date)
        run_sql(conn, "delete_raw_partition", day)
        statement = "insert_distinct_raw_records" if _all_distinct(conn, windows) else "insert_raw_records"
        run_sql(conn, statement, {**day, **records})
        _insert_pages(conn, day, windows)
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


def _all_distinct(conn: duckdb.DuckDBPyConnection, windows: Sequence[WindowRead]) -> bool:
    """Whether no record came twice: each read's figures say so of itself (already computed when it
    was judged); across several windows, one pass over their identities says so of the day."""
    for window in windows:
        figures = window.staged.figures()
        if figures["distinct_voice_ids"] + figures["records_without_voice_id"] != figures["records_landed"]:
            return False
    if len(windows) == 1:
        return True
    paths = [str(window.staged.records_path) for window in windows]
    (row,) = query_rows(conn, "staged_window_identities", {"records_paths": paths})
    return row["records"] == row["identities"]


def _count(conn: duckdb.DuckDBPyConnection, partition_date: date) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM {RAW_CALL_RECORDS} WHERE partition_date = $d", {"d": partition_date}
    ).fetchone()
    assert row is not None
    return int(row[0])
