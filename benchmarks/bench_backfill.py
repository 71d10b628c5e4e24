"""Backfill N days through Dagster as one ranged run, next to a sequential one-process loader.

    .venv/bin/python benchmarks/bench_backfill.py            # 30 days x 5,000 calls, 20 ms latency
    .venv/bin/python benchmarks/bench_backfill.py --days 60  # 60 days as one launch

The simulator runs in its own process. The same days are loaded several ways, each into a fresh
DuckDB file (and, for Dagster, a fresh temporary DAGSTER_HOME holding the repository's dagster.yaml):

- ``baseline``: this script alone, one page after another: an ``httpx`` POST signed with
  ``md5(apiKey + apiSecret + Timestamp)`` as the API document says, each day's records written
  to NDJSON, then ``INSERT ... SELECT FROM read_json`` into DuckDB. No Dagster, no concurrency.
- ``job-launch``: ``dagster job launch -j laaffic_daily`` with the partition-range tags: ONE
  ranged run, queued and started by ``dagster-daemon run`` (the CLI way through the daemon).
- ``asset-backfill``: the asset backfill the UI's "Materialize" over a range creates
  (``PartitionBackfill.from_asset_partitions``, as the GraphQL mutation does), which the daemon
  turns into ONE ranged run because every asset is ``BackfillPolicy.single_run()``.
- ``dg-launch``: ``dg launch --job laaffic_daily --partition-range A...B``: one ranged run, but
  executed inside the CLI process (no daemon).
- ``job-backfill`` (not run by default): ``dagster job backfill -j laaffic_daily --partitions``,
  which ignores the backfill policy and queues one run per day for the daemon.

A mode's time runs from its launch (the CLI command started, or the backfill stored) to its last
run's end (for ``asset-backfill``, to the backfill being marked complete). Every day landed by
every mode is compared with the simulator's records for the literal UTC day bounds.
Targets (issue 11): a ranged backfill takes at most 0.3x the sequential loader (moonshot 0.2x),
every day exact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
from _common import (
    SimulatorProcess,
    Stopwatch,
    Target,
    connect_warehouse,
    last_days,
    report,
    simulator_process,
    utc_day_window,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
JOB = "laaffic_daily"
STEP = "laaffic_days"
PAGE_CHECK = "page_count_consistency"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
RATIO_TARGET = 0.3
RATIO_MOONSHOT = 0.2
DEFAULT_MODES = ["job-launch", "asset-backfill", "dg-launch"]
ALL_MODES = [*DEFAULT_MODES, "job-backfill"]
SUBMITTED_PREFIX = "SUBMITTED "


# -- the sequential baseline -----------------------------------------------------------------


def signed_headers(api_key: str, api_secret: str) -> dict[str, str]:
    """The API document's auth: ``Sign = md5(apiKey + apiSecret + Timestamp)``, lowercase hex."""
    timestamp = str(int(time.time()))
    sign = hashlib.md5((api_key + api_secret + timestamp).encode()).hexdigest()
    return {"Api-Key": api_key, "Timestamp": timestamp, "Sign": sign, "Content-Type": "application/json"}


def fetch_day_sequentially(http: httpx.Client, simulator: SimulatorProcess, day: date, path: Path) -> int:
    """Every page of the day's window, one after another, into an NDJSON file; returns the pages."""
    window = utc_day_window(day)
    current, pages = 1, 1
    with path.open("wb") as out:
        while current <= pages:
            body = {
                "current": current,
                "size": 100,
                "params": {
                    "strTime": window.str_time,
                    "endTime": window.end_time,
                    "sipGroupName": "",
                    "phoneName": "",
                },
            }
            response = http.post(
                "recordSipQuery",
                content=json.dumps(body),
                headers=signed_headers(simulator.api_key, simulator.api_secret),
            )
            response.raise_for_status()
            payload = response.json()
            if str(payload.get("status")) != "0":
                raise RuntimeError(
                    f"{day} page {current}: status {payload.get('status')} {payload.get('reason')}"
                )
            data = payload["data"]
            pages = data["pages"]
            out.writelines(
                orjson.dumps({"page": current, "position": position, "record": record}) + b"\n"
                for position, record in enumerate(data["records"])
            )
            current += 1
    return pages


BASELINE_TABLE = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.call_records (
    partition_date DATE NOT NULL, record JSON NOT NULL, page INTEGER NOT NULL, position INTEGER NOT NULL
);
"""
BASELINE_INSERT = """
INSERT INTO raw.call_records
SELECT $day::DATE, record, page, position
FROM read_json($path, format = 'newline_delimited',
               columns = {page: 'INTEGER', position: 'INTEGER', record: 'JSON'})
"""


def run_baseline(simulator: SimulatorProcess, days: list[date], folder: Path) -> dict[str, Any]:
    """The one-process sequential loader; returns its figures and its warehouse file."""
    database = folder / "baseline.duckdb"
    per_day = []
    pages = 0
    with (
        Stopwatch() as watch,
        httpx.Client(base_url=simulator.base_url + "/", timeout=30) as http,
        connect_warehouse(database) as conn,
    ):
        conn.execute(BASELINE_TABLE)
        for day in days:
            started = time.perf_counter()
            staged = folder / f"baseline-{day}.ndjson"
            pages += fetch_day_sequentially(http, simulator, day, staged)
            conn.execute(BASELINE_INSERT, {"day": day, "path": str(staged)})
            staged.unlink()
            per_day.append(time.perf_counter() - started)
    return {"total_s": watch.seconds, "pages": pages, "max_day_s": max(per_day), "database": database}


# -- Dagster: a temporary instance, the daemon, the launch commands --------------------------


@dataclass
class DagsterSetup:
    """A fresh DAGSTER_HOME (the repository's dagster.yaml) and warehouse for one mode."""

    home: Path
    warehouse: Path
    env: dict[str, str] = field(repr=False)

    @classmethod
    def create(cls, folder: Path, simulator: SimulatorProcess, first_day: str) -> DagsterSetup:
        home = folder / "dagster_home"
        home.mkdir(parents=True)
        shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
        warehouse = folder / "data" / "laaffic.duckdb"
        inherited = {
            name: value for name, value in os.environ.items() if not name.startswith(("LAAFFIC_", "DAGSTER_"))
        }
        env = {
            **inherited,
            "DAGSTER_HOME": str(home),
            "LAAFFIC_API_KEY": simulator.api_key,
            "LAAFFIC_API_SECRET": simulator.api_secret,
            "LAAFFIC_BASE_URL": simulator.base_url,
            "LAAFFIC_DUCKDB_PATH": str(warehouse),
            "LAAFFIC_START_DATE": first_day,  # the default starts a day inside retention
            "PYTHONWARNINGS": "ignore",  # Dagster's preview/beta warnings at every import
        }
        return cls(home, warehouse, env)

    def instance(self) -> Any:
        from dagster import DagsterInstance

        return DagsterInstance.from_config(str(self.home))

    def run_command(self, *command: str | Path) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(part) for part in command], cwd=REPO_ROOT, env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return done


class Daemon:
    """``dagster-daemon run`` in its own process group, stopped (with its run workers) on exit."""

    def __init__(self, setup: DagsterSetup, log: Path):
        self._setup = setup
        self._log_path = log
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Daemon:
        with self._log_path.open("w") as log:
            self._process = subprocess.Popen(
                [BIN / "dagster-daemon", "run", "-w", "workspace.yaml"],
                cwd=REPO_ROOT,
                env=self._setup.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, instance: Any, timeout_s: float = 120) -> float:
        """Seconds until the run queue and backfill daemons have sent a heartbeat."""
        started = time.monotonic()
        while True:
            beating = set(instance.get_daemon_heartbeats())
            if {"QUEUED_RUN_COORDINATOR", "BACKFILL"} <= beating:
                return time.monotonic() - started
            self.check_alive()
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"the daemon sent no heartbeat in {timeout_s} s: {self.log_tail()}")
            time.sleep(0.2)

    def check_alive(self) -> None:
        assert self._process is not None
        if self._process.poll() is not None:
            raise RuntimeError(f"the daemon exited: {self.log_tail()}")

    def log_tail(self) -> str:
        return self._log_path.read_text()[-3000:]

    def __exit__(self, *exc_info: object) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def submit_asset_backfill(first: str, last: str) -> None:
    """In a child process with the mode's environment: store the asset backfill the UI's
    "Materialize" over ``first..last`` creates (what the ``launchPartitionBackfill`` mutation
    does), then print its id and the time it was stored."""
    from dagster import DagsterInstance
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    with (
        DagsterInstance.get() as instance,
        WorkspaceProcessContext(
            instance, WorkspaceFileTarget([str(REPO_ROOT / "workspace.yaml")])
        ) as process,
    ):
        asset_graph = process.create_request_context().asset_graph
        partitions = asset_graph.get(next(iter(asset_graph.materializable_asset_keys))).partitions_def
        assert partitions is not None
        keys = partitions.get_partition_keys()
        names = keys[keys.index(first) : keys.index(last) + 1]
        backfill_id = make_new_backfill_id()
        stored_at = time.time()
        instance.add_backfill(
            PartitionBackfill.from_asset_partitions(
                backfill_id=backfill_id,
                asset_graph=asset_graph,
                backfill_timestamp=stored_at,
                tags={},
                asset_selection=sorted(asset_graph.materializable_asset_keys),
                partition_names=names,
                dynamic_partitions_store=instance,
                all_partitions=False,
                title=None,
                description=None,
                run_config=None,
            )
        )
    print(SUBMITTED_PREFIX + json.dumps({"backfill_id": backfill_id, "stored_at": stored_at}), flush=True)


def launch(mode: str, setup: DagsterSetup, keys: list[str]) -> tuple[float, float, str | None]:
    """Launch ``keys`` the ``mode`` way; returns (launch epoch, CLI seconds, backfill id or None)."""
    first, last = keys[0], keys[-1]
    started = time.time()
    backfill_id = None
    if mode == "job-launch":
        tags = json.dumps({RANGE_START_TAG: first, RANGE_END_TAG: last})
        setup.run_command(BIN / "dagster", "job", "launch", "-j", JOB, "-w", "workspace.yaml", "--tags", tags)
    elif mode == "job-backfill":
        setup.run_command(
            *(BIN / "dagster", "job", "backfill", "-j", JOB, "-w", "workspace.yaml"),
            *("--partitions", ",".join(keys), "--noprompt"),
        )
    elif mode == "dg-launch":
        setup.run_command(BIN / "dg", "launch", "--job", JOB, "--partition-range", f"{first}...{last}")
    elif mode == "asset-backfill":
        done = setup.run_command(
            sys.executable, Path(__file__).resolve(), "--submit-asset-backfill", first, last
        )
        line = next(line for line in done.stdout.splitlines() if line.startswith(SUBMITTED_PREFIX))
        submitted = json.loads(line.removeprefix(SUBMITTED_PREFIX))
        cli_s = time.time() - started
        return submitted["stored_at"], cli_s, submitted["backfill_id"]
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return started, time.time() - started, backfill_id


def wait_until(done: Callable[[], bool], daemon: Daemon | None, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if daemon is not None:
            daemon.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"not finished in {timeout_s:.0f} s" + (f": {daemon.log_tail()}" if daemon else "")
            )
        time.sleep(0.2)


def run_mode(
    mode: str, simulator: SimulatorProcess, keys: list[str], folder: Path, timeout_s: float
) -> dict[str, Any]:
    """One launch of ``keys`` the ``mode`` way in a fresh instance; its figures."""
    from dagster import DagsterRunStatus, RunsFilter

    terminal = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    setup = DagsterSetup.create(folder / mode, simulator, keys[0])
    expected_runs = len(keys) if mode == "job-backfill" else 1
    with setup.instance() as instance:  # creates the SQLite storage before the daemon starts
        daemon = Daemon(setup, folder / f"{mode}-daemon.log") if mode != "dg-launch" else None
        daemon_ready_s = 0.0
        if daemon is not None:
            daemon.__enter__()
        try:
            if daemon is not None:
                daemon_ready_s = daemon.wait_ready(instance)
            launched_at, cli_s, backfill_id = launch(mode, setup, keys)

            def runs() -> list[Any]:
                if backfill_id is not None:  # the backfill's runs are of an implicit asset job
                    return instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))
                return instance.get_run_records(RunsFilter(job_name=JOB))

            def finished() -> bool:
                records = runs()
                if backfill_id is not None:
                    backfill = instance.get_backfill(backfill_id)
                    return backfill is not None and backfill.status.value != "REQUESTED"
                return len(records) >= expected_runs and all(
                    r.dagster_run.status in terminal for r in records
                )

            wait_until(finished, daemon, timeout_s)
            completed_at = time.time()
            records = runs()
            runs_figures = [run_figures(instance, record) for record in records]
            if not runs_figures:
                backfill = instance.get_backfill(backfill_id) if backfill_id else None
                problem = backfill and (backfill.status, backfill.error and backfill.error.to_string())
                raise RuntimeError(f"{mode} started no run: {problem}")
        finally:
            if daemon is not None:
                daemon.__exit__(None, None, None)
    last_end = max(run["end"] for run in runs_figures)
    end_to_end_s = (completed_at if backfill_id is not None else last_end) - launched_at
    steps = [run["step_s"] for run in runs_figures]
    return {
        "mode": mode,
        "end_to_end_s": end_to_end_s,
        "to_last_run_end_s": last_end - launched_at,
        "cli_s": cli_s,
        "daemon_ready_s": daemon_ready_s,
        "runs": len(runs_figures),
        "runs_succeeded": sum(run["success"] for run in runs_figures),
        "ranged_runs": sum(run["ranged"] for run in runs_figures),
        "launch_to_first_start_s": min(run["start"] for run in runs_figures) - launched_at,
        "run_s_mean": sum(run["run_s"] for run in runs_figures) / len(runs_figures),
        "step_s_sum": sum(steps),
        "run_overhead_s_mean": sum(run["run_s"] - run["step_s"] for run in runs_figures) / len(runs_figures),
        "events": sum(run["events"] for run in runs_figures),
        "days_materialized": len(set().union(*(run["materialized"] for run in runs_figures))),
        "days_check_passed": len(set().union(*(run["checks_passed"] for run in runs_figures))),
        "database": setup.warehouse,
    }


def run_figures(instance: Any, record: Any) -> dict[str, Any]:
    """A run's times, its step's time, its events, and the days it materialized and checked."""
    from dagster import DagsterEventType, DagsterRunStatus

    run = record.dagster_run
    step: dict[Any, float] = {}
    materialized: set[str] = set()
    checks_passed: set[str] = set()
    logs = instance.all_logs(run.run_id)
    for entry in logs:
        event = entry.dagster_event
        if event is None:
            continue
        if event.step_key == STEP:
            step.setdefault(event.event_type, entry.timestamp)
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION and event.partition:
            materialized.add(event.partition)
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.check_name == PAGE_CHECK and evaluation.passed:
                checks_passed.add(getattr(evaluation, "partition", None) or run.tags.get("dagster/partition"))
    step_end = step.get(DagsterEventType.STEP_SUCCESS, step.get(DagsterEventType.STEP_FAILURE, 0.0))
    return {
        "success": run.status == DagsterRunStatus.SUCCESS,
        "ranged": RANGE_START_TAG in run.tags,
        "start": record.start_time,
        "end": record.end_time,
        "run_s": record.end_time - record.start_time,
        "step_s": step_end - step.get(DagsterEventType.STEP_START, step_end),
        "events": len(logs),
        "materialized": materialized,
        "checks_passed": checks_passed,
    }


# -- exactness -------------------------------------------------------------------------------


def inexact_days(database: Path, days: list[date], truth: dict[date, list[dict[str, Any]]]) -> list[str]:
    """Days whose landed records (in page order) differ from the simulator's, or lack marts rows."""
    wrong = []
    with duckdb.connect(str(database), read_only=True) as conn:
        has_marts = bool(
            conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts'"
            ).fetchone()[0]  # type: ignore[index]
        )
        for day in days:
            rows = conn.execute(
                "SELECT record FROM raw.call_records WHERE partition_date = ? ORDER BY page, position", [day]
            ).fetchall()
            if [json.loads(record) for (record,) in rows] != truth[day]:
                wrong.append(day.isoformat())
            elif has_marts:
                (facts,) = conn.execute(
                    "SELECT count(*) FROM marts.call_facts WHERE call_date = ?", [day]
                ).fetchone() or (0,)
                if facts != len(truth[day]):
                    wrong.append(f"{day} (marts)")
    return wrong


def literal_day_bounds(day: date) -> tuple[str, str]:
    """The local day's bounds written out in UTC, not derived by the pipeline's code."""
    return f"{day.isoformat()}T00:00:00+00:00", f"{(day + timedelta(days=1)).isoformat()}T00:00:00+00:00"


# -- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--days", type=int, default=30, help="days up to yesterday (at most ~60: retention)")
    parser.add_argument("--records", type=int, default=5_000, help="calls per day")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--modes", nargs="+", choices=ALL_MODES, default=DEFAULT_MODES)
    parser.add_argument("--timeout-s", type=float, default=900, help="longest wait for one mode")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--submit-asset-backfill", nargs=2, metavar=("FIRST", "LAST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.submit_asset_backfill:
        submit_asset_backfill(*args.submit_asset_backfill)
        return

    days = last_days(args.days)
    keys = [day.isoformat() for day in days]
    results: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-backfill-") as work,
        simulator_process(args.records, args.latency_ms, args.seed) as simulator,
    ):
        folder = Path(work)
        print(f"Simulator on {simulator.base_url}: {args.days} days x {args.records:,} calls ", end="")
        print(f"({keys[0]} .. {keys[-1]}), {args.latency_ms:g} ms per request", flush=True)
        truth_simulator = simulator.truth()
        truth = {day: truth_simulator.records_for_window(*literal_day_bounds(day)) for day in days}
        for day in days:  # the simulator generates (and caches) every day before anything is timed
            simulator.warm_up(utc_day_window(day))

        print("  baseline: sequential httpx page loop into DuckDB ...", flush=True)
        baseline = run_baseline(simulator, days, folder)
        baseline["inexact_days"] = inexact_days(baseline.pop("database"), days, truth)
        print(f"    {baseline['total_s']:.1f} s ({baseline['total_s'] / args.days:.2f} s a day)", flush=True)
        for mode in args.modes:
            print(f"  {mode} ...", flush=True)
            result = run_mode(mode, simulator, keys, folder, args.timeout_s)
            result["inexact_days"] = inexact_days(result.pop("database"), days, truth)
            results[mode] = result
            print(
                f"    {result['end_to_end_s']:.1f} s end to end ({result['runs']} run(s), "
                f"{result['ranged_runs']} ranged; step {result['step_s_sum']:.1f} s; "
                f"{result['cli_s']:.1f} s in the launching command); "
                f"{len(result['inexact_days'])} inexact day(s)",
                flush=True,
            )
            if result["runs_succeeded"] != result["runs"]:
                print(f"    {result['runs'] - result['runs_succeeded']} run(s) failed", flush=True)

    figures: dict[str, Any] = {
        "days": args.days,
        "first_day": days[0],
        "last_day": days[-1],
        "calls_per_day": args.records,
        "latency_ms": args.latency_ms,
        "baseline_total_s": baseline["total_s"],
        "baseline_s_per_day": baseline["total_s"] / args.days,
        "baseline_pages": baseline["pages"],
        "baseline_inexact_days": len(baseline["inexact_days"]),
    }
    targets = [Target("baseline days inexact", len(baseline["inexact_days"]), 0, "days")]
    for mode, result in results.items():
        name = mode.replace("-", "_")
        ratio = result["end_to_end_s"] / baseline["total_s"]
        figures |= {
            f"{name}_total_s": result["end_to_end_s"],
            f"{name}_s_per_day": result["end_to_end_s"] / args.days,
            f"{name}_ratio_to_baseline": ratio,
            f"{name}_to_last_run_end_s": result["to_last_run_end_s"],
            f"{name}_launch_command_s": result["cli_s"],
            f"{name}_launch_to_first_run_start_s": result["launch_to_first_start_s"],
            f"{name}_runs": result["runs"],
            f"{name}_ranged_runs": result["ranged_runs"],
            f"{name}_runs_succeeded": result["runs_succeeded"],
            f"{name}_run_s_mean": result["run_s_mean"],
            f"{name}_step_s": result["step_s_sum"],
            f"{name}_per_run_overhead_s": result["run_overhead_s_mean"],
            f"{name}_events": result["events"],
            f"{name}_days_materialized": result["days_materialized"],
            f"{name}_days_page_check_passed": result["days_check_passed"],
            f"{name}_daemon_ready_s": result["daemon_ready_s"],
            f"{name}_inexact_days": result["inexact_days"],
        }
        targets += [
            Target(f"{mode} / baseline", ratio, RATIO_TARGET, "x"),
            Target(f"{mode} / baseline (moonshot)", ratio, RATIO_MOONSHOT, "x"),
            Target(f"{mode} days inexact", len(result["inexact_days"]), 0, "days"),
        ]
    report(
        "backfill",
        f"Backfill {args.days} days x {args.records:,} calls, {args.latency_ms:g} ms latency: "
        f"Dagster ({', '.join(results)}) vs a sequential one-process loader",
        figures,
        targets,
    )


if __name__ == "__main__":
    main()
