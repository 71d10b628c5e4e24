"""An analyst's query against the warehouse: read-only, connection closed before anything is printed.

DuckDB gives a file to one process at a time, and any open connection, even a read-only one,
keeps the pipeline from writing. So the connection lives only while the query runs: the rows are
fetched, the connection is closed, and only then are they printed (or paged, or piped). DuckDB
prints them too: the rows go into an in-memory database with their column types, and its box
rendering, CSV writer and JSON writer make the table, CSV and JSON.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from laaffic_pipeline.warehouse.connection import WarehouseLockedError, connect_waiting
from laaffic_pipeline.warehouse.landing import read_raw_as_current

FORMATS = ("table", "csv", "json")
TABLE_ROWS = 10_000  # rows DuckDB draws in a table at most


class WarehouseQueryError(RuntimeError):
    """The warehouse could not be opened or the query failed; the message says why."""


class UnknownRelationError(WarehouseQueryError):
    """The query names a schema, table, view or function the file does not have (DuckDB's catalog error)."""


@dataclass(frozen=True)
class QueryResult:
    """A query's rows as fetched, with each column's DuckDB type, printable once the file is closed."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]

    def render(self, output_format: str) -> str:
        """The result as ``table`` (DuckDB's box rendering, every row and column), ``csv`` (with a
        header; NULL an empty field) or ``json`` (an array of objects; decimals as exact strings)."""
        if output_format not in FORMATS:
            raise ValueError(f"unknown format {output_format!r}; use one of {', '.join(FORMATS)}")
        if not self.columns:
            return "(no result)\n"
        names = _distinct(self.columns)
        with duckdb.connect() as memory:
            columns = ", ".join(
                f"{_quoted(name)} {kind}" for name, kind in zip(names, self.types, strict=True)
            )
            memory.execute(f"CREATE TABLE result ({columns})")
            appender = memory.appender("result")
            appender.append_rows(self.rows)
            appender.flush()
            if output_format == "table":
                return _box(memory.table("result"), len(self.rows))
            if output_format == "csv":
                return _copied(memory, "SELECT * FROM result", "FORMAT csv, HEADER")
            # JSON numbers are read as binary floats by most tools: decimals go out as exact strings.
            decimals = [
                name for name, kind in zip(names, self.types, strict=True) if kind.startswith("DECIMAL")
            ]
            exact = ", ".join(f"{_quoted(name)}::VARCHAR AS {_quoted(name)}" for name in decimals)
            select = f"SELECT * REPLACE ({exact}) FROM result" if decimals else "SELECT * FROM result"
            return _copied(memory, select, "FORMAT json, ARRAY true")


def query_read_only(database: str | Path, sql: str, wait_s: float = 10.0) -> QueryResult:
    """Run ``sql`` on a read-only connection and return every row; the connection is closed on return.

    Never creates the file. While the pipeline holds the write lock, tries again for up to
    ``wait_s`` seconds (its writes are short) before giving up with a message naming the holder.
    """
    conn = connect_read_only(database, wait_s)
    try:
        cursor = conn.execute(sql)
        description = cursor.description or []
        rows = cursor.fetchall() if description else []
    except duckdb.CatalogException as error:
        raise UnknownRelationError(str(error) + _older_warehouse_hint(conn, error)) from None
    except duckdb.BinderException as error:
        raise WarehouseQueryError(str(error) + _older_warehouse_hint(conn, error)) from None
    except duckdb.Error as error:
        raise WarehouseQueryError(str(error)) from None
    finally:
        conn.close()
    return QueryResult(
        [column[0] for column in description], [str(column[1]) for column in description], rows
    )


def _older_warehouse_hint(conn: duckdb.DuckDBPyConnection, error: duckdb.Error) -> str:
    """For a query naming what an older version's warehouse lacks: which version gap, and what closes it."""
    missing = read_raw_as_current(conn)
    if not any(name.rsplit(".", 1)[-1] in str(error) for name in missing):
        return ""
    return (
        f"\nhint: an older laaffic-pipeline wrote this warehouse, which lacks {', '.join(missing)}: the "
        "pipeline's next run upgrades it in place (the marts too), keeping everything stored; "
        "materializing marts/* does it without any API request"
    )


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


def _box(result: duckdb.DuckDBPyRelation, rows: int) -> str:
    """DuckDB's own table rendering, nothing cut but rows past DuckDB's limit, which a note counts."""
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        result.show(max_rows=max(rows, 1), max_width=1_000_000, max_col_width=1_000_000)
    box = shown.getvalue().rstrip("\n").split("\n")
    if rows < TABLE_ROWS:
        return "\n".join(box) + "\n"
    closing = max(index for index, line in enumerate(box) if line.startswith("└"))  # its footer: "? rows"
    note = f"({TABLE_ROWS:,} of {rows:,} rows shown; --format csv or json prints them all)"
    return "\n".join([*box[: closing + 1], note]) + "\n"


def _copied(memory: duckdb.DuckDBPyConnection, select: str, options: str) -> str:
    """What DuckDB's ``COPY (select) TO`` a file writes with ``options`` (its CSV or JSON writer)."""
    with tempfile.TemporaryDirectory(prefix="laaffic-sql-") as folder:
        path = (Path(folder) / "result").as_posix().replace("'", "''")
        memory.execute(f"COPY ({select}) TO '{path}' ({options})")
        return Path(folder, "result").read_text(encoding="utf-8")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _distinct(names: Sequence[str]) -> list[str]:
    """Column names a table accepts: a repeated name (``SELECT 1 AS a, 2 AS a``) gets ``_1``, ``_2``..."""
    taken: set[str] = set()
    distinct = []
    for name in names:
        candidate, number = name, 0
        while candidate.lower() in taken:  # DuckDB's names are case-insensitive
            number += 1
            candidate = f"{name}_{number}"
        taken.add(candidate.lower())
        distinct.append(candidate)
    return distinct
