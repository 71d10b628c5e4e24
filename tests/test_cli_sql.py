"""``laaffic-pipeline sql``: a query in, a table/CSV/JSON out, exit 1 with the reason on failure."""

from __future__ import annotations

import io
import json

import duckdb
import pytest

from laaffic_pipeline.cli import main


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    path = tmp_path / "laaffic.duckdb"
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        conn.execute(
            "CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT 'USD' AS currency, 3 AS calls, "
            "0.100000::DECIMAL(38,6) AS total_cost, NULL::VARCHAR AS note"
        )
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(path))
    return path


def test_prints_a_table_by_default(warehouse, capsys):
    assert main(["sql", "SELECT currency, calls, note FROM marts.t"]) == 0
    assert capsys.readouterr().out == (
        "┌──────────┬───────┬─────────┐\n"
        "│ currency │ calls │  note   │\n"
        "│ varchar  │ int32 │ varchar │\n"
        "├──────────┼───────┼─────────┤\n"
        "│ USD      │     3 │ NULL    │\n"
        "└──────────┴───────┴─────────┘\n"
    )


def test_prints_csv_with_a_header(warehouse, capsys):
    assert main(["sql", "SELECT * FROM marts.t", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "currency,calls,total_cost,note\nUSD,3,0.100000,\n"


def test_reads_the_query_from_stdin_and_prints_json(warehouse, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT calls, total_cost, note FROM marts.t"))
    assert main(["sql", "-", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"calls": 3, "total_cost": "0.100000", "note": None}]


def test_a_failure_exits_1_with_the_reason(tmp_path, capsys):
    assert main(["sql", "SELECT 1", "--database", str(tmp_path / "missing.duckdb")]) == 1
    assert "no warehouse at" in capsys.readouterr().err
    assert not (tmp_path / "missing.duckdb").exists()


def test_the_analysts_file_is_queried_when_it_exists_and_the_warehouse_on_request(warehouse, capsys):
    analytics = warehouse.parent / "analytics.duckdb"
    with duckdb.connect(str(analytics), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        conn.execute("CREATE SCHEMA marts; CREATE VIEW marts.t AS SELECT 'EUR' AS currency")
    assert main(["sql", "--format", "csv", "SELECT currency FROM marts.t"]) == 0
    assert capsys.readouterr().out == "currency\nEUR\n"
    assert main(["sql", "--warehouse", "--format", "csv", "SELECT currency FROM marts.t"]) == 0
    assert capsys.readouterr().out == "currency\nUSD\n"
