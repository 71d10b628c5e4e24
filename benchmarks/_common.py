"""What every benchmark shares: a simulator in its own process, peak-RSS sampling, and the report.

Each ``bench_*.py`` prints a human table, then exactly one machine-readable line
``BENCH {...}`` (JSON), and exits 0 whether or not a target was met: benchmarks report, tests gate.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psutil

from laaffic_pipeline.api.client import MAX_PAGE_SIZE, LaafficClient
from laaffic_pipeline.api.models import PageLog
from laaffic_pipeline.api.signing import Credentials
from laaffic_pipeline.api.window import QueryWindow, day_window
from laaffic_pipeline.simulator.records import generate_day, parse_offset, to_api_record
from laaffic_pipeline.warehouse.staging import NdjsonStagingFile

BENCH_API_KEY = "bench-key"
MIB = 1024 * 1024
# What the Dagster resource writes (see defs/resources.py), so files are created the same way.
DUCKDB_CONFIG = {"storage_compatibility_version": "v1.0.0"}
PARTITION_TIMEZONE = "UTC"


def yesterday_utc() -> date:
    """A whole day inside the API's two-month retention, the day the nightly run fetches."""
    return datetime.now(UTC).date() - timedelta(days=1)


def utc_day_window(day: date) -> QueryWindow:
    return day_window(day, PARTITION_TIMEZONE)


def connect_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), config=DUCKDB_CONFIG)


# -- the simulator ---------------------------------------------------------------------------


@dataclass
class SimulatorProcess:
    """A ``laaffic-pipeline simulate`` child process; its CPU time is reported separately."""

    process: subprocess.Popen[str]
    base_url: str
    api_key: str
    api_secret: str = field(repr=False)

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def client(self, concurrency: int = 8) -> LaafficClient:
        return LaafficClient(
            Credentials(self.api_key, self.api_secret), self.base_url, concurrency=concurrency
        )

    def warm_up(self, window: QueryWindow) -> None:
        """One request, so the simulator generates (and caches) the day before anything is timed."""

        async def first_page() -> None:
            async with self.client(concurrency=1) as client:
                await client.fetch_page(window, 1)

        asyncio.run(first_page())


@contextmanager
def simulator_process(records_per_day: int, latency_ms: float, seed: int = 7) -> Iterator[SimulatorProcess]:
    """Start the simulator in its own process (its own GIL and core) and stop it afterwards.

    The real API does not share the pipeline's interpreter; an in-process simulator would take
    ~2 ms of the client's GIL per page on this 2-core machine and blur what the client costs.
    The secret is random and passed through the environment, never on the command line.
    """
    secret = secrets.token_urlsafe(24)
    command = [
        str(Path(sys.executable).with_name("laaffic-pipeline")),
        "simulate",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--seed",
        str(seed),
        "--records-per-day",
        str(records_per_day),
        "--latency-ms",
        str(latency_ms),
    ]
    env = {**os.environ, "LAAFFIC_API_KEY": BENCH_API_KEY, "LAAFFIC_API_SECRET": secret}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "Laaffic simulator listening on http://HOST:PORT/v3/voice"
        if not line.startswith("Laaffic simulator listening on "):
            raise RuntimeError(f"the simulator did not start (said {line!r})")
        yield SimulatorProcess(process, line.split()[-1], BENCH_API_KEY, secret)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- memory ----------------------------------------------------------------------------------


class PeakRss:
    """Samples one process's RSS every ``interval_s`` while open (children not included).

    ``ru_maxrss`` only ever grows over a process's life; this gives the peak of one phase.
    A sample is one read of ``/proc/<pid>/statm``, so the sampler costs the measured code nothing.
    """

    def __init__(self, pid: int | None = None, interval_s: float = 0.02):
        self._process = psutil.Process(pid)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self.peak_bytes = 0
        self.start_bytes = 0

    def __enter__(self) -> PeakRss:
        self.start_bytes = self._rss()
        self.peak_bytes = self.start_bytes
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._update()

    def _rss(self) -> int:
        try:
            return self._process.memory_info().rss
        except psutil.NoSuchProcess:
            return 0

    def _update(self) -> None:
        self.peak_bytes = max(self.peak_bytes, self._rss())

    def _sample(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._update()

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / MIB


def max_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Lifetime peak RSS (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds`` (wall) and ``watch.cpu_seconds``."""

    def __enter__(self) -> Stopwatch:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu


# -- synthetic days ------------------------------------------------------------------------

RECORD_OFFSET = "+08:00"  # the simulator's default zone for record times


def stage_generated_day(
    path: Path, day: date, records: int, seed: int
) -> tuple[list[PageLog], dict[str, float]]:
    """Generate a day with the simulator's generator, render each page as the API serves it and
    stage it with ``NdjsonStagingFile``; returns the page logs and the seconds each step took."""
    with Stopwatch() as generating:
        rows = generate_day(seed, day, records)
    zone = parse_offset(RECORD_OFFSET)
    pages = -(-len(rows) // MAX_PAGE_SIZE)
    fetched_at = datetime.now(UTC)
    logs = []
    render_s = write_s = 0.0
    sink = NdjsonStagingFile(path)
    for number in range(1, pages + 1):
        start = time.perf_counter()
        chunk = rows[(number - 1) * MAX_PAGE_SIZE : number * MAX_PAGE_SIZE]
        page = [to_api_record(row, zone) for row in chunk]
        middle = time.perf_counter()
        sink.write_page(number, fetched_at, page)
        write_s += time.perf_counter() - middle
        render_s += middle - start
        logs.append(PageLog(number, len(rows), pages, len(page), fetched_at))
    start = time.perf_counter()
    sink.close()
    write_s += time.perf_counter() - start
    return logs, {"generate_s": generating.seconds, "render_s": render_s, "staging_write_s": write_s}


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A figure the issue asks for: ``measured`` at most ``limit`` (at least, with ``at_least``)."""

    name: str
    measured: float
    limit: float
    unit: str
    at_least: bool = False

    @property
    def met(self) -> bool:
        return self.measured >= self.limit if self.at_least else self.measured <= self.limit

    def margin(self) -> str:
        """How far from the limit, as a factor: ``2.1x under`` / ``1.3x over``."""
        if self.measured <= 0 or self.limit <= 0:
            return ""
        factor = self.limit / self.measured if not self.at_least else self.measured / self.limit
        if factor >= 1:
            return f"{factor:.2f}x {'above' if self.at_least else 'under'}"
        return f"{1 / factor:.2f}x {'short' if self.at_least else 'over'}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured": round(self.measured, 4),
            "limit": self.limit,
            "unit": self.unit,
            "comparison": ">=" if self.at_least else "<=",
            "met": self.met,
        }


def machine() -> dict[str, Any]:
    """Where the figures come from; the load average shows whether something else was running."""
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def report(bench: str, title: str, figures: dict[str, Any], targets: list[Target]) -> None:
    """Print the table, the targets, then the one ``BENCH {...}`` JSON line."""
    environment = machine()
    print(f"\n{title}")
    width = max(len(name) for name in [*figures, *environment])
    for name, value in [*figures.items(), *environment.items()]:
        print(f"  {name:<{width}}  {_text(value)}")
    print("\nTargets")
    name_width = max(len(target.name) for target in targets)
    for target in targets:
        comparison = ">=" if target.at_least else "<="
        print(
            f"  {target.name:<{name_width}}  {_text(target.measured):>10} {target.unit:<3} "
            f"(target {comparison} {_text(target.limit)})  met: {'yes' if target.met else 'NO'}"
            f"  {target.margin()}"
        )
    line = {
        "bench": bench,
        **{name: _json_value(value) for name, value in figures.items()},
        "targets": [target.as_dict() for target in targets],
        "all_met": all(target.met for target in targets),
        "machine": environment,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print("BENCH " + json.dumps(line, separators=(",", ":")), flush=True)


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, date):
        return value.isoformat()
    return value
