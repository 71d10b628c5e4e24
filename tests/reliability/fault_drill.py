"""The fault-drill harness: the daily job against the simulator under each fault, and what it did.

Each ``FaultScenario`` names simulator faults and what a correct pipeline does under them: land
the day exactly, land it exactly but fail the page-count check (the API's own figures are
wrong), or fail the run and keep the stored day. ``run_scenario`` runs the real Dagster job
(``raw/call_records`` and its check) over loopback HTTP into a fresh DuckDB file and returns what
happened: the outcome, what was stored, and the simulator's own truth for the day
(``records_for_local_day``, by zoneinfo alone, not the pipeline's window code).

A drill depends on nothing in the shell that runs it: its partitions' zone is a parameter (UTC
unless the caller pins another), every other ``LAAFFIC_*`` setting is the drill's own or the
default, and the environment is put back as it was when the drill ends.

It passes no verdict: ``test_fault_matrix.verdict`` compares landed with truth and the outcome
with the scenario's expectation; ``scripts/fault_summary.py`` prints both.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult, JobDefinition

from laaffic_pipeline.defs import build_definitions
from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.laaffic.specs import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.local_stack import simulator_environment
from laaffic_pipeline.settings import PipelineSettings, env_name
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
DRILL_TIMEZONE = "UTC"  # a UTC day holds exactly the simulator's records_per_day


@dataclass(frozen=True)
class FaultScenario:
    name: str
    faults: FaultConfig
    expect: str = LANDS_EXACTLY
    settings: dict[str, Any] = field(default_factory=dict)  # settings overrides, by field name


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
class DrillRun:
    """What one scenario did: requests, retries and reads, what was stored and the truth."""

    scenario: FaultScenario
    day: date
    zone: str
    outcome: str  # "ok", "check failed" or "run failed"
    day_records: int  # simulator.records_for_local_day(day, zone) before the faults were switched on
    landed: list[dict[str, Any]]  # the day's stored records, in stored order
    truth: list[dict[str, Any]]  # simulator.records_for_local_day(day, zone) after the run
    stored_before: dict[str, list[tuple]] | None  # the day as stored before a RUN_FAILS drill
    stored_after: dict[str, list[tuple]]
    requests: int
    retries: int
    reads: int
    seconds: float
    answers: dict[str, int]  # the simulator's answers by kind: "0", "-18", "http_500", ...
    check: str = ""
    failure: str = ""
    warnings: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """The run's figures for a report (records left out)."""
        return {
            "scenario": self.scenario.name,
            "expect": self.scenario.expect,
            "day": self.day.isoformat(),
            "zone": self.zone,
            "outcome": self.outcome,
            "requests": self.requests,
            "retries": self.retries,
            "reads": self.reads,
            "landed": len(self.landed),
            "day_records": self.day_records,
            "expected": len(self.truth),
            "seconds": self.seconds,
            "answers": self.answers,
            "check": self.check,
            "failure": self.failure,
        }


def build_drill_job(base_url: str, duckdb_path: str, overrides: dict[str, Any]) -> tuple[JobDefinition, str]:
    """The daily job pointed at ``base_url`` and ``duckdb_path``, and its partitions' time zone.

    The only place the drill builds the pipeline: adapt this when the definitions' API changes.
    """
    settings = {"base_url": base_url, "duckdb_path": duckdb_path, **DRILL_SETTINGS, **overrides}
    os.environ.update({env_name(name): str(value) for name, value in settings.items()})
    pipeline = PipelineSettings.from_env(os.environ)
    job = build_definitions(pipeline, os.environ).resolve_job_def(DAILY_JOB_NAME)
    return job, pipeline.timezone


@contextmanager
def drill_environment() -> Iterator[None]:
    """No ``LAAFFIC_*`` variable of the caller's while open; the environment as it was afterwards."""
    saved = dict(os.environ)
    for name in [name for name in os.environ if name.startswith("LAAFFIC_")]:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_scenario(
    scenario: FaultScenario, workdir: Path, records_per_day: int = 600, timezone: str = DRILL_TIMEZONE
) -> DrillRun:
    """Run the raw asset and its check for the latest partition, in ``timezone``, under
    ``scenario``'s faults."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = str(workdir / "laaffic.duckdb")
    with drill_environment(), simulator_environment(records_per_day=records_per_day) as simulator:
        job, zone = build_drill_job(simulator.base_url, database, {"timezone": timezone, **scenario.settings})
        assert job.partitions_def is not None
        day = job.partitions_def.get_partition_keys()[-2]  # yesterday: today is provisional
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
                stored_before = stored_partition(database, day)
            day_records = len(simulator.records_for_local_day(date.fromisoformat(day), zone))
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
        truth = simulator.records_for_local_day(date.fromisoformat(day), zone)
        stored = stored_partition(database, day)
        answers = simulator.outcome_counts
    metadata = _materialization_metadata(result)
    # The page-count check judges the landing; the schema-drift check only warns about malformed records.
    checks = [c for c in result.get_asset_check_evaluations() if c.check_name == "page_count_consistency"]
    check_passed = all(check.passed for check in checks) if checks else None
    if not result.success and not result.get_asset_materialization_events():
        outcome = "run failed"
    else:
        outcome = "ok" if check_passed else "check failed"
    return DrillRun(
        scenario=scenario,
        day=date.fromisoformat(day),
        zone=zone,
        outcome=outcome,
        day_records=day_records,
        landed=[json.loads(row[2]) for row in stored["records"]],
        truth=truth,
        stored_before=stored_before,
        stored_after=stored,
        requests=sum(answers.values()),
        # Every re-sent request: after an error, or after a 429 (flow control, not an error).
        retries=metadata.get("request_retries", _count(warnings, " failed ("))
        + metadata.get("requests_throttled", 0),
        reads=metadata.get("reads", _count(warnings, "is inconsistent") + 1),
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
