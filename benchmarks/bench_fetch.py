"""Fetch and land one busy day from the simulator, concurrently and sequentially, in the same run.

    .venv/bin/python benchmarks/bench_fetch.py

The path measured is the raw landing's own (``defs/laaffic/landing.py``): ``read_stable_window``
(page 1, then the rest concurrently, each page into a ``StagedNdjsonRead`` as it arrives, the read
judged in DuckDB), then ``replace_raw_partition`` into a fresh DuckDB file. The simulator answers
every request after ``--latency-ms`` and runs in its own process.
Target (issue): the landing takes at most 1.3x the network bound (pages x latency / concurrency)
and is at least 5x faster than the same landing with concurrency 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from _common import (
    CLIENT,
    PeakRss,
    SimulatorProcess,
    Stopwatch,
    Target,
    connect_warehouse,
    new_staged_read,
    report,
    simulator_process,
    utc_day_window,
    yesterday_utc,
)

from laaffic_pipeline.api.stable_read import StableRead, read_stable_window
from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.warehouse.landing import replace_raw_partition

RATIO_TO_BOUND_TARGET = 1.3
SPEEDUP_TARGET = 5.0


@dataclass(frozen=True)
class LandingRun:
    concurrency: int
    fetch_s: float
    load_s: float
    client_cpu_s: float  # the process's CPU while fetching (the loop, httpx, JSON, staging)
    load_cpu_s: float  # DuckDB's CPU while landing (all its threads)
    simulator_cpu_s: float
    peak_rss_mib: float
    pages: int
    records: int
    requests: int
    retries: int
    reads: int
    rows_landed: int

    @property
    def wall_s(self) -> float:
        return self.fetch_s + self.load_s


async def stable_read(
    simulator: SimulatorProcess, window: QueryWindow, concurrency: int, staging: Path
) -> tuple[StableRead, int, int]:
    """The raw landing's read (``read_stable_window`` into staged reads), with the requests it took."""
    async with simulator.client(concurrency) as client:
        read = await read_stable_window(client, window, new_staged_read(staging), max_reads=CLIENT.max_reads)
        return read, client.counts.sent, client.counts.retries


def land_day(
    simulator: SimulatorProcess, day: date, concurrency: int, database: Path, staging: Path
) -> LandingRun:
    window = utc_day_window(day)
    simulator_cpu = simulator.cpu_seconds()
    with PeakRss() as memory:
        with Stopwatch() as fetch:
            read, requests, retries = asyncio.run(stable_read(simulator, window, concurrency, staging))
        with Stopwatch() as load, connect_warehouse(database) as conn:
            landed = replace_raw_partition(
                conn, day, read.staged, window.str_time, window.end_time, read.reads
            )
    summary = read.staged.page_summary()
    read.staged.discard()
    return LandingRun(
        concurrency=concurrency,
        fetch_s=fetch.seconds,
        load_s=load.seconds,
        client_cpu_s=fetch.cpu_seconds,
        load_cpu_s=load.cpu_seconds,
        simulator_cpu_s=simulator.cpu_seconds() - simulator_cpu,
        peak_rss_mib=memory.peak_mib,
        pages=summary["pages_fetched"],
        records=summary["records_received"],
        requests=requests,
        retries=retries,
        reads=read.reads,
        rows_landed=landed.rows_after,
    )


def mismatches_with_simulator(simulator: SimulatorProcess, args: argparse.Namespace, database: Path) -> int:
    """Rows that differ from the simulator's own records for the day (0 = landed exactly)."""
    window = utc_day_window(args.day)
    truth = simulator.truth().records_for_window(window.str_time, window.end_time)
    with connect_warehouse(database) as conn:
        rows = conn.execute(
            "SELECT record FROM raw.call_records WHERE partition_date = ? ORDER BY page, position",
            [args.day],
        ).fetchall()
    landed = [json.loads(record) for (record,) in rows]
    differing = sum(1 for got, want in zip(landed, truth, strict=False) if got != want)
    return differing + abs(len(landed) - len(truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000, help="records in the day")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="simulated latency per request")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="concurrent landings; the median counts")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.day = yesterday_utc()
    window = utc_day_window(args.day)

    with (
        tempfile.TemporaryDirectory(prefix="bench-fetch-") as work,
        simulator_process(args.records, args.latency_ms, args.seed) as simulator,
    ):
        folder = Path(work)
        print(f"Simulator on {simulator.base_url}: {args.records:,} records on {args.day}, ", end="")
        print(f"{args.latency_ms:g} ms per request")
        simulator.warm_up(window)
        concurrent = []
        for repeat in range(1, args.repeats + 1):
            run = land_day(simulator, args.day, args.concurrency, folder / f"c{repeat}.duckdb", folder)
            print(f"  concurrency {args.concurrency} run {repeat}: fetch {run.fetch_s:.3f} s + load ", end="")
            print(f"{run.load_s:.3f} s = {run.wall_s:.3f} s")
            concurrent.append(run)
        sequential = land_day(simulator, args.day, 1, folder / "sequential.duckdb", folder)
        print(f"  concurrency 1: fetch {sequential.fetch_s:.3f} s + load {sequential.load_s:.3f} s")
        differing = mismatches_with_simulator(simulator, args, folder / "c1.duckdb")

    median = sorted(concurrent, key=lambda run: run.wall_s)[len(concurrent) // 2]
    first = concurrent[0]
    bound_s = first.pages * args.latency_ms / 1000 / args.concurrency
    ratio = median.wall_s / bound_s
    speedup = sequential.wall_s / median.wall_s
    figures = {
        "day": args.day,
        "records": first.records,
        "pages": first.pages,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "concurrent_runs": len(concurrent),
        "wall_s": median.wall_s,
        "wall_s_all_runs": [round(run.wall_s, 3) for run in concurrent],
        "fetch_s": median.fetch_s,
        "load_s": median.load_s,
        "records_per_s": median.records / median.wall_s,
        "network_bound_s": bound_s,
        "ratio_to_bound": ratio,
        "fetch_ratio_to_bound": median.fetch_s / bound_s,
        "sequential_wall_s": sequential.wall_s,
        "sequential_fetch_s": sequential.fetch_s,
        "speedup_vs_sequential": speedup,
        "fetch_speedup_vs_sequential": sequential.fetch_s / median.fetch_s,
        "client_cpu_s": median.client_cpu_s,
        "client_cpu_ms_per_page": median.client_cpu_s / median.pages * 1000,
        "simulator_cpu_s": median.simulator_cpu_s,
        "simulator_cpu_ms_per_page": median.simulator_cpu_s / median.pages * 1000,
        "load_cpu_s": median.load_cpu_s,
        "peak_rss_mib": max(run.peak_rss_mib for run in concurrent),
        "requests": median.requests,
        "retries": sum(run.retries for run in [*concurrent, sequential]),
        "reads": median.reads,
        "rows_landed": first.rows_landed,
        "rows_differing_from_simulator": differing,
    }
    report(
        "fetch",
        f"Fetch + land one day: {first.records:,} records, {first.pages} pages, "
        f"{args.latency_ms:g} ms latency, concurrency {args.concurrency} (median of {len(concurrent)})",
        figures,
        [
            Target("landing / network bound", ratio, RATIO_TO_BOUND_TARGET, "x"),
            Target("speedup vs sequential", speedup, SPEEDUP_TARGET, "x", at_least=True),
            Target("rows differing from simulator", differing, 0, "rows"),
        ],
    )


if __name__ == "__main__":
    main()
