"""The deployment shape of several machines, as processes on this one (Kubernetes minus the containers).

- the code location as its own gRPC server (``dagster code-server start``), the only process given
  the API credentials, the warehouse path and the AWS variables; Dagster's default run launcher
  asks it to start each run worker, which inherits its environment;
- ``dagster-webserver`` for operators, a second one ``--read-only`` for viewers, and
  ``dagster-daemon run``, all reading the code server through a workspace file whose entry is
  ``grpc_server`` (``deploy/workspace.grpc.yaml`` with a free port), none of them given a secret
  of the API or of the bucket;
- Dagster's storage in PostgreSQL (``deploy/production/dagster.yaml``, ``tests/e2e/postgres.py``);
- an S3-compatible server (``tests/s3.py``) with the archive's bucket, for the archive's steps.

Every process listens on 127.0.0.1 only, and each runs in its own session so stopping it reaches
whatever it started (the code server's run workers included).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import yaml

from tests.e2e.dagster_dev import REPO_ROOT, DagsterDev, free_port
from tests.e2e.postgres import PostgresServer, running_postgres
from tests.s3 import S3Server, running_s3_server

BIN = Path(sys.executable).parent
PRODUCTION_PROFILE = REPO_ROOT / "deploy" / "production" / "dagster.yaml"
GRPC_WORKSPACE = REPO_ROOT / "deploy" / "workspace.grpc.yaml"
LOCATION = "laaffic_pipeline"
DB_NAME = "laaffic_dagster"
ARCHIVE_BUCKET = "laaffic-archive"
STARTUP_TIMEOUT_S = 90


@dataclass
class Deployment:
    root: Path
    home: Path
    postgres: PostgresServer
    s3: S3Server
    archive_url: str  # LAAFFIC_ARCHIVE_URL of the code server: a prefix of the S3 server's bucket
    warehouse: Path
    webserver: DagsterDev
    viewer: DagsterDev  # the read-only webserver
    logs: dict[str, Path]

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            parts.append(f"--- {name} (tail) ---\n" + "\n".join(text))
        return "\n".join(parts)


def base_env() -> dict[str, str]:
    """This process's environment without any ``LAAFFIC_*``, ``DAGSTER_*`` or ``AWS_*`` variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("LAAFFIC_", "DAGSTER_", "AWS_"))}


def write_workspace(path: Path, port: int) -> Path:
    """``deploy/workspace.grpc.yaml`` pointing at ``port``: the documented file, not a copy of it."""
    workspace = yaml.safe_load(GRPC_WORKSPACE.read_text())
    [entry] = workspace["load_from"]
    assert set(entry) == {"grpc_server"} and entry["grpc_server"]["host"] == "127.0.0.1", entry
    entry["grpc_server"]["port"] = port
    path.write_text(yaml.safe_dump(workspace))
    return path


def create_database(postgres: PostgresServer) -> None:
    conn = psycopg2.connect(**postgres.connection_args("postgres"))
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        conn.cursor().execute(f"CREATE DATABASE {DB_NAME}")
    finally:
        conn.close()


def start(command: list[str], env: Mapping[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    """``command`` in its own session (so it can be stopped with all it started), output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGTERM to the process's group, then SIGKILL to whatever of it is left."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout_s)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_for_code_server(process: subprocess.Popen, port: int, log: Path) -> None:
    """Until the gRPC server answers its health check and lists the code location's repository."""
    from dagster._grpc.client import DagsterGrpcClient  # what `dagster api grpc-health-check` uses

    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the code server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        with suppress(Exception):  # not listening yet, or still loading the code
            if client.health_check_query() == "SERVING" and "__repository__" in client.list_repositories():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no code server on port {port} in {STARTUP_TIMEOUT_S}s:\n{log.read_text()}")
        time.sleep(0.5)


@contextmanager
def running_deployment(root: Path, code_settings: Mapping[str, str]) -> Iterator[Deployment]:
    """PostgreSQL, an S3 server with a bucket, the code server (with ``code_settings``: the
    ``LAAFFIC_*`` variables, plus the S3 server's AWS variables and ``LAAFFIC_ARCHIVE_URL`` in the
    bucket), the webserver, the read-only webserver and the daemon, all on 127.0.0.1; everything
    stopped and deleted on exit."""
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION_PROFILE, home / "dagster.yaml")
    logs = {name: root / f"{name}.log" for name in ("code-server", "webserver", "viewer", "daemon", "s3")}
    with ExitStack() as stack:
        postgres = stack.enter_context(running_postgres())
        create_database(postgres)
        s3 = stack.enter_context(running_s3_server(logs["s3"]))
        s3.create_bucket(ARCHIVE_BUCKET)
        archive_url = f"s3://{ARCHIVE_BUCKET}/laaffic/raw"
        instance_env = {**base_env(), "DAGSTER_HOME": str(home), **postgres.env(DB_NAME)}
        # The schema first, once, so the processes below never race to create it; meanwhile the
        # code server loads the code (it needs no storage to start).
        migrate_log = root / "migrate.log"
        migrate = start([str(BIN / "dagster"), "instance", "migrate"], instance_env, migrate_log, root)
        code_port = free_port()
        code_server = start(
            [
                *(str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(code_port)),
                *("-m", "laaffic_pipeline.definitions", "--location-name", LOCATION),
            ],
            {**instance_env, **s3.env(root), "LAAFFIC_ARCHIVE_URL": archive_url, **code_settings},
            logs["code-server"],
            root,
        )
        stack.callback(stop, code_server)
        assert migrate.wait(timeout=120) == 0, migrate_log.read_text()
        wait_for_code_server(code_server, code_port, logs["code-server"])

        workspace = write_workspace(root / "workspace.yaml", code_port)
        daemon = start(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], instance_env, logs["daemon"], root
        )
        stack.callback(stop, daemon)
        webservers = []
        for name, extra in (("webserver", []), ("viewer", ["--read-only"])):
            port = free_port()
            command = [str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1"]
            process = start([*command, "-p", str(port), *extra], instance_env, logs[name], root)
            webservers.append(DagsterDev(process, f"http://127.0.0.1:{port}", logs[name]))
            stack.callback(webservers[-1].stop)
        for webserver in webservers:  # both start at once; each is ready once it shows the location
            webserver.wait_until_loaded(STARTUP_TIMEOUT_S)
        operators, viewers = webservers
        warehouse = Path(code_settings["LAAFFIC_DUCKDB_PATH"])
        yield Deployment(root, home, postgres, s3, archive_url, warehouse, operators, viewers, logs)
