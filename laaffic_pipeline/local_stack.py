"""Run the pipeline locally against the embedded simulator: credentials, env, Dagster home."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from laaffic_pipeline.simulator import LaafficSimulator

DEMO_API_KEY = "demo-key"


def prepare_dagster_home(home: Path, project_root: Path) -> Path:
    """A persistent ``DAGSTER_HOME`` whose ``dagster.yaml`` is the repository's own (linked)."""
    home.mkdir(parents=True, exist_ok=True)
    config = project_root / "dagster.yaml"
    link = home / "dagster.yaml"
    if config.exists() and not link.exists():
        link.symlink_to(config.resolve())
    return home.resolve()


@contextmanager
def simulator_environment(
    records_per_day: int = 500, port: int = 0, seed: int = 7
) -> Iterator[LaafficSimulator]:
    """Start a simulator with a fresh random secret and point ``LAAFFIC_*`` at it while open.

    The secret exists only in this process's environment (and its children's), never on disk.
    """
    secret = secrets.token_urlsafe(24)
    names = ("LAAFFIC_API_KEY", "LAAFFIC_API_SECRET", "LAAFFIC_BASE_URL")
    saved = {name: os.environ.get(name) for name in names}
    simulator = LaafficSimulator(DEMO_API_KEY, secret, seed=seed, records_per_day=records_per_day)
    simulator.start(port=port)
    with simulator:
        os.environ.update(
            {
                "LAAFFIC_API_KEY": DEMO_API_KEY,
                "LAAFFIC_API_SECRET": secret,
                "LAAFFIC_BASE_URL": simulator.base_url,
            }
        )
        try:
            yield simulator
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def dagster_dev_command(port: int) -> list[str]:
    """``dg dev`` (webserver and daemon) on this project, serving the UI on loopback."""
    dg = str(Path(sys.executable).with_name("dg"))
    return [dg, "dev", "--host", "127.0.0.1", "--port", str(port)]


def run_dev(ui_port: int = 3000, simulator_port: int = 8765, records_per_day: int = 500) -> int:
    """The simulator plus ``dagster dev`` (webserver and daemon) until Ctrl-C."""
    home = prepare_dagster_home(Path(os.environ.get("DAGSTER_HOME", ".dagster_home")), Path.cwd())
    with simulator_environment(records_per_day=records_per_day, port=simulator_port) as simulator:
        print(f"Laaffic simulator on {simulator.base_url}; Dagster home {home}", flush=True)
        process = subprocess.Popen(
            dagster_dev_command(ui_port), env={**os.environ, "DAGSTER_HOME": str(home)}
        )
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.terminate()
            return process.wait()
