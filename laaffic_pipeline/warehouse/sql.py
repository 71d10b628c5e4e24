"""Named SQL statements shipped next to this module (``sql/<name>.sql``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

import duckdb


@cache
def load_sql(name: str) -> str:
    """The text of ``sql/<name>.sql``; statements that transform data live there, not in Python."""
    return (files("laaffic_pipeline.warehouse") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def run_sql(conn: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None) -> None:
    """Run every statement of ``sql/<name>.sql``, each given the named parameters it uses."""
    params = params or {}
    for statement in conn.extract_statements(load_sql(name)):
        conn.execute(statement, {key: params[key] for key in statement.named_parameters})


def query_rows(
    conn: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every row of the one-query ``sql/<name>.sql`` as ``{column: value}``."""
    params = params or {}
    (statement,) = conn.extract_statements(load_sql(name))
    cursor = conn.execute(statement, {key: params[key] for key in statement.named_parameters})
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
