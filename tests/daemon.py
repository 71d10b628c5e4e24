"""The Dagster CLI and daemon as subprocesses, on a temporary DAGSTER_HOME with the repo's dagster.yaml.

Runs are queued with ``dagster job backfill`` (one run per partition) and launched by
``dagster-daemon run``, which starts the run workers with its own environment: the ``LAAFFIC_*``
settings a run sees are those the daemon was started with.

Each command runs in a process group of its own, which is killed when the test is done with it:
a Dagster CLI starts a code server that outlives it for a moment (and, under libfaketime, for
ever), and a test must leave nothing running behind it.

Under libfaketime (``faketime -f +37d pytest ...``) the daemon does not run at all, so a test that
needs it is skipped there, saying why (``skip_under_libfaketime``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import pytest

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from tests.conftest import TEST_API_KEY, TEST_API_SECRET

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FAKETIME_STOPS_THE_DAEMON = (
    "the Dagster daemon cannot run under libfaketime: CPython waits with a timeout (Event.wait, "
    "Lock.acquire) through sem_clockwait on CLOCK_MONOTONIC, a clock libfaketime 0.9.10 fakes "
    "without intercepting sem_clockwait, so each such wait of the daemon's threads never ends"
)


def skip_under_libfaketime() -> None:
    """Skip the test when this process runs under libfaketime (its processes would too)."""
    if "faketime" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip(FAKETIME_STOPS_THE_DAEMON)


def dagster_home(parent: Path) -> Path:
    """``parent/dagster_home`` holding a copy of the repo's dagster.yaml."""
    home = parent / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def isolated_env(home: Path, settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without its ``LAAFFIC_*``/``DAGSTER_*`` variables, then ``home``
    as DAGSTER_HOME and ``settings``. The intra-day refresh is off unless ``settings`` turn it on:
    a test counting the daemon's runs sees only those it launched."""
    kept = {
        name: value for name, value in os.environ.items() if not name.startswith(("LAAFFIC_", "DAGSTER_"))
    }
    return {**kept, "DAGSTER_HOME": str(home), "LAAFFIC_INTRADAY_REFRESH": "false", **settings}


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


def run_cli(
    command: Sequence[str | Path], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a Dagster command line to its end, in the repository, and return what it printed (text).

    Its output goes to files, not pipes: the code server it starts inherits them, and pipes would
    keep the caller waiting until that server ends too (under libfaketime it never does). Whatever
    the command leaves running in its process group is killed once it has exited or timed out.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=err, text=True, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=timeout)
        finally:
            with suppress(ProcessLookupError):  # nothing left: the code server ended by itself
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, returncode, out.read(), err.read())


def queue_backfill(env: dict[str, str], partitions: Sequence[str]) -> None:
    """Queue a run of the daily job per partition; a daemon launches them."""
    queued = run_cli(
        [
            *(BIN / "dagster", "job", "backfill", "-j", DAILY_JOB_NAME),
            *("--partitions", ",".join(partitions), "-w", "workspace.yaml", "--noprompt"),
        ],
        env,
        timeout=120,
    )
    assert queued.returncode == 0, queued.stderr[-3000:]


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen:
    """``dagster-daemon run`` in its own session, its output in ``log``; end it with ``stop``."""
    skip_under_libfaketime()
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
    """Stop the daemon and what it started (its own process group), politely first; then SIGKILL
    whatever of the group is left (a code server still shutting down)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
