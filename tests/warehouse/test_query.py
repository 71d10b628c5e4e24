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

from laaffic_pipeline.warehouse.query import TABLE_ROWS, WarehouseQueryError, query_read_only


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
                (DATE '2026-11-26', 'EUR', 7, 123456789012345678.000001::DECIMAL(38,6), NULL)
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
        (date(2026, 11, 26), "EUR", Decimal("123456789012345678.000001")),
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


ALL_COLUMNS = "SELECT * FROM marts.daily_costs ORDER BY call_date"


def test_table_format_is_duckdbs_box_with_types_and_null(warehouse):
    text = query_read_only(warehouse, ALL_COLUMNS).render("table")
    assert text == (
        "┌────────────┬──────────┬───────┬───────────────────────────┬────────────────┐\n"
        "│ call_date  │ currency │ calls │        total_cost         │ sip_group_name │\n"
        "│    date    │ varchar  │ int32 │       decimal(38,6)       │    varchar     │\n"
        "├────────────┼──────────┼───────┼───────────────────────────┼────────────────┤\n"
        "│ 2026-11-25 │ USD      │    12 │                  3.500000 │ sales          │\n"
        "│ 2026-11-26 │ EUR      │     7 │ 123456789012345678.000001 │ NULL           │\n"
        "└────────────┴──────────┴───────┴───────────────────────────┴────────────────┘\n"
    )


def test_table_format_says_when_rows_are_left_out(warehouse):
    text = query_read_only(warehouse, f"SELECT range AS n FROM range({TABLE_ROWS + 5})").render("table")
    shown = [int(line.strip("│ ")) for line in text.splitlines() if line.strip("│ ").isdigit()]
    assert shown == list(range(TABLE_ROWS))
    note = f"({TABLE_ROWS:,} of {TABLE_ROWS + 5:,} rows shown; --format csv or json prints them all)\n"
    assert text.endswith(note)


def test_csv_format_has_a_header_exact_decimals_and_empty_nulls(warehouse):
    text = query_read_only(warehouse, ALL_COLUMNS).render("csv")
    assert text == (
        "call_date,currency,calls,total_cost,sip_group_name\n"
        "2026-11-25,USD,12,3.500000,sales\n"
        "2026-11-26,EUR,7,123456789012345678.000001,\n"
    )


def test_csv_format_quotes_what_needs_quoting(warehouse):
    text = query_read_only(warehouse, """SELECT 'a,b' AS note, 'say "hi"' AS quote""").render("csv")
    assert text == 'note,quote\n"a,b","say ""hi"""\n'


def test_json_format_keeps_decimals_exact_numbers_numeric_and_dates_iso(warehouse):
    text = query_read_only(warehouse, ALL_COLUMNS).render("json")
    assert json.loads(text) == [
        {
            "call_date": "2026-11-25",
            "currency": "USD",
            "calls": 12,
            "total_cost": "3.500000",
            "sip_group_name": "sales",
        },
        {
            "call_date": "2026-11-26",
            "currency": "EUR",
            "calls": 7,
            # 24 significant digits: a JSON number would lose them in any double-based reader.
            "total_cost": "123456789012345678.000001",
            "sip_group_name": None,
        },
    ]


def test_repeated_column_names_are_all_printed(warehouse):
    result = query_read_only(warehouse, "SELECT 1 AS a, 2 AS a")
    assert result.render("csv") == "a,a_1\n1,2\n"
    assert json.loads(result.render("json")) == [{"a": 1, "a_1": 2}]


def test_an_empty_result_is_a_header_or_an_empty_array(warehouse):
    result = query_read_only(warehouse, "SELECT currency FROM marts.daily_costs WHERE false")
    assert result.render("csv") == "currency\n"
    assert json.loads(result.render("json")) == []
    assert "│ currency │" in result.render("table")
