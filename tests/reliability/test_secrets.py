"""The API secret and every Sign sent stay out of everything the pipeline writes or shows.

Runs the daily job against the simulator (with retried faults, so errors and retries are logged)
and once with a wrong secret, then scans: every file of the Dagster instance (event log, run
storage, captured compute logs), each event and run record serialized, the code location's
snapshot the UI shows (resources and their config), repr of resources and clients, captured
stdout/stderr and Python logs, and the DuckDB file, both its raw bytes and every table's text.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import duckdb
from dagster import DagsterInstance
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from laaffic_pipeline.api.auth import Credentials, compute_sign
from laaffic_pipeline.defs.resources import LaafficApiResource
from laaffic_pipeline.simulator import FaultConfig
from tests.conftest import TEST_API_KEY, TEST_API_SECRET
from tests.defs.pipeline import make_pipeline

WRONG_SECRET = "wrong-secret-also-never-shown"


def signs_between(started: float, ended: float) -> set[str]:
    """Every Sign a request could have carried in the interval, with either secret."""
    return {
        compute_sign(TEST_API_KEY, secret, str(second))
        for secret in (TEST_API_SECRET, WRONG_SECRET)
        for second in range(int(started) - 2, int(ended) + 3)
    }


def duckdb_text(database: str) -> str:
    """Every row of every table, as text (DuckDB compresses strings, so raw bytes are not enough)."""
    with duckdb.connect(database, read_only=True) as conn:
        tables = conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        return "\n".join(
            str(conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()) for schema, table in tables
        )


def test_no_secret_or_sign_reaches_logs_events_metadata_ui_or_warehouse(
    monkeypatch, tmp_path, make_simulator, capfd, caplog
):
    simulator = make_simulator(faults=FaultConfig(http_5xx_rate=0.3, status_18_rate=0.3))
    pipeline = make_pipeline(
        monkeypatch, tmp_path, simulator, page_size=50, retry_attempts=20, retry_max_wait_s=0.01
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    pipeline = replace(pipeline, instance=DagsterInstance.local_temp(str(home)))
    day = pipeline.last_partition

    started = time.time()
    succeeded = pipeline.run(day)  # the whole daily job: raw, marts and every check
    monkeypatch.setenv("LAAFFIC_API_SECRET", WRONG_SECRET)
    refused = pipeline.run(day)
    ended = time.time()

    assert succeeded.success, pipeline.failure_message(succeeded)
    assert not refused.success
    assert "status -1" in pipeline.failure_message(refused)
    captured = capfd.readouterr()

    runtime_resource = LaafficApiResource(api_key=TEST_API_KEY, api_secret=TEST_API_SECRET, base_url="x")
    places: dict[str, str] = {
        "stdout": captured.out,
        "stderr": captured.err,
        "python logs": caplog.text,
        "ui snapshot": serialize_value(RepositorySnap.from_def(pipeline.defs.get_repository_def())),
        "resource reprs": " ".join(
            [
                *map(repr, pipeline.defs.resources.values()),
                repr(runtime_resource),
                str(runtime_resource),
                repr(runtime_resource.client()),
                repr(Credentials(TEST_API_KEY, TEST_API_SECRET)),
            ]
        ),
        "duckdb text": duckdb_text(pipeline.duckdb_path),
    }
    for result in (succeeded, refused):
        run_id = result.run_id
        places[f"events {run_id}"] = " ".join(map(serialize_value, pipeline.instance.all_logs(run_id)))
        places[f"run {run_id}"] = serialize_value(pipeline.instance.get_run_by_id(run_id))
    for path in [*home.rglob("*"), *Path(pipeline.duckdb_path).parent.rglob("*")]:
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("latin-1")

    # The scan sees real content: retries, the refusal, the UI's env var names, the landed day.
    everything = "\n".join(places.values())
    assert "retrying in" in places[f"events {succeeded.run_id}"]
    assert "status -1" in places[f"events {refused.run_id}"]
    assert "LAAFFIC_API_SECRET" in places["ui snapshot"]
    assert TEST_API_KEY in places["resource reprs"]
    assert "voiceId" in places["duckdb text"]
    assert any(name.endswith(".duckdb") for name in places)
    assert len([name for name in places if "compute_logs" in name or name.endswith((".out", ".err"))]) > 0

    forbidden = {TEST_API_SECRET: "the API secret", WRONG_SECRET: "the wrong secret"}
    forbidden.update({sign: "a Sign" for sign in signs_between(started, ended)})
    leaks = [
        f"{what} in {place}"
        for value, what in forbidden.items()
        for place, text in places.items()
        if value in text
    ]
    assert not leaks, leaks
    assert len(everything) > 100_000
