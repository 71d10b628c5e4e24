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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import psutil

from laaffic_pipeline.api.auth import Credentials
from laaffic_pipeline.api.client import MAX_PAGE_SIZE, LaafficClient
from laaffic_pipeline.api.models import CallRecordPage
from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.defs.resources import WarehouseResource
from laaffic_pipeline.settings import ClientSettings, PipelineSettings, WarehouseSettings
from laaffic_pipeline.simulator import LaafficSimulator
from laaffic_pipeline.simulator.records import generate_day, parse_offset, to_api_record
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead

BENCH_API_KEY = "bench-key"
MIB = 1024 * 1024
# The settings' defaults, so a benchmark opens files, reads windows and judges reads as the
# pipeline does out of the box; nothing of them is repeated here.
CLIENT = ClientSettings()
WAREHOUSE = WarehouseSettings()
DUCKDB_CONFIG = WarehouseResource.from_settings(WAREHOUSE).connection_config
PARTITION_TIMEZONE: str = PipelineSettings.model_fields["timezone"].default


def yesterday_utc() -> date:
    """A whole day inside the API's two-month retention, the day the nightly run fetches."""
    return datetime.now(UTC).date() - timedelta(days=1)


def last_days(count: int) -> list[date]:
    """The ``count`` days up to yesterday, oldest first (a backfill of the API's latest days)."""
    last = yesterday_utc()
    return [last - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def utc_day_window(day: date) -> QueryWindow:
    """The partition's window with the default settings: the local day's two midnights."""
    zone = ZoneInfo(PARTITION_TIMEZONE)
    start = datetime.combine(day, datetime.min.time(), zone)
    return QueryWindow(start, datetime.combine(day + timedelta(days=1), datetime.min.time(), zone))


def connect_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), config=DUCKDB_CONFIG)


def new_staged_read(folder: Path) -> Callable[[int], StagedNdjsonRead]:
    """What the raw landing hands ``read_stable_window``: each read staged in ``folder``."""
    return lambda number: StagedNdjsonRead(folder, number, WAREHOUSE.duckdb_memory_limit)


# -- the simulator ---------------------------------------------------------------------------


@dataclass
class SimulatorProcess:
    """A ``laaffic-pipeline simulate`` child process; its CPU time is reported separately."""

    process: subprocess.Popen[str]
    base_url: str
    api_key: str
    api_secret: str = field(repr=False)
    seed: int
    records_per_day: int

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def client(self, concurrency: int = 8) -> LaafficClient:
        return LaafficClient(
            Credentials(self.api_key, self.api_secret), self.base_url, concurrency=concurrency
        )

    def truth(self) -> LaafficSimulator:
        """The same simulator (seed, day size) in this process, unstarted: its records are the truth."""
        return LaafficSimulator(
            self.api_key, self.api_secret, seed=self.seed, records_per_day=self.records_per_day
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
        yield SimulatorProcess(process, line.split()[-1], BENCH_API_KEY, secret, seed, records_per_day)
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
    folder: Path, day: date, records: int, seed: int
) -> tuple[StagedNdjsonRead, dict[str, float]]:
    """Generate a day with the simulator's generator, render each page as the API serves it and
    stage it as read 1 with ``StagedNdjsonRead``; returns the closed read and each step's seconds."""
    with Stopwatch() as generating:
        rows = generate_day(seed, day, records)
    zone = parse_offset(RECORD_OFFSET)
    pages = max(-(-len(rows) // MAX_PAGE_SIZE), 1)
    fetched_at = datetime.now(UTC)
    render_s = write_s = 0.0
    staged = new_staged_read(folder)(1)
    for number in range(1, pages + 1):
        start = time.perf_counter()
        chunk = rows[(number - 1) * MAX_PAGE_SIZE : number * MAX_PAGE_SIZE]
        page = CallRecordPage(
            total=len(rows),
            size=MAX_PAGE_SIZE,
            current=number,
            pages=pages,
            search_count=True,
            records=[to_api_record(row, zone) for row in chunk],
        )
        middle = time.perf_counter()
        staged.write_page(number, fetched_at, page)
        write_s += time.perf_counter() - middle
        render_s += middle - start
    start = time.perf_counter()
    staged.close()
    write_s += time.perf_counter() - start
    return staged, {"generate_s": generating.seconds, "render_s": render_s, "staging_write_s": write_s}


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
