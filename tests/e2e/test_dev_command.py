"""``make dev`` = ``laaffic-pipeline dev``: the simulator plus ``dg dev`` with a kept DAGSTER_HOME,
a second shell beside it, and a stop that takes everything it started along."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import duckdb
import psutil

from laaffic_pipeline.simulator import LaafficSimulator
from tests.conftest import last_final_day
from tests.daemon import isolated_env
from tests.e2e.dagster_dev import REPO_ROOT, DagsterDev, free_port, wait_for

DEV = str(Path(sys.executable).with_name("laaffic-pipeline"))
RECORDS_PER_DAY = 40


def dev_command(port: int) -> list[str]:
    return [
        DEV,
        "dev",
        "--ui-port",
        str(port),
        "--simulator-port",
        "0",
        "--records-per-day",
        str(RECORDS_PER_DAY),
    ]


@contextmanager
def dev_running(tmp_path: Path) -> Iterator[tuple[DagsterDev, Path, dict[str, str]]]:
    """``laaffic-pipeline dev`` on free ports with its own DAGSTER_HOME and warehouse, loaded;
    yields it, the home and the environment it was started with. Anything of it left at the
    end (a failed stop) is killed, so a failing test leaks no server."""
    home = tmp_path / "dagster_home"  # `make dev` uses .dagster_home/ in the project
    env = isolated_env(home, {"LAAFFIC_DUCKDB_PATH": str(tmp_path / "laaffic.duckdb")})
    port = free_port()
    started: list[psutil.Process] = []
    try:
        with DagsterDev.running(env, tmp_path / "dev.log", command=dev_command(port), port=port) as dev:
            started.extend(psutil.Process(dev.process.pid).children(recursive=True))
            yield dev, home, env
    finally:
        for process in started:
            with suppress(psutil.NoSuchProcess):
                process.kill()


def running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``processes`` still running (an exited one waiting to be reaped has gone)."""
    alive = []
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
    return alive


def test_dev_serves_the_ui_against_its_simulator_with_the_repositorys_instance(tmp_path: Path):
    with dev_running(tmp_path) as (dev, home, _):
        # The code location loaded, so it found the simulator's LAAFFIC_* settings in its environment.
        nodes = dev.graphql("{ assetNodes { assetKey { path } } }")["assetNodes"]
        assert ["raw", "call_records"] in [node["assetKey"]["path"] for node in nodes]
        instance = dev.graphql("{ instance { info } }")["instance"]["info"]
        assert str(home) in instance

    assert (home / "dagster.yaml").resolve() == (REPO_ROOT / "dagster.yaml").resolve()
    assert (home / "history" / "runs.db").is_file()
    assert "Laaffic simulator on http://127.0.0.1:" in (tmp_path / "dev.log").read_text()


def test_sigterm_to_dev_stops_every_process_it_started_in_order(tmp_path: Path):
    with dev_running(tmp_path) as (dev, home, _):
        wrapper = psutil.Process(dev.process.pid)
        descendants = wrapper.children(recursive=True)
        names = " ".join(" ".join(process.cmdline()) for process in descendants)
        assert "dg dev" in names and "dagster_webserver" in names and "dagster._daemon" in names, names

        os.kill(wrapper.pid, signal.SIGTERM)  # the wrapper alone, as a service manager would
        left = wait_for(
            "every process `dev` started to exit",
            lambda: None if running([wrapper, *descendants]) else [],
            timeout_s=60,
            interval_s=0.2,
        )

        assert left == []
        # 0: `dg dev` stopped on the SIGINT passed on to it, not killed after the grace period.
        assert dev.process.wait(timeout=5) == 0, dev.log_tail()
        assert not (home / "dev.env").exists()  # its simulator is gone: so is the file naming it


def test_a_second_shell_that_sources_the_printed_file_launches_a_day_into_the_same_instance(tmp_path: Path):
    with dev_running(tmp_path) as (dev, home, env):
        printed = (tmp_path / "dev.log").read_text()
        (shown,) = re.findall(r"^  source (\S+)$", printed, re.MULTILINE)
        env_file = Path(shown) if Path(shown).is_absolute() else REPO_ROOT / shown
        assert env_file == home / "dev.env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        exported = dict(re.findall(r"^export (\w+)=(\S+)$", env_file.read_text(), re.MULTILINE))
        assert set(exported) == {"LAAFFIC_API_KEY", "LAAFFIC_API_SECRET", "LAAFFIC_BASE_URL", "DAGSTER_HOME"}
        assert exported["LAAFFIC_API_SECRET"] not in printed  # printed: where it is, never what

        # A shell with none of dev's variables: only the file, and the user's own warehouse setting.
        day = last_final_day().isoformat()
        second_shell = {
            **isolated_env(tmp_path / "elsewhere", {}),
            "LAAFFIC_DUCKDB_PATH": env["LAAFFIC_DUCKDB_PATH"],
        }
        second_shell.pop("DAGSTER_HOME")
        launched = subprocess.run(
            [
                "bash",
                "-c",
                f'source "{env_file}" && .venv/bin/dg launch --job laaffic_daily --partition {day}',
            ],
            cwd=REPO_ROOT,
            env=second_shell,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert launched.returncode == 0, launched.stderr[-3000:]

        runs = dev.graphql("{ runsOrError { ... on Runs { results { status tags { key value } } } } }")
        (run,) = runs["runsOrError"]["results"]  # in the UI's instance: the same DAGSTER_HOME
        assert run["status"] == "SUCCESS"
        assert {"key": "dagster/partition", "value": day} in run["tags"]

    # Against dev's simulator (seeded, so a simulator of the same seed holds the same calls).
    with duckdb.connect(env["LAAFFIC_DUCKDB_PATH"], read_only=True) as conn:
        landed = [
            json.loads(record)
            for (record,) in conn.execute(
                "SELECT record FROM raw.call_records WHERE partition_date = ? ORDER BY page, position", [day]
            ).fetchall()
        ]
    with LaafficSimulator("k", "s", records_per_day=RECORDS_PER_DAY) as truth:
        expected = truth.records_for_local_day(datetime.fromisoformat(day).date(), "UTC")
    assert landed == expected and len(landed) > 0


def test_the_dev_env_file_is_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", ".dagster_home/dev.env"], cwd=REPO_ROOT, timeout=30
    )
    assert ignored.returncode == 0


def test_a_bad_setting_stops_dev_before_anything_starts_with_one_line(tmp_path: Path):
    env = isolated_env(tmp_path / "dagster_home", {"LAAFFIC_LOOKBACK_DAYS": "-1"})
    started = time.monotonic()
    result = subprocess.run(
        dev_command(free_port()), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 2
    assert result.stderr == (
        "laaffic-pipeline dev: LAAFFIC_LOOKBACK_DAYS='-1' is not accepted: Input should be greater than "
        "or equal to 0; accepted: 0 to 62\n"
    )
    assert not (tmp_path / "dagster_home" / "dev.env").exists()
    assert time.monotonic() - started < 60  # it never waited for `dg dev`
