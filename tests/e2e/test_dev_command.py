"""``make dev`` = ``laaffic-pipeline dev``: the simulator plus ``dagster dev`` with a kept DAGSTER_HOME."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.daemon import isolated_env
from tests.e2e.dagster_dev import REPO_ROOT, DagsterDev, free_port


def test_dev_serves_the_ui_against_its_simulator_with_the_repositorys_instance(tmp_path: Path):
    home = tmp_path / "dagster_home"  # `make dev` uses .dagster_home/ in the project
    env = isolated_env(home, {"LAAFFIC_DUCKDB_PATH": str(tmp_path / "laaffic.duckdb")})
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("laaffic-pipeline")),
        "dev",
        "--ui-port",
        str(port),
        "--simulator-port",
        "0",
    ]

    with DagsterDev.running(env, tmp_path / "dev.log", command=command, port=port) as dev:
        # The code location loaded, so it found the simulator's LAAFFIC_* settings in its environment.
        nodes = dev.graphql("{ assetNodes { assetKey { path } } }")["assetNodes"]
        assert ["raw", "call_records"] in [node["assetKey"]["path"] for node in nodes]
        instance = dev.graphql("{ instance { info } }")["instance"]["info"]
        assert str(home) in instance

    assert (home / "dagster.yaml").resolve() == (REPO_ROOT / "dagster.yaml").resolve()
    assert (home / "history" / "runs.db").is_file()
    assert "Laaffic simulator on http://127.0.0.1:" in (tmp_path / "dev.log").read_text()
