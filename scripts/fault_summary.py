"""Fault-injection summary: the daily job under each simulator fault, alone and combined.

    .venv/bin/python scripts/fault_summary.py     (or: make faults)

For every scenario of ``laaffic_pipeline.fault_drill`` it runs ``raw/call_records`` and its check
through Dagster against a fresh simulator over loopback HTTP into a fresh DuckDB file, then
prints one table row (requests sent, retries, reads of the window, records landed against the
simulator's own records, outcome, seconds) and finally one JSON line ``FAULTS {...}``.
Exits 1 if any scenario did not end as expected.
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

from laaffic_pipeline.fault_drill import RUN_FAILS, SCENARIOS, DrillResult, run_scenario

COLUMNS = ("fault", "requests", "retries", "reads", "landed", "expected", "exact?", "outcome", "seconds")


def row(result: DrillResult) -> tuple[str, ...]:
    if result.expect == RUN_FAILS:
        exact = "kept" if result.exact else "LOST"  # the day stored before the failed run
    else:
        exact = "yes" if result.exact else "NO"
    outcome = result.outcome + ("" if result.as_expected else " (UNEXPECTED)")
    return (
        result.scenario,
        str(result.requests),
        str(result.retries),
        str(result.reads),
        str(result.landed),
        str(result.expected),
        exact,
        outcome,
        f"{result.seconds:.2f}",
    )


def main() -> int:
    warnings.filterwarnings("ignore")  # Dagster's preview/beta notices would bury the table
    results = []
    with tempfile.TemporaryDirectory(prefix="fault-summary-") as workdir:
        for number, scenario in enumerate(SCENARIOS):
            results.append(run_scenario(scenario, Path(workdir) / str(number)))
            print(f"  ran {scenario.name}", file=sys.stderr, flush=True)
    rows = [COLUMNS, *map(row, results)]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(COLUMNS))]
    numeric = {1, 2, 3, 4, 5, 8}
    for index, cells in enumerate(rows):
        print(
            "  ".join(
                cell.rjust(width) if i in numeric else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
        if index == 0:
            print("  ".join("-" * width for width in widths))
    unexpected = [result.scenario for result in results if not result.as_expected]
    print(f"\n{len(results) - len(unexpected)}/{len(results)} scenarios ended as expected", end="")
    print(f"; unexpected: {', '.join(unexpected)}" if unexpected else "")
    summary = {
        "scenarios": [
            {key: value for key, value in result.to_dict().items() if key != "warnings"} for result in results
        ],
        "all_as_expected": not unexpected,
    }
    print("FAULTS " + json.dumps(summary, separators=(",", ":")))
    return 1 if unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())
