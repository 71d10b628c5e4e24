"""Rebuild one day of the marts from raw, each rebuild one delete+insert transaction.

A day's rebuild reads that day's raw rows (and the previous day's voice ids), so backfilling a
day costs one day's rows, and running it twice leaves the same rows as running it once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from laaffic_pipeline.warehouse.landing import ensure_raw_tables
from laaffic_pipeline.warehouse.sql import load_sql, run_sql


def ensure_mart_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the marts (and the raw tables they read) if absent; refresh the view's definition."""
    ensure_raw_tables(conn)
    run_sql(conn, "create_marts")


def rebuild_call_facts(conn: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Replace ``day``'s rows of ``marts.call_facts``; returns the figures of what was built."""
    with _transaction(conn):
        ensure_mart_tables(conn)
        run_sql(conn, "delete_call_facts_partition", {"call_date": day})
        run_sql(conn, "insert_call_facts", {"call_date": day})
    return query_one(conn, "call_facts_partition_figures", day)


@dataclass(frozen=True)
class DailyCostsBuild:
    rows: int
    by_currency: list[dict[str, Any]]  # the day's rows of marts.daily_costs_by_currency


def rebuild_daily_costs(conn: duckdb.DuckDBPyConnection, day: date) -> DailyCostsBuild:
    """Replace ``day``'s rows of ``marts.daily_costs`` from that day's ``marts.call_facts``."""
    with _transaction(conn):
        ensure_mart_tables(conn)
        run_sql(conn, "delete_daily_costs_partition", {"call_date": day})
        run_sql(conn, "insert_daily_costs", {"call_date": day})
    return DailyCostsBuild(
        rows=query_one(conn, "daily_costs_partition_figures", day)["rows"],
        by_currency=query_all(conn, "daily_costs_currency_summary", day),
    )


def query_one(conn: duckdb.DuckDBPyConnection, name: str, day: date) -> dict[str, Any]:
    """The single row of ``sql/<name>.sql`` for ``day``, as ``{column: value}``."""
    rows = query_all(conn, name, day)
    assert len(rows) == 1, f"{name}.sql returned {len(rows)} rows, expected 1"
    return rows[0]


def query_all(conn: duckdb.DuckDBPyConnection, name: str, day: date) -> list[dict[str, Any]]:
    """Every row of the one-statement ``sql/<name>.sql`` (taking ``$call_date``), as dicts."""
    cursor = conn.execute(load_sql(name), {"call_date": day})
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@contextmanager
def _transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing: a failed rebuild leaves the day's previous rows in place."""
    conn.begin()
    try:
        yield
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
