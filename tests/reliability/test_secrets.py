"""The API secret and every Sign sent stay out of everything the pipeline writes or shows.

Runs the daily job against the simulator (with retried faults, so errors and retries are logged)
and once with a wrong secret, then scans: every file of the Dagster instance (event log, run
storage, captured compute logs), repr of each event and run record, what the UI shows (the
webserver's GraphQL, run through ``dagster-graphql`` on ``workspace.yaml`` against the same
instance: resources with their config, runs with their config, tags and event log), repr of
resources and clients, captured stdout/stderr and Python logs, and the DuckDB file, both its raw
bytes and every table's text.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import duckdb
from dagster import DagsterInstance

from laaffic_pipeline.api.auth import Credentials, compute_sign
from laaffic_pipeline.defs.resources import LaafficApiResource
from laaffic_pipeline.settings import ClientSettings
from laaffic_pipeline.simulator import FaultConfig
from tests.conftest import TEST_API_KEY, TEST_API_SECRET
from tests.daemon import BIN, run_cli
from tests.defs.pipeline import make_pipeline

WRONG_SECRET = "wrong-secret-also-never-shown"

# What the Dagster UI shows, by the webserver's own GraphQL schema: every resource with its config
# (the value, or the EnvVar's name), and every run with its config, tags and event log.
UI_VIEW = """
fragment Error on PythonError {
  className
  message
  stack
  errorChain { error { className message stack } }
}

fragment Metadata on MetadataEntry {
  label
  description
  ... on TextMetadataEntry { text }
  ... on MarkdownMetadataEntry { mdStr }
  ... on JsonMetadataEntry { jsonString }
  ... on UrlMetadataEntry { url }
  ... on PathMetadataEntry { path }
}

query UiView {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        allTopLevelResourceDetails {
          name
          description
          resourceType
          configFields { name description configTypeKey defaultValueAsJson }
          configuredValues { key value type }
          nestedResources { name type }
        }
      }
    }
    ... on PythonError { ...Error }
  }
  runsOrError {
    __typename
    ... on Runs {
      results {
        runId
        status
        runConfigYaml
        tags { key value }
        eventConnection {
          events {
            __typename
            ... on MessageEvent { message stepKey }
            ... on DisplayableEvent { label description metadataEntries { ...Metadata } }
            ... on ErrorEvent { error { ...Error } }
          }
        }
      }
    }
    ... on PythonError { ...Error }
  }
}
"""


def signs_between(started: float, ended: float) -> set[str]:
    """Every Sign a request could have carried in the interval, with either secret."""
    return {
        compute_sign(TEST_API_KEY, secret, str(second))
        for secret in (TEST_API_SECRET, WRONG_SECRET)
        for second in range(int(started) - 2, int(ended) + 3)
    }


def ui_view(home: Path, output: Path) -> dict:
    """``UI_VIEW`` answered as the webserver would: the code location of ``workspace.yaml``, loaded
    in a code server from this test's environment, and the instance in ``home``."""
    answered = run_cli(
        [BIN / "dagster-graphql", "-w", "workspace.yaml", "-t", UI_VIEW, "-o", output],
        {**os.environ, "DAGSTER_HOME": str(home)},
        timeout=240,
    )
    assert answered.returncode == 0, answered.stderr[-3000:]
    view = json.loads(output.read_text())
    assert "errors" not in view, view["errors"]
    assert view["data"]["repositoriesOrError"]["__typename"] == "RepositoryConnection", view
    assert view["data"]["runsOrError"]["__typename"] == "Runs", view
    return view["data"]


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
    ui = ui_view(
        home, tmp_path / "ui_view.json"
    )  # the code location loads with the wrong secret in LAAFFIC_API_SECRET
    captured = capfd.readouterr()

    runtime_resource = LaafficApiResource(
        api_key=TEST_API_KEY,
        api_secret=TEST_API_SECRET,
        client_settings=ClientSettings(base_url=simulator.base_url),
    )
    places: dict[str, str] = {
        "stdout": captured.out,
        "stderr": captured.err,
        "python logs": caplog.text,
        "ui resources": json.dumps(ui["repositoriesOrError"]),
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
    ui_runs = {run["runId"]: run for run in ui["runsOrError"]["results"]}
    for result in (succeeded, refused):
        run_id = result.run_id
        places[f"events {run_id}"] = " ".join(map(repr, pipeline.instance.all_logs(run_id)))
        places[f"run {run_id}"] = repr(pipeline.instance.get_run_by_id(run_id))
        places[f"ui run {run_id}"] = json.dumps(ui_runs[run_id])
    for path in [*home.rglob("*"), *Path(pipeline.duckdb_path).parent.rglob("*")]:
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("latin-1")

    # The scan sees real content: retries, the refusal, the UI's env var names, the landed day.
    everything = "\n".join(places.values())
    assert "retrying in" in places[f"events {succeeded.run_id}"]
    assert "status -1" in places[f"events {refused.run_id}"]
    assert "LAAFFIC_API_SECRET" in places["ui resources"]
    assert "retrying in" in places[f"ui run {succeeded.run_id}"]
    assert "status -1" in places[f"ui run {refused.run_id}"]
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
