"""The two Dagster instance profiles: local (``dagster.yaml``) and production (``deploy/production``).

Both must load as Dagster loads them (``DagsterInstance.get()`` from ``$DAGSTER_HOME/dagster.yaml``)
and agree on everything but where the history lives. The production profile against a real
PostgreSQL server: ``tests/e2e/test_postgres_instance.py``; here, without one, a stand-in server
on loopback records what the profile's connection sends (host, port, user, database, password).
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
import pytest
import yaml

from laaffic_pipeline.local_stack import prepare_dagster_home

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL = REPO_ROOT / "dagster.yaml"
PRODUCTION = REPO_ROOT / "deploy" / "production" / "dagster.yaml"
PRODUCTION_ONLY = {"storage", "run_monitoring"}
SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104  # libpq asks for these before the startup message


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        repeated = {key for key in keys if keys.count(key) > 1}
        if repeated:
            raise yaml.constructor.ConstructorError(None, None, f"repeated keys {repeated}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects


def test_the_profiles_differ_only_in_storage_and_run_monitoring():
    local, production = load(LOCAL), load(PRODUCTION)
    assert "storage" not in local, "local keeps Dagster's default: SQLite under DAGSTER_HOME"
    shared = {key: value for key, value in production.items() if key not in PRODUCTION_ONLY}
    assert local == shared, (
        "a section changed in dagster.yaml but not in deploy/production/dagster.yaml (or back): copy it"
    )
    assert production["run_monitoring"]["enabled"] is True


@dg.asset
def one():
    return 1


def test_the_local_profile_keeps_history_in_sqlite_under_dagster_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    home = prepare_dagster_home(tmp_path / "dagster_home", REPO_ROOT)
    assert (home / "dagster.yaml").resolve() == LOCAL.resolve()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert instance.root_directory == str(home)
        run_id = dg.materialize([one], instance=instance).run_id
        assert instance.get_run_by_id(run_id) is not None
    with sqlite3.connect(home / "history" / "runs.db") as runs:  # the run is in SQLite under the home
        assert runs.execute("SELECT run_id FROM runs").fetchall() == [(run_id,)]


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client closed")
        data += chunk
    return data


def _answer_one_connection(conn: socket.socket) -> dict[str, str]:
    """PostgreSQL's wire protocol up to the password: the startup fields, then a cleartext ask."""
    while True:
        (length,) = struct.unpack("!i", _read(conn, 4))
        body = _read(conn, length - 4)
        if struct.unpack("!i", body[:4])[0] in (SSL_REQUEST, GSSENC_REQUEST):
            conn.sendall(b"N")  # no encryption: go on in plain text
            continue
        fields = body[4:].split(b"\0")  # protocol version, then name\0value\0... \0
        received = {
            name.decode(): value.decode()
            for name, value in zip(fields[::2], fields[1::2], strict=False)
            if name
        }
        break
    conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
    tag, (length,) = _read(conn, 1), struct.unpack("!i", _read(conn, 4))
    assert tag == b"p"
    received["password"] = _read(conn, length - 4).rstrip(b"\0").decode()
    error = b"SFATAL\0C28P01\0Mstand-in server: no database here\0\0"
    conn.sendall(b"E" + struct.pack("!i", len(error) + 4) + error)
    return received


@contextmanager
def stand_in_postgres() -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A loopback port that answers like PostgreSQL until the password, then refuses the login."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    connections: list[dict[str, str]] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                with suppress(OSError, AssertionError):  # a client that gave up halfway
                    connections.append(_answer_one_connection(conn))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], connections
    finally:
        stop.set()
        thread.join()
        server.close()


def test_the_production_profile_reads_postgres_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    storage = load(PRODUCTION)["storage"]["postgres"]["postgres_db"]
    assert all(
        isinstance(value, dict) and set(value) == {"env"}
        for name, value in storage.items()
        if name != "scheme"
    ), "connection settings must come from the environment, never from the file"
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with stand_in_postgres() as (port, connections):
        values = {
            "DAGSTER_POSTGRES_HOST": "127.0.0.1",
            "DAGSTER_POSTGRES_PORT": str(port),
            "DAGSTER_POSTGRES_DB": "dagster",
            "DAGSTER_POSTGRES_USER": "laaffic",
            "DAGSTER_POSTGRES_PASSWORD": "from-a-secret-store",
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)

        # Dagster validates the profile against its schema, resolves the env vars and connects;
        # it retries a refused login with backoff, which need not be waited for here.
        with monkeypatch.context() as patch, pytest.raises(Exception) as refused:
            patch.setattr(time, "sleep", lambda seconds: None)
            dg.DagsterInstance.get()
        chain, error = [], refused.value
        while error is not None:
            chain.append(str(error))
            error = error.__cause__ or error.__context__
        assert "stand-in server: no database here" in "\n".join(chain)
        assert "psycopg2" in "\n".join(chain), "the profile's scheme picks the installed driver"

        monkeypatch.delenv("DAGSTER_POSTGRES_PASSWORD")  # a setting missing from the environment
        with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_POSTGRES_PASSWORD"):
            dg.DagsterInstance.get()

    assert connections, "the production profile never connected"
    assert {(c["user"], c["database"], c["password"]) for c in connections} == {
        ("laaffic", "dagster", "from-a-secret-store")
    }
