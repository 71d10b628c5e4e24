"""A backfill and the nightly schedule through a real Dagster instance and daemon.

The repository's dagster.yaml, ``dagster job backfill`` and ``dagster-daemon run``; the simulator
(with latency) runs in this process. The schedule's cron is set to every minute so the daemon
ticks it during the test. Its days overlap the backfill's: the two runs must never work at the
same time (the step's pool takes one run at a time), both must succeed without a lock error,
and every day must land exactly.
"""

from __future__ import annotations

import json
import math
import time
from datetime import date, timedelta

import duckdb
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.simulator import FaultConfig
from tests.conftest import last_final_day
from tests.daemon import dagster_home, pipeline_env, queue_backfill, start_daemon, stop

PARTITIONS = 6
LOOKBACK_DAYS = 2
TIMEOUT_S = 240
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


def step_interval(instance: DagsterInstance, run_id: str) -> tuple[float, float] | None:
    """When the run's one step started and ended (fetches, writes, marts, checks): still working,
    it ends at infinity; None when it has not started."""
    times = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.step_key == "laaffic_days":
            times.setdefault(event.event_type, entry.timestamp)
    if DagsterEventType.STEP_START not in times:
        return None
    ended = times.get(DagsterEventType.STEP_SUCCESS, times.get(DagsterEventType.STEP_FAILURE, math.inf))
    return times[DagsterEventType.STEP_START], ended


def run_days(run) -> list[str]:
    """The days a run covers: a range's first to last, or its one partition."""
    tags = run.tags
    if "dagster/asset_partition_range_start" in tags:
        first = date.fromisoformat(tags["dagster/asset_partition_range_start"])
        last = date.fromisoformat(tags["dagster/asset_partition_range_end"])
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return [tags["dagster/partition"]]


def test_a_backfill_and_the_nightly_schedule_never_work_on_the_same_days_at_once(
    monkeypatch, tmp_path, make_simulator
):
    simulator = make_simulator(records_per_day=600, faults=FaultConfig(latency_ms=50))
    home = dagster_home(tmp_path)
    warehouse = tmp_path / "data" / "laaffic.duckdb"
    env = pipeline_env(
        home,
        simulator.base_url,
        warehouse,
        {
            "LAAFFIC_PAGE_SIZE": "50",
            "LAAFFIC_CONCURRENCY": "2",
            "LAAFFIC_STEP_RETRIES": "0",  # a lock error must not be hidden by a step retry
            "LAAFFIC_SCHEDULE_CRON": "* * * * *",  # due within the minute: the daemon ticks it
            "LAAFFIC_LOOKBACK_DAYS": str(LOOKBACK_DAYS),
        },
    )
    yesterday = last_final_day()  # all its calls ended
    keys = [(yesterday - timedelta(days=n)).isoformat() for n in range(PARTITIONS - 1, -1, -1)]

    # Queue the backfill first (the CLI creates the instance's SQLite storage), then start the daemon.
    queue_backfill(env, keys)
    daemon = start_daemon(env, tmp_path / "daemon.log")
    try:
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with DagsterInstance.get() as instance:
            deadline = time.monotonic() + TIMEOUT_S
            # The schedule ticks every minute, so another run is always on its way (a loaded machine
            # may take longer than that per run): wait until every backfilled day and one scheduled
            # run have finished, and judge the runs as they stand then.
            while True:
                records = instance.get_run_records(RunsFilter(job_name=DAILY_JOB_NAME))
                finished = [r for r in records if r.dagster_run.status in TERMINAL]
                scheduled = [r for r in finished if r.dagster_run.tags.get("dagster/schedule_name")]
                backfilled = {day for r in finished if r not in scheduled for day in run_days(r.dagster_run)}
                if scheduled and backfilled >= set(keys):
                    break
                statuses = [(run_days(r.dagster_run), r.dagster_run.status) for r in records]
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
            steps = {r.dagster_run.run_id: step_interval(instance, r.dagster_run.run_id) for r in records}
    finally:
        stop(daemon)

    failed = {r.dagster_run.run_id: r.dagster_run.status for r in finished if r.dagster_run.status != SUCCESS}
    assert not failed, (failed, messages)
    all_messages = [message for run in messages.values() for message in run]
    assert not [m for m in all_messages if "Could not set lock" in m or "stayed locked" in m]
    # The schedule's tick asked for yesterday and the lookback days, in one run.
    assert run_days(scheduled[0].dagster_run) == keys[-(LOOKBACK_DAYS + 1) :]
    # Runs covering the same day never worked at the same time (a run still working included).
    started = [r for r in records if steps[r.dagster_run.run_id] is not None]
    for a in started:
        for b in started:
            if a is not b and set(run_days(a.dagster_run)) & set(run_days(b.dagster_run)):
                assert most_at_once([steps[a.dagster_run.run_id], steps[b.dagster_run.run_id]]) == 1

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for key in keys:
            rows = conn.execute(
                "SELECT record FROM raw.call_records WHERE partition_date = ? ORDER BY page, position", [key]
            ).fetchall()
            stored = [json.loads(row[0]) for row in rows]
            assert stored == simulator.records_for_local_day(date.fromisoformat(key), "UTC"), key
            (facts,) = conn.execute(
                "SELECT count(*) FROM marts.call_facts WHERE call_date = ?", [key]
            ).fetchone()
            assert facts == len(stored) > 0
