"""The deployment shape of several machines, run for real (``tests/e2e/deployment.py``).

The code location serves from its own gRPC server; an operators' webserver, a read-only one for
viewers and the daemon read it through a ``grpc_server`` workspace; Dagster's storage is a
PostgreSQL server; the simulator (in this process) is the API. A three-day backfill is launched
through the operators' webserver's GraphQL API exactly as the UI's "Materialize all" launches it,
the daemon turns it into one ranged run that the code server starts, and the days are checked
record for record against the simulator. Each day's run archived it in the S3 server's bucket,
and ``laaffic-pipeline restore`` rebuilds a new warehouse from the bucket alone (raw row for row,
the marts through Dagster, recorded in the deployment's PostgreSQL history). The read-only
webserver shows the same history and refuses to launch or wipe anything.

One stack per module; each test reads what it needs of it, so a further step of the same
deployment is a further test function.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import psycopg2
import pytest

from laaffic_pipeline.simulator import LaafficSimulator
from tests.conftest import TEST_API_KEY, TEST_API_SECRET, last_final_day, require
from tests.e2e.dagster_dev import (
    ASSETS_AND_CHECKS,
    BACKFILL,
    CHECK_EXECUTIONS,
    LAUNCH_PARTITION_BACKFILL,
    TERMINAL_BACKFILL_STATUSES,
    free_port,
    wait_for,
)
from tests.e2e.deployment import (
    ARCHIVE_BUCKET,
    BIN,
    DB_NAME,
    LOCATION,
    Deployment,
    base_env,
    running_deployment,
)
from tests.e2e.postgres import why_postgres_cannot_run
from tests.warehouse.raw_days import raw_rows

ZONE = "UTC"  # the partitions' zone (LAAFFIC_TIMEZONE's default)
BACKFILL_TIMEOUT_S = 100  # the backfill daemon ticks every 30 s: to start the run and to mark it done
MODULE_TIMEOUT_S = 280  # the first test's: the stack's start-up and the backfill (~100 s when idle)

LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on UnauthorizedError { message }
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""

WIPE_ASSETS = """
mutation WipeAssets($assetPartitionRanges: [PartitionsByAssetSelector!]!) {
  wipeAssets(assetPartitionRanges: $assetPartitionRanges) {
    __typename
    ... on UnauthorizedError { message }
    ... on AssetWipeSuccess { assetPartitionRanges { assetKey { path } } }
    ... on PythonError { message }
  }
}
"""

MATERIALIZED_PARTITIONS = """
query Materialized($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode { partitionStats { numMaterialized } }
  }
}
"""


@dataclass
class Stack:
    deployment: Deployment
    simulator: LaafficSimulator
    days: list[str]


@dataclass
class Backfill:
    id: str
    status: str
    runs: list[dict]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require(why_postgres_cannot_run(), "postgresql")
    root = tmp_path_factory.mktemp("deployment")
    with LaafficSimulator(TEST_API_KEY, TEST_API_SECRET, records_per_day=300) as simulator:
        settings = {
            "LAAFFIC_API_KEY": TEST_API_KEY,
            "LAAFFIC_API_SECRET": TEST_API_SECRET,
            "LAAFFIC_BASE_URL": simulator.base_url,
            "LAAFFIC_DUCKDB_PATH": str(root / "data" / "laaffic.duckdb"),
            "LAAFFIC_STEP_RETRIES": "0",
            # The daemon would refresh today every 15 minutes: a provisional day the archive (final
            # days only) and so the restored copy never hold.
            "LAAFFIC_INTRADAY_REFRESH": "false",
        }
        yesterday = last_final_day()  # all its calls ended
        days = [(yesterday - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
        with running_deployment(root, settings) as deployment:
            yield Stack(deployment, simulator, days)


@pytest.fixture(scope="module")
def backfill(stack: Stack) -> Backfill:
    """ "Materialize all" over the three days, launched through the operators' webserver like the UI."""
    webserver = stack.deployment.webserver
    nodes = webserver.graphql(ASSETS_AND_CHECKS)["assetNodes"]
    launched = webserver.graphql(
        LAUNCH_PARTITION_BACKFILL,
        {
            "backfillParams": {
                "tags": [{"key": "dagster/from_ui", "value": "true"}],
                "assetSelection": [{"path": node["assetKey"]["path"]} for node in nodes],
                "partitionNames": stack.days,
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched

    def finished() -> dict | None:
        answer = webserver.graphql(BACKFILL, {"backfillId": launched["backfillId"]})
        state = answer["partitionBackfillOrError"]
        assert state["__typename"] == "PartitionBackfill", state
        return state if state["status"] in TERMINAL_BACKFILL_STATUSES else None

    try:
        state = wait_for("the backfill", finished, BACKFILL_TIMEOUT_S, interval_s=2)
    except TimeoutError as error:
        raise TimeoutError(f"{error}\n{stack.deployment.log_tails()}") from None
    return Backfill(launched["backfillId"], state["status"], state["runs"])


@pytest.mark.timeout(MODULE_TIMEOUT_S)
def test_a_backfill_through_the_webserver_lands_every_day_exactly(stack: Stack, backfill: Backfill):
    deployment = stack.deployment
    assert backfill.status == "COMPLETED_SUCCESS", f"{backfill}\n{deployment.log_tails()}"
    [run] = backfill.runs  # one ranged run (BackfillPolicy.single_run), started by the code server
    assert run["status"] == "SUCCESS", backfill.runs
    with duckdb.connect(str(deployment.warehouse), read_only=True) as conn:
        for day in stack.days:
            expected = stack.simulator.records_for_local_day(date.fromisoformat(day), ZONE)
            assert len(expected) > 0
            landed = conn.execute(
                "SELECT record::VARCHAR FROM raw.call_records WHERE partition_date = $day "
                "ORDER BY page, position",
                {"day": day},
            ).fetchall()
            assert [json.loads(record) for (record,) in landed] == expected, day
            marts = conn.execute(
                "SELECT (SELECT count(*) FROM marts.call_facts WHERE call_date = $day), "
                "(SELECT sum(calls) FROM marts.daily_costs WHERE call_date = $day)",
                {"day": day},
            ).fetchone()
            assert marts == (len(expected), len(expected)), day


def test_the_run_history_is_in_postgres_not_in_dagster_home(stack: Stack, backfill: Backfill):
    [run] = backfill.runs
    conn = psycopg2.connect(**stack.deployment.postgres.connection_args(DB_NAME))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (run["runId"],))
        assert cursor.fetchall() == [("SUCCESS",)]
    finally:
        conn.close()
    # No SQLite storage anywhere in DAGSTER_HOME (it keeps the runs' captured output, compute logs).
    assert not [path for path in stack.deployment.home.rglob("*.db")]
    assert not (stack.deployment.home / "history").exists()


def test_each_day_is_archived_in_the_bucket_and_a_new_warehouse_is_restored_from_it(
    stack: Stack, backfill: Backfill
):
    deployment = stack.deployment
    prefix = deployment.archive_url.removeprefix(f"s3://{ARCHIVE_BUCKET}/") + "/"
    manifests = deployment.s3.keys(ARCHIVE_BUCKET, prefix + "manifests/")
    days = [key.removeprefix(prefix).split("/")[1] for key in manifests]
    assert days == [f"day={day}" for day in stack.days]  # one version each
    executions = deployment.webserver.graphql(
        CHECK_EXECUTIONS, {"assetKey": {"path": ["raw", "call_records"]}, "checkName": "archive_matches_raw"}
    )["assetCheckExecutions"]
    assert sorted((e["partition"], e["status"]) for e in executions) == [(d, "SUCCEEDED") for d in stack.days]

    # An operator on the code server's machine, the warehouse gone: the archive's URL from the setting,
    # the bucket's credentials from the AWS variables, no API that could answer.
    restored = deployment.root / "restored" / "laaffic.duckdb"
    env = {
        **base_env(),
        **deployment.s3.env(deployment.root),
        **deployment.postgres.env(DB_NAME),
        "DAGSTER_HOME": str(deployment.home),
        "LAAFFIC_API_KEY": TEST_API_KEY,
        "LAAFFIC_API_SECRET": TEST_API_SECRET,
        "LAAFFIC_BASE_URL": f"http://127.0.0.1:{free_port()}/v3/voice",
        "LAAFFIC_DUCKDB_PATH": str(restored),
        "LAAFFIC_ARCHIVE_URL": deployment.archive_url,
    }
    done = subprocess.run(
        [str(BIN / "laaffic-pipeline"), "restore"],
        cwd=deployment.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Restored 3 day(s) of raw from {deployment.archive_url} into {restored}" in done.stdout
    assert f"Built the marts of {stack.days[0]} .. {stack.days[-1]} through Dagster" in done.stdout
    assert deployment.s3.secret_access_key not in done.stdout + done.stderr

    with (
        duckdb.connect(str(deployment.warehouse), read_only=True) as original,
        duckdb.connect(str(restored), read_only=True) as copy,
    ):
        assert raw_rows(copy) == raw_rows(original)
        for day in stack.days:
            calls = len(stack.simulator.records_for_local_day(date.fromisoformat(day), ZONE))
            marts = copy.execute(
                "SELECT (SELECT count(*) FROM marts.call_facts WHERE call_date = $day), "
                "(SELECT sum(calls) FROM marts.daily_costs WHERE call_date = $day)",
                {"day": day},
            ).fetchone()
            assert marts == (calls, calls), day
    conn = psycopg2.connect(**deployment.postgres.connection_args(DB_NAME))
    try:  # the restore's marts run is in the deployment's history, beside the backfill's
        cursor = conn.cursor()
        cursor.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'")
        assert cursor.fetchall() == [(2,)]
    finally:
        conn.close()


def test_the_read_only_webserver_shows_the_history_but_refuses_to_launch_or_wipe(
    stack: Stack, backfill: Backfill
):
    viewer = stack.deployment.viewer
    state = viewer.graphql(BACKFILL, {"backfillId": backfill.id})["partitionBackfillOrError"]
    assert (state["status"], [r["runId"] for r in state["runs"]]) == (
        "COMPLETED_SUCCESS",
        [r["runId"] for r in backfill.runs],
    )
    nodes = viewer.graphql(ASSETS_AND_CHECKS)["assetNodes"]
    keys = [{"path": node["assetKey"]["path"]} for node in nodes]

    launched = viewer.graphql(
        LAUNCH_PARTITION_BACKFILL,
        {"backfillParams": {"assetSelection": keys, "partitionNames": stack.days, "fromFailure": False}},
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "UnauthorizedError", launched
    run = viewer.graphql(
        LAUNCH_RUN,
        {
            "executionParams": {
                "selector": {
                    "repositoryLocationName": LOCATION,
                    "repositoryName": "__repository__",
                    "jobName": "laaffic_daily",
                },
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": stack.days[-1]}]},
            }
        },
    )["launchRun"]
    assert run["__typename"] == "UnauthorizedError", run
    wiped = viewer.graphql(WIPE_ASSETS, {"assetPartitionRanges": [{"assetKey": key} for key in keys]})
    assert wiped["wipeAssets"]["__typename"] == "UnauthorizedError", wiped

    # Nothing changed: still one run, and every asset still materialized for the three days.
    webserver = stack.deployment.webserver
    state = webserver.graphql(BACKFILL, {"backfillId": backfill.id})["partitionBackfillOrError"]
    assert [r["runId"] for r in state["runs"]] == [r["runId"] for r in backfill.runs]
    for key in keys:
        node = webserver.graphql(MATERIALIZED_PARTITIONS, {"assetKey": key})["assetNodeOrError"]
        assert node["partitionStats"]["numMaterialized"] >= len(stack.days), (key, node)
