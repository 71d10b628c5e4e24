"""The analysts' file: a small DuckDB file of views over the Parquet exports, never locked by the pipeline.

Analysts and BI tools may hold a connection to it for as long as they like: the pipeline writes
the warehouse and the Parquet exports, not this file, so their connection never makes a run
wait, and every new day's export shows up in the views at their next query (the views read
``<warehouse dir>/exports/<table>/*.parquet``, a glob expanded on each query).

The file is the analysts' as much as the pipeline's: an analyst may open it read-write and keep
tables, views or macros of their own in it. So the pipeline owns only what it creates, the views
``marts.call_facts``, ``marts.daily_costs`` and ``marts.daily_costs_by_currency`` (with their
table and column comments, the warehouse's ``COMMENT ON`` texts) and the one-row table
``analytics_definitions`` (the SHA-256 of the view definitions). It never drops, replaces or
deletes anything else, nor the file:

- the file does not exist: it is built whole under a temporary name and linked into place (a
  reader never sees half of it; a file someone created meanwhile is never overwritten);
- the definitions are unchanged (the usual case, one read-only look): nothing is written;
- they changed (a column added to the marts, a new warehouse location, a table's first export):
  the pipeline's views are replaced in place, in one transaction, beside whatever else the file holds;
- another process holds the file (DuckDB's lock: an analyst's read-write session, or a read-only one
  when the views must change): the refresh is skipped this time, and said so; the next run tries again;
- the file is not a DuckDB database the pipeline can open: it is moved aside to
  ``<name>.unreadable-<UTC time>`` (kept, never deleted) and a new one built, and said so.

Views have the warehouse tables' names, columns and types: columns are cast to the warehouse's
types, taken from ``sql/create_marts.sql``; a table without any export yet is an empty view of
the same columns, replaced by the Parquet view once its first file exists.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import duckdb

from laaffic_pipeline.warehouse.columns import table_columns, table_comment
from laaffic_pipeline.warehouse.exports import export_path, exports_dir
from laaffic_pipeline.warehouse.marts import ensure_mart_tables
from laaffic_pipeline.warehouse.tables import (
    MARTS_CALL_FACTS,
    MARTS_DAILY_COSTS,
    MARTS_DAILY_COSTS_BY_CURRENCY,
)

EXPORTED_TABLES = (MARTS_CALL_FACTS, MARTS_DAILY_COSTS)
DERIVED_VIEWS = (MARTS_DAILY_COSTS_BY_CURRENCY,)  # defined over the tables, as in the warehouse
PIPELINE_VIEWS = (*EXPORTED_TABLES, *DERIVED_VIEWS)
DEFINITIONS_TABLE = "analytics_definitions"
ANALYTICS_FILE_NAME = "analytics.duckdb"
_LOCK_ERROR = "Could not set lock on file"

logger = logging.getLogger(__name__)


def default_analytics_path(warehouse_path: str | os.PathLike[str]) -> Path:
    """``analytics.duckdb`` beside the warehouse file (``data/analytics.duckdb`` by default)."""
    return Path(warehouse_path).parent / ANALYTICS_FILE_NAME


class Refresh(Enum):
    """What ``ensure_analytics_file`` did to the analysts' file."""

    CREATED = "created"
    UPDATED = "updated"  # the pipeline's views replaced in place
    UNCHANGED = "unchanged"
    LOCKED = "locked"  # held by another process: left alone this time
    REPLACED_UNREADABLE = "replaced_unreadable"  # the old file moved aside, a new one built


@dataclass(frozen=True)
class AnalyticsRefresh:
    """The outcome of one refresh; true when the pipeline's views were written (created or updated)."""

    path: Path
    outcome: Refresh
    message: str

    def __bool__(self) -> bool:
        return self.outcome in (Refresh.CREATED, Refresh.UPDATED, Refresh.REPLACED_UNREADABLE)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_statements(warehouse_path: str | os.PathLike[str]) -> list[str]:
    """The statements that (re)create the analysts' views for the warehouse at ``warehouse_path``.

    ``CREATE OR REPLACE`` (replacing a view drops its comments, so the ``COMMENT ON``s follow it):
    they run as they are on a new file and on one that already holds the views.
    """
    with duckdb.connect() as schema:  # the marts' columns and view, as sql/create_marts.sql makes them
        ensure_mart_tables(schema)
        statements = ["CREATE SCHEMA IF NOT EXISTS marts;"]
        exports = exports_dir(Path(warehouse_path).resolve())
        for table in EXPORTED_TABLES:
            columns = schema.execute(f"DESCRIBE {table}").fetchall()
            folder = export_path(exports, table, date.min).parent  # every day's file is in it
            if any(folder.glob("*.parquet")):
                select = ", ".join(f'CAST("{name}" AS {kind}) AS "{name}"' for name, kind, *_ in columns)
                source = f"read_parquet({_quoted(str(folder / '*.parquet'))}, hive_partitioning = false)"
                statements.append(f"CREATE OR REPLACE VIEW {table} AS SELECT {select} FROM {source};")
            else:  # no export yet: the same columns, no rows
                select = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind, *_ in columns)
                statements.append(f"CREATE OR REPLACE VIEW {table} AS SELECT {select} WHERE false;")
        for view in DERIVED_VIEWS:
            schema_name, view_name = view.split(".")
            (sql,) = schema.execute(
                "SELECT sql FROM duckdb_views() WHERE schema_name = $s AND view_name = $v",
                {"s": schema_name, "v": view_name},
            ).fetchone() or (None,)
            statements.append(sql.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
    for view in PIPELINE_VIEWS:
        statements.append(f"COMMENT ON VIEW {view} IS {_quoted(table_comment(view))};")
        statements.extend(
            f"COMMENT ON COLUMN {view}.{name} IS {_quoted(comment)};"
            for name, _, comment in table_columns(view)
            if comment
        )
    return statements


def definitions_digest(statements: list[str]) -> str:
    return hashlib.sha256("\n".join(statements).encode()).hexdigest()


class _Unreadable(Exception):
    """The file exists but DuckDB cannot open it as a database (its message says why)."""


class _Locked(Exception):
    """Another process holds DuckDB's lock on the file (its message names the holder)."""


def _connect(path: Path, **options: Any) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, telling a file another process holds from one that is not a database."""
    try:
        return duckdb.connect(str(path), **options)
    except duckdb.Error as error:
        if _LOCK_ERROR in str(error):
            raise _Locked(str(error)) from None
        raise _Unreadable(str(error)) from None


def _stored_state(conn: duckdb.DuckDBPyConnection) -> str | None:
    """The stored digest, or None when it is missing or any of the pipeline's views is gone."""
    present = {
        f"{schema}.{name}"
        for schema, name in conn.execute(
            "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    }
    if not set(PIPELINE_VIEWS) <= present:
        return None
    try:
        row = conn.execute(f"SELECT sha256 FROM {DEFINITIONS_TABLE}").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def stored_digest(analytics_path: str | os.PathLike[str]) -> str | None:
    """The digest of the definitions ``analytics_path`` was built from; None if absent or unreadable."""
    if not Path(analytics_path).exists():
        return None
    try:
        with _connect(Path(analytics_path), read_only=True) as conn:
            return _stored_state(conn)
    except (_Locked, _Unreadable):
        return None


def ensure_analytics_file(
    warehouse_path: str | os.PathLike[str],
    analytics_path: str | os.PathLike[str],
    *,
    storage_version: str = "v1.0.0",
    log: logging.Logger | Any = None,
) -> AnalyticsRefresh:
    """Bring the pipeline's views in the analysts' file up to date, leaving everything else there.

    Cheap when nothing changed (one read-only look at the stored digest), so the pipeline can
    call it after every export. Never waits for a lock and never raises for one: a file held by
    another process is left alone (``Refresh.LOCKED``, logged as a warning on ``log``). The result
    is true when the views were written. ``storage_version`` (for a new file) keeps it readable by
    DuckDB 1.x tools; an existing file keeps the version it was created with.
    """
    log = log or logger
    statements = view_statements(warehouse_path)
    digest = definitions_digest(statements)
    final = Path(analytics_path)
    config = {"storage_compatibility_version": storage_version}
    if not final.exists():
        return _create(final, statements, digest, config, Refresh.CREATED, "")
    try:
        with _connect(final, read_only=True) as conn:
            if _stored_state(conn) == digest:
                return AnalyticsRefresh(final, Refresh.UNCHANGED, f"{final}: the views are up to date")
        with _connect(final) as conn:  # read-write: the lock is free now, or this raises _Locked
            _write_views(conn, statements, digest)
            conn.execute("CHECKPOINT")
    except _Locked as error:
        message = (
            f"The analysts' file {final} is open in another process, so its views were not "
            f"refreshed this time (nothing in it was changed; the next run tries again): {error}"
        )
        log.warning(message)
        return AnalyticsRefresh(final, Refresh.LOCKED, message)
    except _Unreadable as error:
        aside = final.with_name(f"{final.name}.unreadable-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        os.replace(final, aside)
        message = (
            f"The analysts' file {final} could not be opened as a DuckDB database ({error}); it was "
            f"moved to {aside}, untouched, and a new file with the pipeline's views was written"
        )
        log.warning(message)
        return _create(final, statements, digest, config, Refresh.REPLACED_UNREADABLE, message)
    return AnalyticsRefresh(final, Refresh.UPDATED, f"{final}: the pipeline's views were updated in place")


def _write_views(conn: duckdb.DuckDBPyConnection, statements: list[str], digest: str) -> None:
    """The pipeline's views and their digest, in one transaction: all of them or, on error, none."""
    conn.execute("BEGIN TRANSACTION")
    try:
        for statement in statements:
            conn.execute(statement)
        conn.execute(
            f"CREATE OR REPLACE TABLE {DEFINITIONS_TABLE} AS SELECT $digest AS sha256, "
            "now() AS written_at, $definitions AS definitions",
            {"digest": digest, "definitions": "\n".join(statements)},
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _create(
    final: Path,
    statements: list[str],
    digest: str,
    config: dict[str, str],
    outcome: Refresh,
    message: str,
) -> AnalyticsRefresh:
    """A new file built whole under a temporary name, then linked into place (``os.link`` never
    replaces a file someone created meanwhile: that one is left as it is, for the next refresh)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        with duckdb.connect(str(temporary), config=config) as conn:
            _write_views(conn, statements, digest)
            conn.execute("CHECKPOINT")
        try:
            os.link(temporary, final)
        except FileExistsError:
            return AnalyticsRefresh(
                final, Refresh.UNCHANGED, f"{final} appeared while it was being built; left as it is"
            )
    finally:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)
    return AnalyticsRefresh(final, outcome, message or f"{final}: written with the pipeline's views")
