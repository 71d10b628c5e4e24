"""``laaffic-pipeline sql``: a query in, a table/CSV/JSON out, exit 1 with the reason on failure."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from laaffic_pipeline import cli
from laaffic_pipeline.cli import main
from tests.warehouse.older_warehouse import BUILT_DAY, SHORT_DAY, write_older_warehouse


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    path = tmp_path / "laaffic.duckdb"
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        conn.execute(
            "CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT 'USD' AS currency, 3 AS calls, "
            "0.100000::DECIMAL(38,6) AS total_cost, NULL::VARCHAR AS note"
        )
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(path))
    monkeypatch.delenv("LAAFFIC_ANALYTICS_PATH", raising=False)
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


def test_raw_tables_asked_of_the_analysts_file_fail_with_a_hint_to_use_warehouse(warehouse, capsys):
    analytics = warehouse.parent / "analytics.duckdb"
    with duckdb.connect(str(analytics), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        conn.execute("CREATE SCHEMA marts; CREATE VIEW marts.t AS SELECT 'EUR' AS currency")

    assert main(["sql", "SELECT count(*) FROM raw.call_records"]) == 1

    error, hint = capsys.readouterr().err.rstrip("\n").rsplit("\n", 1)
    assert error.startswith("laaffic-pipeline sql: Catalog Error:")
    assert 'schema "raw" does not exist' in error
    assert hint == (
        f"hint: the analysts' file {analytics} holds the views marts.call_facts, marts.daily_costs, "
        "marts.daily_costs_by_currency (and whatever you saved there); the raw tables "
        "(raw.call_records, raw.call_record_pages) are in the warehouse: add --warehouse"
    )


def test_a_missing_table_in_the_warehouse_itself_gets_no_such_hint(warehouse, capsys):
    assert main(["sql", "--warehouse", "SELECT count(*) FROM raw.call_records"]) == 1
    assert "hint:" not in capsys.readouterr().err


def test_sql_needs_no_pipeline_setting_and_works_whatever_they_are(warehouse, tmp_path):
    """A subprocess, as an analyst runs it, with settings the pipeline itself would refuse exported."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LAAFFIC_")}
    env |= {
        "LAAFFIC_DUCKDB_PATH": str(warehouse),
        "LAAFFIC_LOOKBACK_DAYS": "-1",
        "LAAFFIC_TIMEZONE": "Mars/Olympus_Mons",
        "LAAFFIC_BASE_URL": "http://example.com/not-tls",
    }
    result = subprocess.run(
        [str(Path(sys.executable).with_name("laaffic-pipeline")), "sql", "--format", "csv",
         "SELECT currency FROM marts.t"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, "currency\nUSD\n", "")


def test_the_analysts_file_is_found_from_laaffic_analytics_path(warehouse, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "shared" / "for-analysts.duckdb"
    elsewhere.parent.mkdir()
    with duckdb.connect(str(elsewhere)) as conn:
        conn.execute("CREATE SCHEMA marts; CREATE VIEW marts.t AS SELECT 'JPY' AS currency")
    monkeypatch.setenv("LAAFFIC_ANALYTICS_PATH", str(elsewhere))
    assert main(["sql", "--format", "csv", "SELECT currency FROM marts.t"]) == 0
    assert capsys.readouterr().out == "currency\nJPY\n"


def test_the_files_sql_reads_are_named_and_defaulted_as_the_settings_declare_them():
    """``sql`` reads its two settings without the settings module (it imports Dagster): the names
    and the default must stay those settings.py declares."""
    from laaffic_pipeline.settings import WarehouseSettings, env_name

    assert env_name("duckdb_path") == cli.DUCKDB_PATH_VARIABLE
    assert env_name("analytics_path") == cli.ANALYTICS_PATH_VARIABLE
    assert WarehouseSettings.model_fields["duckdb_path"].default == cli.DEFAULT_DUCKDB_PATH
    assert WarehouseSettings.model_fields["analytics_path"].default == ""
    assert cli.warehouse_files({}) == ("data/laaffic.duckdb", Path("data/analytics.duckdb"))
    assert cli.warehouse_files({"LAAFFIC_DUCKDB_PATH": "/w/x.duckdb", "LAAFFIC_ANALYTICS_PATH": " "}) == (
        "/w/x.duckdb",
        Path("/w/analytics.duckdb"),
    )


@pytest.fixture
def older_warehouse(tmp_path, monkeypatch):
    path = write_older_warehouse(tmp_path / "laaffic.duckdb")
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(path))
    monkeypatch.delenv("LAAFFIC_ANALYTICS_PATH", raising=False)
    return path


def test_an_older_warehouse_is_queried_as_it_is(older_warehouse, capsys):
    query = "SELECT partition_date, count(*) AS records FROM raw.call_records GROUP BY 1 ORDER BY 1"
    assert main(["sql", "--warehouse", "--format", "csv", query]) == 0
    assert capsys.readouterr().out == f"partition_date,records\n{BUILT_DAY},3\n{SHORT_DAY},1\n"


@pytest.mark.parametrize(
    "query", ["SELECT * FROM raw.provisional_days", "SELECT DISTINCT sip_group_name FROM raw.call_records"]
)
def test_what_an_older_warehouse_lacks_is_named_with_what_upgrades_it(older_warehouse, capsys, query):
    before = older_warehouse.read_bytes()

    assert main(["sql", "--warehouse", query]) == 1

    hint = capsys.readouterr().err.rstrip("\n").rsplit("\n", 1)[-1]
    assert hint == (
        "hint: an older laaffic-pipeline wrote this warehouse, which lacks "
        "raw.call_record_pages.sip_group_name, raw.call_records.sip_group_name, raw.provisional_days: "
        "the pipeline's next run upgrades it in place "
        "(the marts too), keeping everything stored; materializing marts/* does it without any API request"
    )
    assert older_warehouse.read_bytes() == before


def test_a_table_no_version_had_gets_no_upgrade_hint(older_warehouse, capsys):
    assert main(["sql", "--warehouse", "SELECT * FROM raw.no_such_table"]) == 1
    assert "hint:" not in capsys.readouterr().err
