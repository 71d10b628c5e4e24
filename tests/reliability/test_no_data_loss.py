"""A failure at any point leaves the stored partition exactly as it was.

The day is fetched whole before the warehouse is touched, then replaced in one transaction: a
run killed while fetching never opened the file, one killed or failing inside the write rolls
back, and a re-fetch that would lose rows is refused unless the run config allows it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from laaffic_pipeline.simulator import FaultConfig, LaafficSimulator
from laaffic_pipeline.warehouse import landing
from tests.defs.pipeline import Pipeline, make_pipeline
from tests.defs.test_raw_pipeline import RAW_ONLY, landed, truth
from tests.reliability.fault_drill import stored_partition

REPO_ROOT = Path(__file__).resolve().parents[2]


def file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


def materialize_in_subprocess(pipeline: Pipeline, day: str, *options: str) -> subprocess.Popen:
    """``tests/reliability/materialize.py`` in its own process (credentials from the environment)."""
    command = [sys.executable, "-m", "tests.reliability.materialize"]
    command += [pipeline.settings.client.base_url, pipeline.duckdb_path, day, *options]
    return subprocess.Popen(
        command, cwd=REPO_ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def assert_writable_by_another_process(database: str) -> None:
    """No lock is left behind: a new process can open the file for writing and read it."""
    code = f"import duckdb; c = duckdb.connect({database!r}); c.execute('CHECKPOINT'); c.close()"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


class LandedDay(NamedTuple):
    pipeline: Pipeline
    simulator: LaafficSimulator
    day: str
    before: dict[str, list[tuple]]  # the day's stored rows


@pytest.fixture
def landed_day(monkeypatch, tmp_path, make_simulator) -> LandedDay:
    """A warehouse holding one landed day of 1000 records."""
    simulator = make_simulator(records_per_day=1000)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, page_size=50)
    day = pipeline.last_partition
    assert pipeline.run(day, RAW_ONLY).success
    before = stored_partition(pipeline.duckdb_path, day)
    assert len(before["records"]) == 1000
    return LandedDay(pipeline, simulator, day, before)


def test_killing_the_run_while_pages_are_fetched_leaves_the_file_byte_identical(landed_day):
    pipeline, simulator, day, before = landed_day
    database = pipeline.duckdb_path
    digest = file_digest(database)
    # Slow pages, and new records that would change the day if the run got to land it.
    simulator.faults = FaultConfig(latency_ms=250, late_arrivals=5, late_arrivals_max=500)
    simulator.reset_counters()

    process = materialize_in_subprocess(pipeline, day)
    wait_for(lambda: simulator.request_count >= 4, 60, "the subprocess to fetch pages")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    assert process.returncode == -signal.SIGKILL
    assert file_digest(database) == digest
    assert stored_partition(database, day) == before
    assert_writable_by_another_process(database)
    simulator.faults = FaultConfig()
    assert pipeline.run(day, RAW_ONLY).success  # the next run lands the day as it is now
    assert landed(pipeline, day) == truth(pipeline, simulator, day)
    assert len(landed(pipeline, day)) > 1000


def test_killing_the_run_inside_the_write_transaction_keeps_the_old_rows(landed_day, tmp_path):
    pipeline, simulator, day, before = landed_day
    database = pipeline.duckdb_path
    simulator.faults = FaultConfig(late_arrivals=5, late_arrivals_max=20)  # a different day
    marker = tmp_path / "inside-the-write"

    process = materialize_in_subprocess(pipeline, day, "--pause-in-write", str(marker))
    wait_for(lambda: marker.exists() or process.poll() is not None, 60, "the write to start")
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    assert process.returncode == -signal.SIGKILL
    assert stored_partition(database, day) == before
    assert_writable_by_another_process(database)
    assert stored_partition(database, day) == before


def test_a_failure_inside_the_write_rolls_back_and_releases_the_file(landed_day, monkeypatch):
    pipeline, _, day, before = landed_day
    run_sql = landing.run_sql

    def fail_after_the_records(conn, name, params=None):
        if name == "insert_raw_pages":
            raise OSError("No space left on device (injected)")
        run_sql(conn, name, params)

    monkeypatch.setattr(landing, "run_sql", fail_after_the_records)
    result = pipeline.run(day, RAW_ONLY)

    assert not result.success
    assert "No space left on device (injected)" in pipeline.failure_message(result)
    assert stored_partition(pipeline.duckdb_path, day) == before
    assert_writable_by_another_process(pipeline.duckdb_path)


def test_a_refetch_with_fewer_records_is_refused_unless_the_run_config_allows_it(
    landed_day, monkeypatch, tmp_path, make_simulator
):
    pipeline, _, day, before = landed_day
    purged = make_simulator(records_per_day=700)  # the API now returns 300 fewer calls for the day
    shrunk = make_pipeline(monkeypatch, tmp_path, purged, page_size=50)

    refused = shrunk.run(day, RAW_ONLY)

    assert not refused.success
    message = shrunk.failure_message(refused)
    assert "returned 700 records but the warehouse holds 1000" in message
    assert "would lose 300 rows" in message
    assert "allow_fewer_rows: true" in message
    assert stored_partition(pipeline.duckdb_path, day) == before

    allowed = shrunk.run(
        day, RAW_ONLY, run_config={"ops": {"laaffic_days": {"config": {"allow_fewer_rows": True}}}}
    )
    assert allowed.success
    assert landed(shrunk, day) == truth(shrunk, purged, day)
    assert len(landed(shrunk, day)) == 700


def test_the_retry_policy_reruns_a_fetch_that_outlived_the_clients_retries(monkeypatch, tmp_path, simulator):
    # Two failing tries exhaust the client; the outage then ends and Dagster's step retry succeeds.
    simulator.faults = FaultConfig(http_5xx_rate=1.0)
    pipeline = make_pipeline(
        monkeypatch,
        tmp_path,
        simulator,
        retry_attempts=2,
        retry_max_wait_s=0.01,
        step_retries=1,
        step_retry_delay_s=0,
    )

    def end_the_outage() -> None:
        wait_for(lambda: simulator.request_count >= 2, 60, "two failed requests")
        simulator.faults = FaultConfig()

    threading.Thread(target=end_the_outage, daemon=True).start()
    result = pipeline.run(pipeline.last_partition, RAW_ONLY)

    assert result.success
    events = [event.event_type_value for event in result.all_events]
    assert events.count("STEP_UP_FOR_RETRY") == 1
    assert landed(pipeline, pipeline.last_partition) == truth(pipeline, simulator, pipeline.last_partition)


def test_the_retry_policy_does_not_rerun_a_permanent_error(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, step_retries=2, step_retry_delay_s=0)
    monkeypatch.setenv("LAAFFIC_API_SECRET", "not-the-secret")

    result = pipeline.run(pipeline.last_partition, RAW_ONLY)

    assert not result.success
    assert "status -1" in pipeline.failure_message(result)
    assert simulator.request_count == 1  # -1 fails at once: no client retry, no step retry
    assert "STEP_UP_FOR_RETRY" not in [event.event_type_value for event in result.all_events]
