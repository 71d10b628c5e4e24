"""A backfill through a real Dagster instance: the repository's dagster.yaml, the daemon, run workers.

The simulator (with latency) runs in this process. ``dagster job backfill`` queues one run per
partition and ``dagster-daemon run`` launches them, at most 4 at once, as separate processes that
reach the simulator over loopback and write one shared DuckDB file. Every run must succeed with
no lock error, runs must overlap, and every day must land exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.simulator import FaultConfig
from tests.conftest import TEST_API_KEY, TEST_API_SECRET
from tests.staged import day_bounds

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PARTITIONS = 6
MAX_CONCURRENT_RUNS = 4  # dagster.yaml
TIMEOUT_S = 180
SUCCESS = DagsterRunStatus.SUCCESS
TERMINAL = {SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at the same instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = peak = 0
    for _, step in edges:  # at a tie the end (-1) sorts first: touching intervals do not overlap
        open_now += step
        peak = max(peak, open_now)
    return peak


def stop(process: subprocess.Popen) -> None:
    """Stop the daemon and what it started (its own process group), politely first."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def raw_step_interval(instance: DagsterInstance, run_id: str) -> tuple[float, float]:
    """When the run's raw step started and finished (its fetch, then its short write)."""
    times = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.step_key == "raw__call_records":
            times.setdefault(event.event_type, entry.timestamp)
    return times[DagsterEventType.STEP_START], times[DagsterEventType.STEP_SUCCESS]


def test_a_backfill_of_six_days_runs_four_at_a_time_without_lock_errors(tmp_path, make_simulator):
    simulator = make_simulator(records_per_day=600, faults=FaultConfig(latency_ms=150))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    warehouse = tmp_path / "data" / "laaffic.duckdb"
    env = {
        **{
            name: value for name, value in os.environ.items() if not name.startswith(("LAAFFIC_", "DAGSTER_"))
        },
        "DAGSTER_HOME": str(home),
        "LAAFFIC_API_KEY": TEST_API_KEY,
        "LAAFFIC_API_SECRET": TEST_API_SECRET,
        "LAAFFIC_BASE_URL": simulator.base_url,
        "LAAFFIC_DUCKDB_PATH": str(warehouse),
        "LAAFFIC_PAGE_SIZE": "50",
        "LAAFFIC_CONCURRENCY": "2",
        "LAAFFIC_STEP_RETRIES": "0",  # a lock error must not be hidden by a step retry
    }
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    keys = [(yesterday - timedelta(days=n)).isoformat() for n in range(PARTITIONS - 1, -1, -1)]

    # Queue the runs first (the CLI creates the instance's SQLite storage), then start the daemon.
    queued = subprocess.run(
        [
            *(BIN / "dagster", "job", "backfill", "-j", DAILY_JOB_NAME),
            *("--partitions", ",".join(keys), "-w", "workspace.yaml", "--noprompt"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert queued.returncode == 0, queued.stderr[-3000:]
    with open(tmp_path / "daemon.log", "w") as daemon_log:
        daemon = subprocess.Popen(
            [BIN / "dagster-daemon", "run", "-w", "workspace.yaml"],
            cwd=REPO_ROOT,
            env=env,
            stdout=daemon_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            deadline = time.monotonic() + TIMEOUT_S
            while True:
                records = instance.get_run_records(RunsFilter(job_name=DAILY_JOB_NAME))
                if len(records) == PARTITIONS and all(r.dagster_run.status in TERMINAL for r in records):
                    break
                statuses = [
                    (r.dagster_run.tags.get("dagster/partition"), r.dagster_run.status) for r in records
                ]
                assert time.monotonic() < deadline, (
                    f"runs not finished after {TIMEOUT_S}s: {statuses}\n"
                    + (tmp_path / "daemon.log").read_text()[-3000:]
                )
                assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
                time.sleep(0.5)
            messages = {
                r.dagster_run.run_id: [entry.message for entry in instance.all_logs(r.dagster_run.run_id)]
                for r in records
            }
            raw_steps = [raw_step_interval(instance, r.dagster_run.run_id) for r in records]
    finally:
        stop(daemon)

    by_partition = {r.dagster_run.tags["dagster/partition"]: r for r in records}
    assert sorted(by_partition) == keys
    failed = {key: r.dagster_run.status for key, r in by_partition.items() if r.dagster_run.status != SUCCESS}
    assert not failed, (failed, messages)
    all_messages = [message for run in messages.values() for message in run]
    assert not [m for m in all_messages if "Could not set lock" in m or "stayed locked" in m]

    runs = [(r.start_time, r.end_time) for r in records]
    assert 2 <= most_at_once(runs) <= MAX_CONCURRENT_RUNS, runs
    assert most_at_once(raw_steps) >= 2, raw_steps  # fetches of different days overlapped

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for key in keys:
            window = day_bounds(date.fromisoformat(key))
            rows = conn.execute(
                "SELECT record FROM raw.call_records WHERE partition_date = ? ORDER BY page, position", [key]
            ).fetchall()
            stored = [json.loads(row[0]) for row in rows]
            assert stored == simulator.records_for_window(*window), key
            assert conn.execute("SELECT count(*) FROM marts.call_facts WHERE call_date = ?", [key]).fetchone()
