"""The warehouse opens in the DuckDB tools analysts install (``pip install duckdb-cli``: 1.5.x).

duckdb 2.x writes storage version v2 by default, which DuckDB 1.x cannot read; the pipeline
creates the file with ``LAAFFIC_DUCKDB_STORAGE_VERSION`` (default ``v1.0.0``) instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource

from tests.defs.pipeline import load_definitions, make_pipeline, set_pipeline_env

PINNED_CLI = "v1.5.6"  # duckdb-cli in pyproject's dev extra


def duckdb_cli(database: Path, sql: str) -> subprocess.CompletedProcess[str]:
    """The pinned DuckDB CLI (the ``duckdb-cli`` wheel's binary), read-only, CSV out."""
    command = [sys.executable, "-m", "duckdb_cli", "-readonly", "-csv", "-noheader", str(database), "-c", sql]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_pinned_cli_is_a_duckdb_1_x():
    version = subprocess.run(
        [sys.executable, "-m", "duckdb_cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.stdout.startswith(PINNED_CLI), version.stdout


def test_a_warehouse_made_by_the_pipeline_answers_in_the_pinned_cli(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition
    assert pipeline.run(day).success
    database = Path(pipeline.duckdb_path)
    expected = pipeline.query(
        """
        SELECT (SELECT count(*) FROM raw.call_records), (SELECT count(*) FROM marts.call_facts),
               (SELECT sum(calls) FROM marts.daily_costs)
        """
    )[0]
    assert expected[0] > 0

    answered = duckdb_cli(
        database,
        "SELECT (SELECT count(*) FROM raw.call_records), (SELECT count(*) FROM marts.call_facts), "
        "(SELECT sum(calls) FROM marts.daily_costs);",
    )

    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == ",".join(str(value) for value in expected)

    # ... and so does `laaffic-pipeline sql`, through its installed entry point.
    cli = Path(sys.executable).with_name("laaffic-pipeline")
    printed = subprocess.run(
        [str(cli), "sql", "--warehouse", "SELECT count(*) AS rows FROM raw.call_records", "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LAAFFIC_DUCKDB_PATH": str(database)},
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == f"rows\n{expected[0]}\n"


def test_duckdb_2_default_storage_would_not_open_in_it(tmp_path):
    """Why the setting exists: the same file written with duckdb 2.x's default is unreadable."""
    database = tmp_path / "default-storage.duckdb"
    with duckdb.connect(str(database)) as conn:
        conn.execute("CREATE TABLE t AS SELECT 1 AS x")

    answered = duckdb_cli(database, "SELECT x FROM t;")

    assert answered.returncode != 0
    assert "version number" in answered.stderr


def test_every_warehouse_connection_of_the_pipeline_uses_the_configured_storage_version(monkeypatch):
    """Assets and checks all reach DuckDB through this one resource; none creates the file otherwise."""
    set_pipeline_env(monkeypatch, {"duckdb_storage_version": "v1.1.0"})
    resources = load_definitions().resources
    warehouses = [resource for resource in resources.values() if isinstance(resource, DuckDBResource)]
    assert len(warehouses) == 1
    assert warehouses[0].connection_config["storage_compatibility_version"] == "v1.1.0"
