"""The in-process ranged step of two checkouts, alternately (ABAB...), against one simulator.

    .venv/bin/python benchmarks/bench_step.py --other /work/wt-old            # 2 rounds
    .venv/bin/python benchmarks/bench_step.py --other /work/wt-old --rounds 3 --py-spy /tmp/prof

Each tree (this checkout and ``--other``, each with its own ``.venv``) runs the 30-day range as
``bench_backfill.py``'s ``dg-launch`` mode does: one ranged run inside the CLI's process, a fresh
DAGSTER_HOME and warehouse, against one simulator in its own process. The trees alternate in
every round, so a neighbour's load falls on both. A figure is the step's seconds, from its
STEP_START to its STEP_SUCCESS event; every day landed is compared with the simulator's records.
The 1-minute load average is printed before each run. ``--py-spy FOLDER`` records each run's
process with this venv's ``py-spy`` into a file of collapsed stacks there (every thread, idle included).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import bench_backfill
from _common import Target, last_days, report, simulator_process, utc_day_window

THIS_TREE = Path(__file__).resolve().parents[1]
RATIO_TARGET = 1.10  # issue 18: the step within 10% of the code before its rebuild


def run_tree(
    tree: Path, simulator: Any, keys: list[str], folder: Path, profile: Path | None, timeout_s: float
) -> dict[str, Any]:
    """One ``dg-launch`` of ``keys`` with ``tree``'s code and venv."""
    bench_backfill.REPO_ROOT = tree
    bench_backfill.BIN = tree / ".venv" / "bin"
    original = bench_backfill.DagsterSetup.run_command
    if profile is not None:

        def profiled(self: Any, *command: str | Path) -> Any:
            spy = [
                Path(sys.executable).with_name("py-spy"),
                "record",
                "-s",
                "-r",
                "100",
                "--idle",
                "--threads",
                "-f",
                "raw",
            ]
            return original(self, *spy, "-o", profile, "--", *command)

        bench_backfill.DagsterSetup.run_command = profiled  # type: ignore[method-assign]
    try:
        return bench_backfill.run_mode("dg-launch", simulator, keys, folder, timeout_s)
    finally:
        bench_backfill.DagsterSetup.run_command = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--other", type=Path, required=True, help="the other checkout (its own .venv)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout-s", type=float, default=900)
    parser.add_argument("--py-spy", type=Path, help="a folder for one speedscope profile per run")
    parser.add_argument("--this-first", action="store_true", help="start each round with this tree")
    args = parser.parse_args()

    trees = {"this": THIS_TREE, "other": args.other.resolve()}
    order = ["this", "other"] if args.this_first else ["other", "this"]
    days = last_days(args.days)
    keys = [day.isoformat() for day in days]
    steps: dict[str, list[float]] = {name: [] for name in trees}
    loads: dict[str, list[float]] = {name: [] for name in trees}
    inexact: dict[str, int] = {name: 0 for name in trees}
    with (
        tempfile.TemporaryDirectory(prefix="bench-step-") as work,
        simulator_process(args.records, args.latency_ms, args.seed) as simulator,
    ):
        truth_simulator = simulator.truth()
        truth = {
            day: truth_simulator.records_for_window(*bench_backfill.literal_day_bounds(day)) for day in days
        }
        for day in days:
            simulator.warm_up(utc_day_window(day))
        print(f"{args.days} days x {args.records:,} calls, {args.latency_ms:g} ms; {trees}", flush=True)
        for round_number in range(1, args.rounds + 1):
            for name in order:
                folder = Path(work) / f"{name}-{round_number}"
                folder.mkdir()
                profile = None
                if args.py_spy is not None:
                    args.py_spy.mkdir(parents=True, exist_ok=True)
                    profile = args.py_spy / f"{name}-{round_number}.txt"
                load = os.getloadavg()[0]
                result = run_tree(trees[name], simulator, keys, folder, profile, args.timeout_s)
                wrong = bench_backfill.inexact_days(result["database"], days, truth)
                steps[name].append(result["step_s_sum"])
                loads[name].append(load)
                inexact[name] += len(wrong)
                print(
                    f"  round {round_number} {name:5}: step {result['step_s_sum']:.1f} s, run "
                    f"{result['run_s_mean']:.1f} s, {result['events']} events, "
                    f"{result['runs_succeeded']}/{result['runs']} run(s) succeeded, "
                    f"{len(wrong)} inexact day(s); load {load:.2f} before",
                    flush=True,
                )
    ratio = (sum(steps["this"]) / len(steps["this"])) / (sum(steps["other"]) / len(steps["other"]))
    report(
        "step",
        f"The in-process {args.days}-day step, this tree vs {trees['other']}, {args.rounds} ABAB round(s)",
        {
            "this_step_s": steps["this"],
            "other_step_s": steps["other"],
            "load_1min_before": loads,
            "inexact_days": inexact,
            "mean_ratio": ratio,
        },
        [Target("this tree's mean step / the other's", ratio, RATIO_TARGET, "x")],
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
