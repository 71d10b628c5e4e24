"""Fault drills: the daily job against the simulator under each fault, compared with the truth.

Each ``FaultScenario`` names simulator faults and what a correct pipeline does under them: land
the day exactly, land it exactly but fail the page-count check (the API's own figures are
wrong), or fail the run and keep the stored day. ``run_scenario`` runs the real Dagster job
(``raw/call_records`` and its check) over loopback HTTP into a fresh DuckDB file and reports the
figures; ``tests/reliability`` asserts on them and ``scripts/fault_summary.py`` prints them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.laaffic.assets import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.defs.partitions import query_window
from laaffic_pipeline.local_stack import simulator_environment
from laaffic_pipeline.settings import env_name, load_settings
from laaffic_pipeline.simulator import FaultConfig
from laaffic_pipeline.warehouse.query import connect_read_only

LANDS_EXACTLY = "lands exactly"
CHECK_FAILS = "lands exactly, page check fails"
RUN_FAILS = "run fails, stored day kept"

# Quick retries so a drill takes seconds; production waits are longer (see settings.py).
DRILL_SETTINGS = {
    "page_size": 50,
    "concurrency": 8,
    "retry_attempts": 20,
    "retry_initial_wait_s": 0.01,
    "retry_max_wait_s": 0.05,
    "max_reads": 5,
    "step_retries": 0,
}
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True)
class FaultScenario:
    name: str
    faults: FaultConfig
    expect: str = LANDS_EXACTLY
    settings: dict[str, Any] = field(default_factory=dict)  # PipelineSettings overrides


_TRANSIENT = {
    "http_5xx_rate": 0.3,
    "status_18_rate": 0.3,
    "rate_limit_per_s": 10,
    "latency_ms": 30.0,
    "late_arrivals": 3,
    "late_arrivals_max": 15,
    "duplicate_rate": 0.3,
}

SCENARIOS: tuple[FaultScenario, ...] = (
    FaultScenario("no faults", FaultConfig()),
    FaultScenario("30% HTTP 5xx", FaultConfig(http_5xx_rate=0.3)),
    FaultScenario("30% status -18", FaultConfig(status_18_rate=0.3)),
    FaultScenario("30% HTML instead of JSON", FaultConfig(non_json_rate=0.3)),
    # 12 requests within a second or two: more than 2 x 5, so some are always refused.
    FaultScenario("server rate limit 5/s (429)", FaultConfig(rate_limit_per_s=5)),
    FaultScenario(
        "rate limit 8/s, client paced 5/s",
        FaultConfig(rate_limit_per_s=8),
        settings={"requests_per_second": 5.0},
    ),
    FaultScenario("latency 150 ms", FaultConfig(latency_ms=150)),
    FaultScenario("records arriving mid-paging", FaultConfig(late_arrivals=3, late_arrivals_max=15)),
    FaultScenario("30% duplicates across pages", FaultConfig(duplicate_rate=0.3)),
    FaultScenario("malformed records", FaultConfig(malformed_rate=1.0)),
    FaultScenario("wrong total (+7)", FaultConfig(total_delta=7), expect=CHECK_FAILS),
    FaultScenario("all transient faults combined", FaultConfig(**_TRANSIENT)),
    FaultScenario("combined + wrong total", FaultConfig(**_TRANSIENT, total_delta=7), expect=CHECK_FAILS),
    FaultScenario(
        "records never stop arriving",
        FaultConfig(late_arrivals=5, late_arrivals_max=100_000),
        expect=RUN_FAILS,
        settings={"max_reads": 3},
    ),
)


@dataclass
class DrillResult:
    """What one scenario did: requests, retries and reads, and what landed against the truth."""

    scenario: str
    expect: str
    outcome: str  # "ok", "check failed" or "run failed"
    as_expected: bool
    exact: bool  # landed == truth; for RUN_FAILS: the stored day is unchanged
    requests: int
    retries: int
    reads: int
    landed: int
    expected: int
    seconds: float
    answers: dict[str, int]  # the simulator's answers by kind: "0", "-18", "http_500", ...
    check: str = ""
    failure: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_scenario(scenario: FaultScenario, workdir: Path, records_per_day: int = 600) -> DrillResult:
    """Run the raw asset and its check for yesterday's partition under ``scenario``'s faults."""
    workdir.mkdir(parents=True, exist_ok=True)
    with simulator_environment(records_per_day=records_per_day) as simulator:
        from tests.defs.pipeline import load_definitions  # this harness moves to tests/

        overrides = {"duckdb_path": workdir / "laaffic.duckdb", **DRILL_SETTINGS, **scenario.settings}
        os.environ.update({env_name(name): str(value) for name, value in overrides.items()})
        job = load_definitions().resolve_job_def(DAILY_JOB_NAME)
        settings = load_settings().warehouse
        day = job.partitions_def.get_last_partition_key()
        window = query_window(job.partitions_def.time_window_for_partition_key(day))
        with DagsterInstance.ephemeral() as instance:

            def run() -> ExecuteInProcessResult:
                return job.execute_in_process(
                    partition_key=day,
                    instance=instance,
                    asset_selection=[RAW_CALL_RECORDS_KEY],
                    run_config=QUIET,
                    raise_on_error=False,
                )

            stored_before = None
            if scenario.expect == RUN_FAILS:  # land the day first: the failing run must keep it
                if not run().success:
                    raise RuntimeError(f"{scenario.name}: the fault-free landing before the drill failed")
                stored_before = stored_partition(settings.duckdb_path, day)
            simulator.faults = scenario.faults
            simulator.reset_counters()
            started = time.monotonic()
            result = run()
            seconds = time.monotonic() - started
            warnings = [
                entry.user_message
                for entry in instance.all_logs(result.run_id)
                if entry.dagster_event is None and entry.level >= 30
            ]
        truth = simulator.records_for_window(window.str_time, window.end_time)
        stored = stored_partition(settings.duckdb_path, day)
        answers = simulator.outcome_counts
    landed = [json.loads(row[2]) for row in stored["records"]]
    metadata = _materialization_metadata(result)
    checks = result.get_asset_check_evaluations()
    check_passed = all(check.passed for check in checks) if checks else None
    if not result.success and not result.get_asset_materialization_events():
        outcome = "run failed"
    else:
        outcome = "ok" if check_passed else "check failed"
    exact = stored == stored_before if scenario.expect == RUN_FAILS else landed == truth
    wanted = {LANDS_EXACTLY: "ok", CHECK_FAILS: "check failed", RUN_FAILS: "run failed"}[scenario.expect]
    return DrillResult(
        scenario=scenario.name,
        expect=scenario.expect,
        outcome=outcome,
        as_expected=outcome == wanted and exact,
        exact=exact,
        requests=sum(answers.values()),
        retries=metadata.get("request_retries", _count(warnings, " failed (")),
        reads=metadata.get("reads", _count(warnings, "is inconsistent") + 1),
        landed=len(landed),
        expected=len(truth),
        seconds=round(seconds, 2),
        answers=answers,
        check="; ".join(check.description or "" for check in checks),
        failure=failure_message(result),
        warnings=warnings,
    )


def stored_partition(database: str, day: str) -> dict[str, list[tuple]]:
    """Every stored row of the day in both raw tables, in a stable order."""
    if not Path(database).exists():
        return {"records": [], "pages": []}
    with connect_read_only(database) as conn:
        return {
            "records": conn.execute(
                "SELECT page, position, record::VARCHAR, voice_id, fetched_at FROM raw.call_records "
                "WHERE partition_date = ? ORDER BY page, position",
                [day],
            ).fetchall(),
            "pages": conn.execute(
                "SELECT * FROM raw.call_record_pages WHERE partition_date = ? ORDER BY page", [day]
            ).fetchall(),
        }


def failure_message(result: ExecuteInProcessResult) -> str:
    """Every message in the first failed step's error chain (retries wrap the real cause)."""
    failures = result.get_step_failure_events()
    if not failures:
        return ""
    error = failures[0].event_specific_data.error
    messages = []
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause
    return "\n".join(messages)


def _materialization_metadata(result: ExecuteInProcessResult) -> dict[str, Any]:
    events = result.get_asset_materialization_events()
    if not events:
        return {}
    return {key: value.value for key, value in events[0].materialization.metadata.items()}


def _count(messages: Sequence[str], marker: str) -> int:
    return sum(marker in message for message in messages)
