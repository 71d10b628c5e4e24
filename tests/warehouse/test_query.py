"""Analysts' read-only queries: what they print, and that they never hold or create the warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from laaffic_pipeline.warehouse.query import (
    WarehouseQueryError,
    format_csv,
    format_json,
    format_table,
    query_read_only,
)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "laaffic.duckdb"
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        conn.execute(
            """
            CREATE SCHEMA marts;
            CREATE TABLE marts.daily_costs AS
            SELECT * FROM (VALUES
                (DATE '2026-11-25', 'USD', 12, 3.500000::DECIMAL(38,6), 'sales'),
                (DATE '2026-11-26', 'EUR', 7, 0.125000::DECIMAL(38,6), NULL)
            ) AS t(call_date, currency, calls, total_cost, sip_group_name);
            """
        )
    return path


def test_a_query_returns_columns_and_typed_rows(warehouse):
    result = query_read_only(
        warehouse, "SELECT call_date, currency, total_cost FROM marts.daily_costs ORDER BY 1"
    )

    assert result.columns == ["call_date", "currency", "total_cost"]
    assert result.rows == [
        (date(2026, 11, 25), "USD", Decimal("3.500000")),
        (date(2026, 11, 26), "EUR", Decimal("0.125000")),
    ]


def test_the_connection_is_closed_when_the_query_returns(warehouse):
    query_read_only(warehouse, "SELECT count(*) FROM marts.daily_costs")
    # A writer gets the file at once: nothing of the query is left open.
    with duckdb.connect(str(warehouse)) as writer:
        writer.execute("INSERT INTO marts.daily_costs VALUES (DATE '2026-11-27', 'USD', 1, 1, 'ops')")


def test_writes_are_refused(warehouse):
    with pytest.raises(WarehouseQueryError, match="read-only"):
        query_read_only(warehouse, "DELETE FROM marts.daily_costs")
    assert query_read_only(warehouse, "SELECT count(*) FROM marts.daily_costs").rows == [(2,)]


def test_a_missing_warehouse_is_reported_and_not_created(tmp_path):
    missing = tmp_path / "nowhere" / "laaffic.duckdb"
    with pytest.raises(WarehouseQueryError, match="no warehouse at"):
        query_read_only(missing, "SELECT 1")
    assert not missing.exists()
    assert not missing.parent.exists()


def test_a_bad_query_says_what_duckdb_said(warehouse):
    with pytest.raises(WarehouseQueryError, match="marts.nope"):
        query_read_only(warehouse, "SELECT * FROM marts.nope")


def test_it_waits_for_a_writer_then_gives_up_naming_the_lock(warehouse):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys
                conn = duckdb.connect({str(warehouse)!r})
                print("locked", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(WarehouseQueryError, match=r"busy.*Could not set lock.*Waited 0.5s"):
            query_read_only(warehouse, "SELECT 1", wait_s=0.5)
    finally:
        holder.communicate("")  # closes stdin: the holder exits and releases the file
    assert query_read_only(warehouse, "SELECT 1", wait_s=0.5).rows == [(1,)]


def test_table_format_aligns_numbers_right_and_spells_null():
    text = format_table(
        ["day", "calls", "group"], [(date(2026, 11, 25), 12, "sales"), (date(2026, 11, 26), 7, None)]
    )
    assert text == (
        "day        | calls | group\n"
        "-----------+-------+------\n"
        "2026-11-25 |    12 | sales\n"
        "2026-11-26 |     7 | NULL\n"
        "(2 rows)\n"
    )


def test_csv_format_has_a_header_and_empty_nulls():
    text = format_csv(
        ["currency", "total_cost", "note"], [("USD", Decimal("3.500000"), None), ("EUR", 1, "a,b")]
    )
    assert text == 'currency,total_cost,note\nUSD,3.500000,\nEUR,1,"a,b"\n'


def test_json_format_keeps_decimals_exact_and_dates_iso():
    text = format_json(["call_date", "total_cost", "calls"], [(date(2026, 11, 25), Decimal("0.100000"), 3)])
    assert json.loads(text) == [{"call_date": "2026-11-25", "total_cost": "0.100000", "calls": 3}]
