"""Load the real definitions against a test simulator and a DuckDB file in a temp folder.

The definitions read their settings from ``LAAFFIC_*`` variables when their modules are imported,
as Dagster loads them. ``load_definitions`` sets the variables and imports the ``defs`` modules
afresh, so each test gets definitions built from its own environment.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from laaffic_pipeline.settings import PipelineSettings, env_name, load_settings
from laaffic_pipeline.simulator import LaafficSimulator
from tests.conftest import TEST_API_KEY, TEST_API_SECRET

DAILY_JOB_NAME = "laaffic_daily"


def load_definitions() -> Definitions:
    """The code location as Dagster loads it, from the current environment."""
    load_settings.cache_clear()
    for name in list(sys.modules):
        if name == "laaffic_pipeline.definitions" or name.startswith("laaffic_pipeline.defs"):
            del sys.modules[name]
    from laaffic_pipeline.definitions import defs

    return defs()


@dataclass
class Pipeline:
    settings: PipelineSettings
    defs: Definitions
    instance: DagsterInstance

    @property
    def duckdb_path(self) -> str:
        return self.settings.warehouse.duckdb_path

    def run(self, partition_key: str, selection=None, run_config=None) -> ExecuteInProcessResult:
        return self.defs.resolve_job_def(DAILY_JOB_NAME).execute_in_process(
            partition_key=partition_key,
            instance=self.instance,
            asset_selection=selection,
            run_config=run_config,
            raise_on_error=False,
        )

    def query(self, sql: str, params=None) -> list[tuple]:
        with duckdb.connect(self.duckdb_path, read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()

    @staticmethod
    def materializations(result: ExecuteInProcessResult, asset_key) -> dict[str, object]:
        """The run's materialization of ``asset_key`` per partition (each day is recorded on its own)."""
        found = [
            event.event_specific_data.materialization for event in result.get_asset_materialization_events()
        ]
        return {m.partition: m for m in found if m.asset_key == asset_key}

    @staticmethod
    def checks(result: ExecuteInProcessResult) -> dict[tuple[str, str | None], object]:
        """The run's check evaluations by (check name, partition)."""
        return {(c.check_name, c.partition): c for c in result.get_asset_check_evaluations()}

    def run_range(self, first: str, last: str, selection=None, run_config=None) -> ExecuteInProcessResult:
        """One ranged run over ``first``..``last``, as a single-run backfill launches it."""
        return self.defs.resolve_job_def(DAILY_JOB_NAME).execute_in_process(
            instance=self.instance,
            asset_selection=selection,
            run_config=run_config,
            tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
            raise_on_error=False,
        )

    @staticmethod
    def failure_message(result: ExecuteInProcessResult) -> str:
        """Every message in the first failed step's error chain (retries wrap the real cause)."""
        error = result.get_step_failure_events()[0].event_specific_data.error
        messages = []
        while error is not None:
            messages.append(error.message)
            error = error.cause
        return "\n".join(messages)

    @property
    def partitions_def(self):
        return self.defs.resolve_job_def(DAILY_JOB_NAME).partitions_def

    @property
    def last_partition(self) -> str:
        key = self.partitions_def.get_last_partition_key()
        assert key is not None
        return key

    def build_last_days(self, days: int) -> list[str]:
        """Run the daily job for each of the last ``days`` partitions, oldest first; their keys."""
        keys = self.partitions_def.get_partition_keys()[-days:]
        for key in keys:
            assert self.run(key).success, key
        return keys


def set_pipeline_env(monkeypatch: pytest.MonkeyPatch, settings: dict[str, object]) -> None:
    """Only the given ``LAAFFIC_*`` settings (by field name), everything else at its default."""
    for name in list(__import__("os").environ):
        if name.startswith("LAAFFIC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LAAFFIC_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("LAAFFIC_API_SECRET", TEST_API_SECRET)
    for name, value in settings.items():
        monkeypatch.setenv(env_name(name), str(value))


def make_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, simulator: LaafficSimulator, **overrides
) -> Pipeline:
    set_pipeline_env(
        monkeypatch,
        {
            "base_url": simulator.base_url,
            "duckdb_path": tmp_path / "warehouse" / "laaffic.duckdb",
            "step_retries": 0,
            **overrides,
        },
    )
    defs = load_definitions()
    return Pipeline(load_settings(), defs, DagsterInstance.ephemeral())
