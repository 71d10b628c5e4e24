"""Run one day through the pipeline in a process whose clock libfaketime pins (``run_day_at``).

A test of a literal day (a DST day, say) pins the clock a few days after it, so the day is a
partition the API serves whatever the real date: the simulator, the client and the pipeline in
that process all read the pinned clock. The child prints one JSON line with what it landed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import TEST_API_KEY, TEST_API_SECRET, require_binary


def run_day_at(instant: str, day: str, settings: dict[str, str], workdir: Path, records_per_day: int) -> dict:
    """Materialize ``day`` with the clock at ``instant`` (``YYYY-MM-DD HH:MM:SS`` UTC); its figures."""
    faketime = require_binary("faketime", "faketime")
    env = {
        key: value
        for key, value in os.environ.items()
        # The pinned clock replaces any faked one the suite runs under (libfaketime's preload too).
        if not key.startswith(("LAAFFIC_", "DAGSTER_", "FAKETIME", "LD_PRELOAD"))
    }
    env["TZ"] = "UTC"
    command = [faketime, "-f", f"@{instant}", sys.executable, "-m", "tests.defs.pinned_clock"]
    argument = json.dumps(
        {"day": day, "settings": settings, "workdir": str(workdir), "records": records_per_day}
    )
    done = subprocess.run(
        [*command, argument],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=Path(__file__).parents[2],
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1])


def _child(argument: dict[str, Any]) -> None:
    import duckdb
    from dagster import DagsterInstance

    from laaffic_pipeline.defs import build_definitions
    from laaffic_pipeline.settings import PipelineSettings, env_name
    from laaffic_pipeline.simulator import LaafficSimulator

    with LaafficSimulator(TEST_API_KEY, TEST_API_SECRET, records_per_day=argument["records"]) as simulator:
        database = Path(argument["workdir"]) / "laaffic.duckdb"
        env = {
            "LAAFFIC_API_KEY": TEST_API_KEY,
            "LAAFFIC_API_SECRET": TEST_API_SECRET,
            env_name("base_url"): simulator.base_url,
            env_name("duckdb_path"): str(database),
            env_name("step_retries"): "0",
            **{env_name(name): value for name, value in argument["settings"].items()},
        }
        os.environ.update(env)
        job = build_definitions(PipelineSettings.from_env(env), env).resolve_job_def("laaffic_daily")
        result = job.execute_in_process(
            partition_key=argument["day"], instance=DagsterInstance.ephemeral(), raise_on_error=False
        )
    materialization = next(
        event.event_specific_data.materialization
        for event in result.get_asset_materialization_events()
        if event.event_specific_data.materialization.asset_key.path == ["raw", "call_records"]
    )
    with duckdb.connect(str(database), read_only=True) as conn:
        records = [
            json.loads(row[0])
            for row in conn.execute(
                "SELECT record FROM raw.call_records WHERE partition_date = ? ORDER BY page, position",
                [argument["day"]],
            ).fetchall()
        ]
    print(
        json.dumps(
            {
                "success": result.success,
                "window": materialization.metadata["window"].value,
                "checks_passed": [c.passed for c in result.get_asset_check_evaluations()],
                "records": records,
            }
        )
    )


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
