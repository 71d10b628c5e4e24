"""The Dagster UI for real: ``dagster dev`` (webserver + daemon) against the simulator.

One module-scoped stack: a simulator in this process, ``dagster dev -w workspace.yaml`` as a
subprocess with ``DAGSTER_HOME`` holding the repository's ``dagster.yaml``, a backfill of the
last three partitions launched through GraphQL exactly as the UI launches it, then the daemon's
runs, the per-partition check results, the warehouse, and the asset graph in a headless browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from laaffic_pipeline.local_stack import prepare_dagster_home
from laaffic_pipeline.simulator import LaafficSimulator
from tests.conftest import TEST_API_KEY, TEST_API_SECRET, last_final_day, require_binary
from tests.daemon import pipeline_env
from tests.e2e.dagster_dev import (
    ASSETS_AND_CHECKS,
    BACKFILL,
    CHECK_EXECUTIONS,
    LAUNCH_PARTITION_BACKFILL,
    REPO_ROOT,
    TERMINAL_BACKFILL_STATUSES,
    DagsterDev,
    wait_for,
)
from tests.staged import day_bounds

EXPECTED_ASSETS = {"raw/call_records", "marts/call_facts", "marts/daily_costs"}
BACKFILL_TIMEOUT_S = 180
CHROMIUM = "/usr/bin/chromium"
UI_TIMEOUT_MS = 60_000  # for each page element to appear; generous for slow CI machines
# No sandbox (CI runs as root in a container), and nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Stack:
    dev: DagsterDev
    simulator: LaafficSimulator
    env: dict[str, str]
    home: Path
    warehouse: Path
    partitions: list[str]
    artifacts: Path


@dataclass
class Backfill:
    id: str
    status: str
    runs: list[dict]
    asset_statuses: list[dict]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("dagster-dev")
    home = prepare_dagster_home(root / "dagster_home", REPO_ROOT)
    warehouse = root / "data" / "laaffic.duckdb"
    with LaafficSimulator(TEST_API_KEY, TEST_API_SECRET, records_per_day=300) as simulator:
        env = pipeline_env(home, simulator.base_url, warehouse, {"LAAFFIC_STEP_RETRIES": "0"})
        yesterday = last_final_day()  # all its calls ended
        partitions = [(yesterday - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
        with DagsterDev.running(env, root / "dagster-dev.log") as dev:
            yield Stack(dev, simulator, env, home, warehouse, partitions, root)


@pytest.fixture(scope="module")
def backfill(stack: Stack) -> Backfill:
    """Launch "Materialize all" for three partitions as a backfill, the UI's way, and wait for it."""
    nodes = stack.dev.graphql(ASSETS_AND_CHECKS)["assetNodes"]
    asset_keys = [{"path": node["assetKey"]["path"]} for node in nodes]
    launched = stack.dev.graphql(
        LAUNCH_PARTITION_BACKFILL,
        {
            "backfillParams": {
                "tags": [{"key": "dagster/from_ui", "value": "true"}],
                "assetSelection": asset_keys,
                "partitionNames": stack.partitions,
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def finished() -> dict | None:
        state = stack.dev.graphql(BACKFILL, {"backfillId": backfill_id})["partitionBackfillOrError"]
        assert state["__typename"] == "PartitionBackfill", state
        return state if state["status"] in TERMINAL_BACKFILL_STATUSES else None

    try:
        state = wait_for(f"backfill {backfill_id}", finished, BACKFILL_TIMEOUT_S, interval_s=2)
    except TimeoutError as error:
        raise TimeoutError(f"{error}\n{stack.dev.log_tail()}") from None
    return Backfill(
        backfill_id,
        state["status"],
        state["runs"],
        state["assetBackfillData"]["assetBackfillStatuses"],
    )


def test_the_ui_shows_the_three_assets(stack: Stack):
    nodes = stack.dev.graphql(ASSETS_AND_CHECKS)["assetNodes"]
    assert {"/".join(node["assetKey"]["path"]) for node in nodes} == EXPECTED_ASSETS


def test_a_backfill_launched_like_the_ui_is_one_ranged_run_over_every_partition(
    stack: Stack, backfill: Backfill
):
    assert backfill.status == "COMPLETED_SUCCESS", f"{backfill}\n{stack.dev.log_tail()}"
    [run] = backfill.runs  # the single-run backfill policy: one run, not one per day
    assert run["status"] == "SUCCESS", backfill.runs
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        stack.partitions[0],
        stack.partitions[-1],
    )
    for status in backfill.asset_statuses:
        key = "/".join(status["assetKey"]["path"])
        assert (status["numPartitionsTargeted"], status["numPartitionsMaterialized"]) == (3, 3), key
        assert status["numPartitionsFailed"] == 0, key
    assert {"/".join(s["assetKey"]["path"]) for s in backfill.asset_statuses} == EXPECTED_ASSETS


def test_every_check_recorded_a_passing_result_per_partition(stack: Stack, backfill: Backfill):
    nodes = stack.dev.graphql(ASSETS_AND_CHECKS)["assetNodes"]
    checked = set()
    for node in nodes:
        for check in node["assetChecksOrError"]["checks"]:
            executions = stack.dev.graphql(
                CHECK_EXECUTIONS, {"assetKey": node["assetKey"], "checkName": check["name"]}
            )["assetCheckExecutions"]
            name = f"{'/'.join(node['assetKey']['path'])}:{check['name']}"
            assert sorted(e["partition"] for e in executions) == sorted(stack.partitions), name
            assert {e["status"] for e in executions} == {"SUCCEEDED"}, (name, executions)
            assert {e["evaluation"]["partition"] for e in executions} == set(stack.partitions), name
            checked.add("/".join(node["assetKey"]["path"]))
    assert checked == EXPECTED_ASSETS, "every asset has checks"


def test_the_warehouse_holds_every_partitions_rows(stack: Stack, backfill: Backfill):
    with duckdb.connect(str(stack.warehouse), read_only=True) as conn:
        for day in stack.partitions:
            expected = len(stack.simulator.records_for_window(*day_bounds(date.fromisoformat(day))))
            assert expected > 0
            counts = conn.execute(
                """
                SELECT
                    (SELECT count(*) FROM raw.call_records WHERE partition_date = $day),
                    (SELECT count(*) FROM marts.call_facts WHERE call_date = $day),
                    (SELECT sum(calls) FROM marts.daily_costs WHERE call_date = $day)
                """,
                {"day": day},
            ).fetchone()
            assert counts == (expected, expected, expected), day


def test_the_run_history_is_kept_in_dagster_home(stack: Stack, backfill: Backfill):
    """What a restarted ``dagster dev`` reads: the repository's dagster.yaml and SQLite under DAGSTER_HOME."""
    assert (stack.home / "dagster.yaml").resolve() == (REPO_ROOT / "dagster.yaml").resolve()
    with DagsterInstance.from_config(str(stack.home)) as instance:
        runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill.id}))
        assert sorted(run.run_id for run in runs) == sorted(run["runId"] for run in backfill.runs)
        assert {run.status for run in runs} == {DagsterRunStatus.SUCCESS}
        assert instance.get_backfill(backfill.id).status.value == "COMPLETED_SUCCESS"
    assert (stack.home / "history" / "runs.db").is_file()


def test_the_asset_graph_page_shows_the_assets_and_their_checks(stack: Stack, backfill: Backfill):
    require_binary("chromium", "chromium", path=CHROMIUM)
    from playwright.sync_api import expect, sync_playwright

    nodes = stack.dev.graphql(ASSETS_AND_CHECKS)["assetNodes"]
    checks = {
        "/".join(n["assetKey"]["path"]): [c["name"] for c in n["assetChecksOrError"]["checks"]] for n in nodes
    }
    stack.dev.graphql("mutation { setNuxSeen }")  # no first-visit newsletter dialog over the graph
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        try:
            page.goto(f"{stack.dev.url}/asset-groups")
            # Two groups (raw, marts) start collapsed: open them as a user would, from graph settings.
            page.get_by_role("button", name="settings", exact=True).click()
            page.get_by_role("menuitem", name="Expand all groups").click()
            page.keyboard.press("Escape")
            for key, names in checks.items():
                expect(page.get_by_text(key.split("/")[-1], exact=True).first).to_be_visible(
                    timeout=UI_TIMEOUT_MS
                )
                # The node's "Asset checks" row links to the checks tab and counts the passes.
                summary = page.locator(f'a[href="/assets/{key}?view=checks"]')
                expect(summary).to_contain_text(f"{len(names)} / {len(names)} Passed", timeout=UI_TIMEOUT_MS)
            page.screenshot(path=str(stack.artifacts / "asset-graph.png"))

            for key, names in checks.items():
                page.goto(f"{stack.dev.url}/assets/{key}?view=checks")
                expect(page.get_by_text(f"Checks ({len(names)})", exact=True)).to_be_visible(
                    timeout=UI_TIMEOUT_MS
                )
                for name in names:
                    expect(page.get_by_text(name, exact=True).first).to_be_visible()
                page.screenshot(path=str(stack.artifacts / f"checks-{key.replace('/', '-')}.png"))
        except Exception:
            page.screenshot(path=str(stack.artifacts / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
