"""A warehouse file held open by another process: the write waits for it, then fails clearly.

DuckDB lets one process at a time open a file for writing, and an analyst's read-only
connection keeps writers out too. ``WarehouseResource`` waits with backoff, logging who holds
the lock, and gives up after ``LAAFFIC_DUCKDB_LOCK_TIMEOUT_S`` without touching the stored data.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pytest
import sqlalchemy.exc
from dagster_duckdb import DuckDBResource

from laaffic_pipeline.defs.resources import WarehouseResource
from laaffic_pipeline.settings import WarehouseSettings
from laaffic_pipeline.warehouse.connection import WarehouseLockedError
from tests.defs.pipeline import make_pipeline
from tests.defs.test_raw_pipeline import RAW_ONLY, landed, truth
from tests.reliability.fault_drill import stored_partition

# An analyst's session: a read-only connection held until stdin closes.
ANALYST = (
    "import sys, duckdb; conn = duckdb.connect(sys.argv[1], read_only=True); "
    "print('open', flush=True); sys.stdin.read(); conn.close()"
)


@contextmanager
def analyst_holding(database: str) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [sys.executable, "-c", ANALYST, database],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "open"
        yield process
    finally:
        close(process)


def close(process: subprocess.Popen) -> None:
    if process.poll() is None:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def close_when_waited_on(
    pipeline, runs_before: int, analyst: subprocess.Popen, timeout_s: float = 120
) -> None:
    """Close the analyst's connection once the new run has logged a wait for the lock."""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                runs = pipeline.instance.get_runs()
                if len(runs) > runs_before and any(
                    "is locked by" in (entry.user_message or "")
                    for entry in pipeline.instance.all_logs(runs[0].run_id)
                ):
                    break
            except sqlalchemy.exc.OperationalError:  # "table is locked": the run is writing; ask again
                pass
            time.sleep(0.05)
    finally:  # at the deadline too, so a run that never waited cannot hang the test
        close(analyst)


def lock_warnings(pipeline, result) -> list[str]:
    return [
        entry.user_message
        for entry in pipeline.instance.all_logs(result.run_id)
        if "is locked by" in (entry.user_message or "")
    ]


def test_the_write_waits_for_an_analysts_connection_and_lands_once_it_closes(
    monkeypatch, tmp_path, simulator
):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, duckdb_lock_timeout_s=60)
    day = pipeline.last_partition
    assert pipeline.run(day, RAW_ONLY).success  # creates the file the analyst opens

    with analyst_holding(pipeline.duckdb_path) as analyst:
        # The analyst closes when the run has logged that it waits for the lock: an event, not a delay.
        runs_before = len(pipeline.instance.get_runs())
        closer = threading.Thread(target=close_when_waited_on, args=(pipeline, runs_before, analyst))
        closer.start()
        result = pipeline.run(day, RAW_ONLY)
        closer.join()

    assert result.success, pipeline.failure_message(result)
    assert analyst.returncode == 0  # closed by the closer, after the wait was logged
    warnings = lock_warnings(pipeline, result)
    assert warnings, "the wait for the lock was not logged"
    assert f"(PID {analyst.pid})" in warnings[0]
    assert "ask whoever runs that process to close their connection to this file" in warnings[0]
    assert "Waiting" in warnings[0]
    assert landed(pipeline, day) == truth(pipeline, simulator, day)


def test_the_write_gives_up_after_the_lock_timeout_and_keeps_the_stored_day(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, duckdb_lock_timeout_s=1.5)
    day = pipeline.last_partition
    assert pipeline.run(day, RAW_ONLY).success
    before = stored_partition(pipeline.duckdb_path, day)

    with analyst_holding(pipeline.duckdb_path) as analyst:
        started = time.monotonic()
        result = pipeline.run(day, RAW_ONLY)
        waited = time.monotonic() - started

    assert not result.success
    assert waited >= 1.5  # the lock timeout; the failure below says it gave up
    message = pipeline.failure_message(result)
    assert "stayed locked by" in message and f"(PID {analyst.pid})" in message
    assert "LAAFFIC_DUCKDB_LOCK_TIMEOUT_S" in message
    assert "nothing was written" in message
    assert len(lock_warnings(pipeline, result)) >= 2  # each wait is logged
    assert stored_partition(pipeline.duckdb_path, day) == before


def test_the_resource_is_a_duckdb_resource_that_keeps_the_connection_config(tmp_path):
    warehouse = WarehouseResource.from_settings(
        WarehouseSettings(duckdb_path=str(tmp_path / "w.duckdb"), duckdb_lock_timeout_s=0)
    )
    assert isinstance(warehouse, DuckDBResource)
    with warehouse.get_connection() as conn:
        (version,) = conn.execute("SELECT current_setting('storage_compatibility_version')").fetchone()
    assert version == "v1.0.0"

    with (
        analyst_holding(warehouse.database),
        pytest.raises(WarehouseLockedError, match="stayed locked"),
        warehouse.get_connection(),
    ):
        pass


def test_other_connection_errors_are_not_waited_on(tmp_path):
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("not a DuckDB file")
    warehouse = WarehouseResource.from_settings(
        WarehouseSettings(duckdb_path=str(not_a_database), duckdb_lock_timeout_s=60)
    )
    started = time.monotonic()
    with pytest.raises(duckdb.Error), warehouse.get_connection():
        pass
    assert time.monotonic() - started < 5
