"""Build the real definitions against a test simulator and a DuckDB file in a temp folder.

The definitions are built as the code location builds them (``build_definitions``), from settings
read from ``LAAFFIC_*`` values the test gives, never from the developer's shell; only the API key
and secret are set in the environment, where the resources' ``EnvVar`` reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from laaffic_pipeline.defs import build_definitions
from laaffic_pipeline.settings import PipelineSettings, env_name
from laaffic_pipeline.simulator import LaafficSimulator
from tests.conftest import TEST_API_KEY, TEST_API_SECRET, last_final_day

DAILY_JOB_NAME = "laaffic_daily"


def settings_env(settings: dict[str, object]) -> dict[str, str]:
    """``LAAFFIC_*`` variables for the given settings (by field name), with the test credentials."""
    return {
        "LAAFFIC_API_KEY": TEST_API_KEY,
        "LAAFFIC_API_SECRET": TEST_API_SECRET,
        **{env_name(name): str(value) for name, value in settings.items()},
    }


def load_definitions(env: dict[str, str] | None = None) -> Definitions:
    """The code location as Dagster builds it, from ``env`` (default: the current environment)."""
    env = dict(os.environ if env is None else env)
    return build_definitions(PipelineSettings.from_env(env), env)


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
    def complete_days(self) -> list[str]:
        """The partitions whose calls have all ended (read whole and final), oldest first: all but
        today, and but yesterday in the first 65 minutes after midnight."""
        last = last_final_day(self.settings.timezone).isoformat()
        return [key for key in self.partitions_def.get_partition_keys() if key <= last]

    @property
    def last_partition(self) -> str:
        """The last day whose calls have all ended: yesterday, at most hours after midnight."""
        return self.complete_days[-1]

    def build_last_days(self, days: int) -> list[str]:
        """Run the daily job for each of the last ``days`` complete days, oldest first; their keys."""
        keys = self.complete_days[-days:]
        for key in keys:
            assert self.run(key).success, key
        return keys


def set_pipeline_env(monkeypatch: pytest.MonkeyPatch, settings: dict[str, object]) -> dict[str, str]:
    """Only the given ``LAAFFIC_*`` settings (by field name) in the environment, everything else at
    its default; the variables, for ``load_definitions``."""
    for name in list(os.environ):
        if name.startswith("LAAFFIC_"):
            monkeypatch.delenv(name)
    env = settings_env(settings)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def make_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, simulator: LaafficSimulator, **overrides
) -> Pipeline:
    env = set_pipeline_env(
        monkeypatch,
        {
            "base_url": simulator.base_url,
            "duckdb_path": tmp_path / "warehouse" / "laaffic.duckdb",
            "step_retries": 0,
            **overrides,
        },
    )
    settings = PipelineSettings.from_env(env)
    return Pipeline(settings, build_definitions(settings, env), DagsterInstance.ephemeral())
