"""Every warehouse relation's columns and their descriptions, read from the DDL's COMMENT ON statements.

The ``create_*.sql`` files are the one place a column is described; the Dagster UI's column schema
and ``docs/warehouse.md`` (tested against this module) repeat those words. The statements run once
per process in an in-memory DuckDB, which is then asked what it built.
"""

from __future__ import annotations

from functools import cache

import duckdb

from laaffic_pipeline.warehouse.sql import run_sql

CREATE_STATEMENTS = ("create_raw_tables", "create_marts")
# DuckDB spells TIMESTAMPTZ out in its catalog; the DDL, the docs and the UI use the short name.
_TYPE_NAMES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}


def table_columns(table_name: str) -> list[tuple[str, str, str]]:
    """``(name, type, comment)`` of each column of ``table_name`` (``schema.table``, a view too), in order.

    Raises ``KeyError`` for a relation the create statements do not define.
    """
    try:
        return list(_catalog()[0][table_name])
    except KeyError:
        raise KeyError(f"no relation {table_name!r} in {', '.join(CREATE_STATEMENTS)}.sql") from None


def table_comment(table_name: str) -> str:
    """The ``COMMENT ON TABLE`` / ``COMMENT ON VIEW`` text of ``table_name``."""
    return _catalog()[1][table_name]


def table_names() -> list[str]:
    """Every relation the create statements define, as ``schema.table``, sorted."""
    return sorted(_catalog()[0])


def live_table_columns(conn: duckdb.DuckDBPyConnection, table_name: str) -> list[tuple[str, str]]:
    """``(name, type)`` of each column of ``table_name`` as it exists in ``conn``'s database; [] if absent."""
    schema, name = table_name.split(".")
    rows = conn.execute(
        """
        SELECT column_name, data_type FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = $schema AND table_name = $name
        ORDER BY column_index
        """,
        {"schema": schema, "name": name},
    ).fetchall()
    return [(column, _TYPE_NAMES.get(data_type, data_type)) for column, data_type in rows]


@cache
def _catalog() -> tuple[dict[str, tuple[tuple[str, str, str], ...]], dict[str, str]]:
    with duckdb.connect(":memory:") as conn:
        for name in CREATE_STATEMENTS:
            run_sql(conn, name)
        rows = conn.execute(
            """
            SELECT schema_name || '.' || table_name, column_name, data_type, coalesce(comment, '')
            FROM duckdb_columns()
            WHERE database_name = current_database() AND NOT internal
            ORDER BY schema_name, table_name, column_index
            """
        ).fetchall()
        comments = conn.execute(
            """
            SELECT schema_name || '.' || table_name, coalesce(comment, '') FROM duckdb_tables()
            WHERE database_name = current_database()
            UNION ALL
            SELECT schema_name || '.' || view_name, coalesce(comment, '') FROM duckdb_views()
            WHERE database_name = current_database() AND NOT internal
            """
        ).fetchall()
    columns: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, data_type, comment in rows:
        columns.setdefault(table, []).append((column, _TYPE_NAMES.get(data_type, data_type), comment))
    return {table: tuple(found) for table, found in columns.items()}, dict(comments)
