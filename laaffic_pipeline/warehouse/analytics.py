"""The analysts' file: a small DuckDB file of views over the Parquet exports, never locked by the pipeline.

Analysts and BI tools may hold a connection to it for as long as they like: the pipeline writes
the warehouse and the Parquet exports, not this file, so their connection never makes a run
wait, and every new day's export shows up in the views at their next query (the views read
``<warehouse dir>/exports/<table>/*.parquet``, a glob expanded on each query).

The file is (re)written only when its view definitions change (first run, a new warehouse
location, a column added to the marts, a table's first export): the definitions' SHA-256 is
stored in its table ``analytics_definitions``. A rewrite builds a new file under a temporary name
and renames it over the old one, so a reader opening it sees the old file or the new, whole; a
connection held across the rename keeps reading the old file (its inode), which holds the same
views but the old definitions until reconnected.

Views have the warehouse tables' names, columns and types (``marts.call_facts``,
``marts.daily_costs`` and ``marts.daily_costs_by_currency``): columns are cast to the warehouse's
types, taken from ``sql/create_marts.sql``; a table without any export yet is an empty view of
the same columns, replaced by the Parquet view once its first file exists.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import date
from pathlib import Path

import duckdb

from laaffic_pipeline.warehouse.exports import export_path, exports_dir
from laaffic_pipeline.warehouse.marts import ensure_mart_tables
from laaffic_pipeline.warehouse.tables import (
    MARTS_CALL_FACTS,
    MARTS_DAILY_COSTS,
    MARTS_DAILY_COSTS_BY_CURRENCY,
)

EXPORTED_TABLES = (MARTS_CALL_FACTS, MARTS_DAILY_COSTS)
DERIVED_VIEWS = (MARTS_DAILY_COSTS_BY_CURRENCY,)  # defined over the tables, as in the warehouse
DEFINITIONS_TABLE = "analytics_definitions"
ANALYTICS_FILE_NAME = "analytics.duckdb"


def default_analytics_path(warehouse_path: str | os.PathLike[str]) -> Path:
    """``analytics.duckdb`` beside the warehouse file (``data/analytics.duckdb`` by default)."""
    return Path(warehouse_path).parent / ANALYTICS_FILE_NAME


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_statements(warehouse_path: str | os.PathLike[str]) -> list[str]:
    """The statements that create the analysts' views for the warehouse at ``warehouse_path``."""
    with duckdb.connect() as schema:  # the marts' columns and view, as sql/create_marts.sql makes them
        ensure_mart_tables(schema)
        statements = ["CREATE SCHEMA marts;"]
        exports = exports_dir(Path(warehouse_path).resolve())
        for table in EXPORTED_TABLES:
            columns = schema.execute(f"DESCRIBE {table}").fetchall()
            folder = export_path(exports, table, date.min).parent  # every day's file is in it
            if any(folder.glob("*.parquet")):
                select = ", ".join(f'CAST("{name}" AS {kind}) AS "{name}"' for name, kind, *_ in columns)
                source = f"read_parquet({_quoted(str(folder / '*.parquet'))}, hive_partitioning = false)"
                statements.append(f"CREATE VIEW {table} AS SELECT {select} FROM {source};")
            else:  # no export yet: the same columns, no rows
                select = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind, *_ in columns)
                statements.append(f"CREATE VIEW {table} AS SELECT {select} WHERE false;")
        for view in DERIVED_VIEWS:
            schema_name, view_name = view.split(".")
            (sql,) = schema.execute(
                "SELECT sql FROM duckdb_views() WHERE schema_name = $s AND view_name = $v",
                {"s": schema_name, "v": view_name},
            ).fetchone() or (None,)
            statements.append(sql)
    return statements


def definitions_digest(statements: list[str]) -> str:
    return hashlib.sha256("\n".join(statements).encode()).hexdigest()


def stored_digest(analytics_path: str | os.PathLike[str]) -> str | None:
    """The digest of the definitions ``analytics_path`` was built from; None if absent or unreadable."""
    if not Path(analytics_path).exists():
        return None
    try:
        with duckdb.connect(str(analytics_path), read_only=True) as conn:
            row = conn.execute(f"SELECT sha256 FROM {DEFINITIONS_TABLE}").fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def ensure_analytics_file(
    warehouse_path: str | os.PathLike[str],
    analytics_path: str | os.PathLike[str],
    *,
    storage_version: str = "v1.0.0",
) -> bool:
    """(Re)write the analysts' file if its view definitions changed; True if it was written.

    Cheap when nothing changed (one read-only look at the stored digest), so the mart asset can
    call it after every export. ``storage_version`` keeps the file readable by DuckDB 1.x tools.
    """
    statements = view_statements(warehouse_path)
    digest = definitions_digest(statements)
    final = Path(analytics_path)
    if stored_digest(final) == digest:
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        config = {"storage_compatibility_version": storage_version}
        with duckdb.connect(str(temporary), config=config) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                f"CREATE TABLE {DEFINITIONS_TABLE} AS SELECT $digest AS sha256, now() AS written_at, "
                "$definitions AS definitions",
                {"digest": digest, "definitions": "\n".join(statements)},
            )
            conn.execute("CHECKPOINT")
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)
    return True
