"""Rebuild the marts from raw for any set of days, each rebuild one delete+insert transaction.

The SQL is set-based over a list of days (``$days``), so a ranged backfill rebuilds 30 days in one
statement per table, and one day is a list of one. Day D's call facts read raw D and the voice ids
of raw D-1, never other marts rows: rebuilding a day twice leaves the same rows as once, and
rebuilding from raw with another ``cost_currency`` restates history without calling the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from laaffic_pipeline.warehouse.columns import live_table_columns, table_columns
from laaffic_pipeline.warehouse.landing import ensure_raw_tables
from laaffic_pipeline.warehouse.sql import query_rows, run_sql
from laaffic_pipeline.warehouse.tables import (
    MARTS_CALL_FACTS,
    MARTS_DAILY_COSTS,
    MARTS_DAILY_COSTS_BY_CURRENCY,
    RAW_CALL_RECORDS,
)

COST_CURRENCY_RECORD = "record"
"""``LAAFFIC_COST_CURRENCY`` value: cost and rate are in each record's own ``currency``."""

Figures = dict[str, Any]


def check_cost_currency(cost_currency: str) -> str:
    """``cost_currency`` if it is a valid ``LAAFFIC_COST_CURRENCY``; a ``ValueError`` saying why not.

    The API document labels ``cost`` "Consumption amount (USD)" and ``rate`` "Rate (USD)", yet each
    record carries a ``currency`` ("Quotation Currency"), ``EUR`` in the document's own sample.
    ``record`` reads money in that currency; a code such as ``USD`` reads it in that code always.
    """
    if cost_currency == COST_CURRENCY_RECORD or (
        isinstance(cost_currency, str) and re.fullmatch(r"[A-Z]{3}", cost_currency)
    ):
        return cost_currency
    raise ValueError(
        f"LAAFFIC_COST_CURRENCY is {cost_currency!r}; accepted values: 'record' (cost and rate are in "
        "each record's own currency) or an ISO 4217 three-letter upper-case code such as 'USD' (cost "
        "and rate are in that currency whatever the record's quotation currency)"
    )


def ensure_mart_tables(
    conn: duckdb.DuckDBPyConnection, cost_currency: str = COST_CURRENCY_RECORD
) -> list[date]:
    """Create the marts (and the raw tables they read) if absent; refresh the view and the comments.

    Marts built by an older version (other columns than ``create_marts.sql`` defines) are dropped,
    created anew and restated from raw for every stored day with ``cost_currency``: they hold
    nothing raw does not. Returns the days so restated (usually none); their Parquet exports are
    stale until re-exported.
    """
    ensure_raw_tables(conn)
    outdated = _outdated_marts(conn)
    if outdated:
        conn.execute(f"DROP VIEW IF EXISTS {MARTS_DAILY_COSTS_BY_CURRENCY}")
        conn.execute(f"DROP TABLE IF EXISTS {MARTS_DAILY_COSTS}")
        conn.execute(f"DROP TABLE IF EXISTS {MARTS_CALL_FACTS}")
    run_sql(conn, "create_marts")
    if not outdated:
        return []
    days = stored_days(conn)
    _insert(conn, "call_facts", days, cost_currency)
    _insert(conn, "daily_costs", days, cost_currency)
    return days


@dataclass(frozen=True)
class DailyCostsBuild:
    rows: int
    by_currency: list[Figures]  # the day's rows of marts.daily_costs_by_currency


@dataclass(frozen=True)
class MartsRebuild:
    call_facts: dict[date, Figures]
    daily_costs: dict[date, DailyCostsBuild]

    @property
    def days(self) -> list[date]:
        """Every day rebuilt: the days asked for, and any an outdated schema forced to restate."""
        return sorted(self.call_facts)


def rebuild_marts(
    conn: duckdb.DuckDBPyConnection,
    days: Sequence[date],
    cost_currency: str = COST_CURRENCY_RECORD,
    *,
    prepared: bool = False,
) -> MartsRebuild:
    """Rebuild both marts for ``days`` from raw in one transaction: restate history, no API call.

    For correcting money read under another ``LAAFFIC_COST_CURRENCY`` (pass every stored day, e.g.
    ``stored_days(conn)``), or any backfill of the marts alone. Exports are the caller's: write
    ``export_partition`` for each of ``result.days`` and both tables. ``prepared``: the caller ran
    ``ensure_mart_tables`` on this database already (a connection shared with other writers, whose
    open transactions a change of the tables would conflict with).
    """
    wanted = _days(days)
    check_cost_currency(cost_currency)
    with _transaction(conn):
        restated = [] if prepared else ensure_mart_tables(conn, cost_currency)
        _replace(conn, "call_facts", wanted, cost_currency)
        _replace(conn, "daily_costs", wanted, cost_currency)
    built = sorted({*wanted, *restated})
    return MartsRebuild(
        call_facts=_single_rows(figures_by_day(conn, "call_facts_partition_figures", built)),
        daily_costs=_daily_costs_builds(conn, built),
    )


def stored_days(conn: duckdb.DuckDBPyConnection) -> list[date]:
    """Every day landed in raw, oldest first: what ``rebuild_marts`` restates for a whole history."""
    ensure_raw_tables(conn)
    return [
        day
        for (day,) in conn.execute(
            f"SELECT DISTINCT partition_date FROM {RAW_CALL_RECORDS} ORDER BY 1"
        ).fetchall()
    ]


def figures_by_day(
    conn: duckdb.DuckDBPyConnection, name: str, days: Sequence[date]
) -> dict[date, list[Figures]]:
    """The rows of the one-statement ``sql/<name>.sql`` (taking ``$days``) grouped by their ``call_date``.

    Every day of ``days`` is a key, in order, even one without rows.
    """
    grouped: dict[date, list[Figures]] = {day: [] for day in sorted(days)}
    for row in query_rows(conn, name, {"days": list(grouped)}):
        grouped[row.pop("call_date")].append(row)
    return grouped


def _replace(conn: duckdb.DuckDBPyConnection, table: str, days: list[date], cost_currency: str) -> None:
    run_sql(conn, f"delete_{table}_partition", {"days": days})
    _insert(conn, table, days, cost_currency)


def _insert(conn: duckdb.DuckDBPyConnection, table: str, days: list[date], cost_currency: str) -> None:
    run_sql(conn, f"insert_{table}", {"days": days, "cost_currency": cost_currency})


def _outdated_marts(conn: duckdb.DuckDBPyConnection) -> bool:
    """True when a mart table exists with other column names or types than the DDL defines."""
    for table in (MARTS_CALL_FACTS, MARTS_DAILY_COSTS):
        live = live_table_columns(conn, table)
        if live and live != [(name, kind) for name, kind, _ in table_columns(table)]:
            return True
    return False


def _days(days: Sequence[date]) -> list[date]:
    wanted = sorted(set(days))
    if not all(type(day) is date for day in wanted):
        raise TypeError(f"days must be datetime.date values, got {days!r}")
    return wanted


def _single_rows(grouped: dict[date, list[Figures]]) -> dict[date, Figures]:
    return {day: rows[0] for day, rows in grouped.items()}


def _daily_costs_builds(conn: duckdb.DuckDBPyConnection, days: list[date]) -> dict[date, DailyCostsBuild]:
    rows = _single_rows(figures_by_day(conn, "daily_costs_partition_figures", days))
    summaries = figures_by_day(conn, "daily_costs_currency_summary", days)
    return {day: DailyCostsBuild(rows=rows[day]["rows"], by_currency=summaries[day]) for day in days}


@contextmanager
def _transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing: a failed rebuild leaves every day's previous rows in place."""
    conn.begin()
    try:
        yield
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
