"""An analyst's query against the warehouse: read-only, connection closed before anything is printed.

DuckDB gives a file to one process at a time, and any open connection, even a read-only one,
keeps the pipeline from writing. So the connection lives only while the query runs: the rows are
fetched, the connection is closed, and only then are they formatted (or paged, or piped).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from laaffic_pipeline.warehouse.connection import WarehouseLockedError, connect_waiting

FORMATS = ("table", "csv", "json")


class WarehouseQueryError(RuntimeError):
    """The warehouse could not be opened or the query failed; the message says why."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def render(self, output_format: str) -> str:
        """The result as ``table`` (aligned text), ``csv`` (with a header) or ``json`` (objects)."""
        if output_format == "table":
            return format_table(self.columns, self.rows)
        if output_format == "csv":
            return format_csv(self.columns, self.rows)
        if output_format == "json":
            return format_json(self.columns, self.rows)
        raise ValueError(f"unknown format {output_format!r}; use one of {', '.join(FORMATS)}")


def query_read_only(database: str | Path, sql: str, wait_s: float = 10.0) -> QueryResult:
    """Run ``sql`` on a read-only connection and return every row; the connection is closed on return.

    Never creates the file. While the pipeline holds the write lock, tries again for up to
    ``wait_s`` seconds (its writes are short) before giving up with a message naming the holder.
    """
    conn = connect_read_only(database, wait_s)
    try:
        cursor = conn.execute(sql)
        columns = [column[0] for column in cursor.description or []]
        rows = cursor.fetchall() if columns else []
    except duckdb.Error as error:
        raise WarehouseQueryError(str(error)) from None
    finally:
        conn.close()
    return QueryResult(columns, rows)


def connect_read_only(database: str | Path, wait_s: float = 10.0) -> duckdb.DuckDBPyConnection:
    """A read-only connection for readers beside the pipeline (sql, report, demo summary).

    Never creates the file; while the pipeline holds the write lock, waits up to ``wait_s``.
    The caller closes it promptly: any open connection keeps the pipeline from writing.
    """
    database = str(database)
    if ":" not in database and not Path(database).is_file():  # md:..., ducklake:... are not files
        raise WarehouseQueryError(
            f"no warehouse at {database}: run the pipeline first (e.g. `make demo`) or point "
            "LAAFFIC_DUCKDB_PATH (or --database) at the file"
        )
    try:
        return connect_waiting(database, read_only=True, wait_s=wait_s, max_wait_s=1.0)
    except WarehouseLockedError as error:
        raise WarehouseQueryError(
            f"the warehouse is busy, another process is writing to it: {error} "
            f"Waited {wait_s:g}s; try again, or wait longer with --wait."
        ) from None
    except duckdb.Error as error:
        raise WarehouseQueryError(str(error)) from None


def format_table(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    """Aligned columns (numbers to the right), NULL spelled out, and a row count."""
    if not columns:
        return "(no result)\n"
    cells = [[_text(value) for value in row] for row in rows]
    numeric = [all(_is_number(row[i]) for row in rows if row[i] is not None) for i in range(len(columns))]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]

    def line(values: Sequence[str], header: bool = False) -> str:
        return " | ".join(
            value.rjust(width) if numeric[i] and not header else value.ljust(width)
            for i, (value, width) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(columns, header=True), "-+-".join("-" * width for width in widths)]
    out.extend(line(row) for row in cells)
    out.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out) + "\n"


def format_csv(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    """RFC 4180 CSV with a header row; NULL is an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if value is None else _text(value) for value in row] for row in rows])
    return buffer.getvalue()


def format_json(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    """A JSON array of one object per row. Decimals stay exact (as strings); times are ISO 8601."""
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    return json.dumps(records, indent=2, ensure_ascii=False, default=_json_value) + "\n"


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime | date | time_of_day):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time_of_day):
        return value.isoformat()
    return str(value)  # Decimal (exact), UUID, timedelta, bytes...
