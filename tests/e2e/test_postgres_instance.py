"""The production instance profile for real: Dagster's storage in a PostgreSQL server on loopback.

``deploy/production/dagster.yaml`` becomes ``$DAGSTER_HOME/dagster.yaml``, the connection comes
from ``DAGSTER_POSTGRES_*``, a partition is materialized against the simulator, and a fresh
instance (as another process would) reads the run, its materializations and check results back.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from laaffic_pipeline.defs.laaffic.specs import RAW_CALL_RECORDS_KEY
from tests.conftest import require
from tests.defs.pipeline import make_pipeline
from tests.e2e.dagster_dev import REPO_ROOT
from tests.e2e.postgres import PostgresServer, running_postgres, why_postgres_cannot_run

PRODUCTION_PROFILE = REPO_ROOT / "deploy" / "production" / "dagster.yaml"
DB_NAME = "laaffic_dagster"


@pytest.fixture(scope="module", autouse=True)
def postgres_installed() -> None:
    require(why_postgres_cannot_run(), "postgresql")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        conn = psycopg2.connect(**server.connection_args("postgres"))
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            conn.cursor().execute(f"CREATE DATABASE {DB_NAME}")
        finally:
            conn.close()
        yield server


@pytest.fixture
def production_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres: PostgresServer) -> Path:
    """A DAGSTER_HOME holding the production profile, its variables set in the environment."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION_PROFILE, home / "dagster.yaml")
    for name, value in postgres.env(DB_NAME).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_the_production_profile_keeps_runs_in_postgres(
    production_home: Path, postgres: PostgresServer, monkeypatch, tmp_path, simulator
):
    with DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
        pipeline.instance = instance
        day = pipeline.last_partition
        result = pipeline.run(day)
        assert result.success
        run_id = result.run_id

    # A new instance from the same DAGSTER_HOME: what the webserver or a daemon on another host sees.
    with DagsterInstance.from_config(str(production_home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == day
        materialized = instance.fetch_materializations(RAW_CALL_RECORDS_KEY, limit=10).records
        assert [(m.run_id, m.partition_key) for m in materialized] == [(run_id, day)]
        assert {m.asset_key for m in _materializations(instance, run_id)} == {
            RAW_CALL_RECORDS_KEY,
            AssetKey(["marts", "call_facts"]),
            AssetKey(["marts", "daily_costs"]),
        }
        checks = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
        evaluations = [record.event_log_entry.dagster_event.event_specific_data for record in checks]
        assert evaluations and all(e.passed and e.partition == day for e in evaluations)

    # And it is PostgreSQL that holds it, not a file under DAGSTER_HOME.
    conn = psycopg2.connect(**postgres.connection_args(DB_NAME))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        assert cursor.fetchall() == [("SUCCESS",)]
    finally:
        conn.close()
    assert not (production_home / "history").exists()


def _materializations(instance: DagsterInstance, run_id: str) -> list:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    return [record.event_log_entry.dagster_event.event_specific_data.materialization for record in records]
