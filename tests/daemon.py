"""The Dagster CLI and daemon as subprocesses, on a temporary DAGSTER_HOME with the repo's dagster.yaml.

Runs are queued with ``dagster job backfill`` (one run per partition) and launched by
``dagster-daemon run``, which starts the run workers with its own environment: the ``LAAFFIC_*``
settings a run sees are those the daemon was started with.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from tests.conftest import TEST_API_KEY, TEST_API_SECRET

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def dagster_home(parent: Path) -> Path:
    """``parent/dagster_home`` holding a copy of the repo's dagster.yaml."""
    home = parent / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def isolated_env(home: Path, settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without its ``LAAFFIC_*``/``DAGSTER_*`` variables, then ``home``
    as DAGSTER_HOME and ``settings``."""
    kept = {
        name: value for name, value in os.environ.items() if not name.startswith(("LAAFFIC_", "DAGSTER_"))
    }
    return {**kept, "DAGSTER_HOME": str(home), **settings}


def pipeline_env(home: Path, base_url: str, warehouse: Path, settings: dict[str, str]) -> dict[str, str]:
    """``isolated_env`` for the pipeline against the simulator at ``base_url`` (the tests'
    credentials), writing ``warehouse``, with ``settings`` on top."""
    return isolated_env(
        home,
        {
            "LAAFFIC_API_KEY": TEST_API_KEY,
            "LAAFFIC_API_SECRET": TEST_API_SECRET,
            "LAAFFIC_BASE_URL": base_url,
            "LAAFFIC_DUCKDB_PATH": str(warehouse),
            **settings,
        },
    )


def queue_backfill(env: dict[str, str], partitions: Sequence[str]) -> None:
    """Queue a run of the daily job per partition; a daemon launches them."""
    queued = subprocess.run(
        [
            *(BIN / "dagster", "job", "backfill", "-j", DAILY_JOB_NAME),
            *("--partitions", ",".join(partitions), "-w", "workspace.yaml", "--noprompt"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert queued.returncode == 0, queued.stderr[-3000:]


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen:
    """``dagster-daemon run`` in its own session, its output in ``log``; end it with ``stop``."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [BIN / "dagster-daemon", "run", "-w", "workspace.yaml"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    """Stop the daemon and what it started (its own process group), politely first."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
