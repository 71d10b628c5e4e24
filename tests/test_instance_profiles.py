"""The two Dagster instance profiles: local (``dagster.yaml``) and production (``deploy/production``).

Both must load under Dagster's own schema and agree on everything but where the history lives.
The production profile against a real PostgreSQL server: ``tests/e2e/test_postgres_instance.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.storage.config import pg_config
from dagster._core.storage.runs import SqliteRunStorage
from dagster_postgres.utils import pg_url_from_config

from laaffic_pipeline.local_stack import prepare_dagster_home

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL = REPO_ROOT / "dagster.yaml"
PRODUCTION = REPO_ROOT / "deploy" / "production" / "dagster.yaml"
PRODUCTION_ONLY = {"storage", "run_monitoring"}


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


def test_the_local_profile_keeps_history_in_sqlite_under_dagster_home(tmp_path: Path):
    home = prepare_dagster_home(tmp_path / "dagster_home", REPO_ROOT)
    assert (home / "dagster.yaml").resolve() == LOCAL.resolve()
    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, SqliteRunStorage)
        assert instance.root_directory == str(home)
    assert (home / "history" / "runs.db").is_file()


def test_the_production_profile_reads_postgres_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION, home / "dagster.yaml")
    values = {
        "DAGSTER_POSTGRES_HOST": "db.internal",
        "DAGSTER_POSTGRES_PORT": "6432",
        "DAGSTER_POSTGRES_DB": "dagster",
        "DAGSTER_POSTGRES_USER": "laaffic",
        "DAGSTER_POSTGRES_PASSWORD": "from-a-secret-store",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    config, _ = dagster_instance_config(str(home))

    storage = config["storage"]["postgres"]
    assert all(
        isinstance(value, dict) for name, value in storage["postgres_db"].items() if name != "scheme"
    ), "connection settings must come from the environment, never from the file"
    resolved = process_config(pg_config(), storage)
    assert resolved.success, resolved.errors
    assert pg_url_from_config(resolved.value) == (
        "postgresql+psycopg2://laaffic:from-a-secret-store@db.internal:6432/dagster"
    )
    assert config["run_monitoring"]["enabled"] is True
