"""A throwaway PostgreSQL server on 127.0.0.1: ``initdb`` into a temp folder, ``pg_ctl`` start/stop.

PostgreSQL refuses to run as root, so under root (CI containers) the server runs as the
``postgres`` user that Debian's ``postgresql`` package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.dagster_dev import free_port


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def connection_args(self, db_name: str) -> dict[str, str | int]:
        """Keyword arguments for ``psycopg2.connect``."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": db_name,
        }

    def env(self, db_name: str) -> dict[str, str]:
        """The variables the production instance profile reads."""
        return {
            "DAGSTER_POSTGRES_HOST": self.host,
            "DAGSTER_POSTGRES_PORT": str(self.port),
            "DAGSTER_POSTGRES_USER": self.user,
            "DAGSTER_POSTGRES_PASSWORD": self.password,
            "DAGSTER_POSTGRES_DB": db_name,
        }


def postgres_bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: on PATH, or Debian's /usr/lib/postgresql/<major>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def why_postgres_cannot_run() -> str | None:
    """None when a server can be started here, else the reason (for ``pytest.skip``)."""
    if postgres_bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found; `apt-get install -y postgresql`"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


@contextmanager
def running_postgres(
    user: str = "dagster", password: str = "local-test-password"
) -> Iterator[PostgresServer]:
    """initdb (password auth over TCP), start on a free loopback port, stop and delete on exit."""
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, why_postgres_cannot_run()
    # Not under pytest's tmp folder: that is private to root, and the server may run as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="laaffic-postgres-"))
    owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    as_owner = ["runuser", "-u", "postgres", "--"] if owner else []
    data, log, password_file = root / "data", root / "server.log", root / "password"
    password_file.write_text(password)
    if owner:
        for path in (root, password_file):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_owner, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr}\n{server_log}")

    try:
        run(
            str(bin_dir / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            user,
            "--pwfile",
            str(password_file),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        # TCP on loopback only; the Unix socket goes into our folder, not /var/run/postgresql.
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
        run(
            str(bin_dir / "pg_ctl"),
            "--pgdata",
            str(data),
            "--log",
            str(log),
            "-o",
            options,
            "--wait",
            "start",
        )
        try:
            yield PostgresServer("127.0.0.1", port, user, password)
        finally:
            run(str(bin_dir / "pg_ctl"), "--pgdata", str(data), "--mode", "fast", "--wait", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
