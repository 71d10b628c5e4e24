"""Build the real definitions against a test simulator and a DuckDB file in a temp folder."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from laaffic_pipeline.definitions import build_definitions
from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.settings import PipelineSettings
from laaffic_pipeline.simulator import LaafficSimulator
from tests.conftest import TEST_API_KEY, TEST_API_SECRET


@dataclass
class Pipeline:
    settings: PipelineSettings
    defs: Definitions
    instance: DagsterInstance

    def run(self, partition_key: str, selection=None, run_config=None) -> ExecuteInProcessResult:
        return self.defs.resolve_job_def(DAILY_JOB_NAME).execute_in_process(
            partition_key=partition_key,
            instance=self.instance,
            asset_selection=selection,
            run_config=run_config,
            raise_on_error=False,
        )

    def query(self, sql: str, params=None) -> list[tuple]:
        with duckdb.connect(self.settings.duckdb_path, read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()

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
    def last_partition(self) -> str:
        key = self.defs.resolve_job_def(DAILY_JOB_NAME).partitions_def.get_last_partition_key()
        assert key is not None
        return key

    def build_last_days(self, days: int) -> list[str]:
        """Run the daily job for each of the last ``days`` partitions, oldest first; their keys."""
        keys = self.defs.resolve_job_def(DAILY_JOB_NAME).partitions_def.get_partition_keys()[-days:]
        for key in keys:
            assert self.run(key).success, key
        return keys


def make_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, simulator: LaafficSimulator, **overrides
) -> Pipeline:
    monkeypatch.setenv("LAAFFIC_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("LAAFFIC_API_SECRET", TEST_API_SECRET)
    settings = replace(
        PipelineSettings.from_env({}),
        base_url=simulator.base_url,
        **{"duckdb_path": str(tmp_path / "warehouse" / "laaffic.duckdb"), "step_retries": 0, **overrides},
    )
    return Pipeline(settings, build_definitions(settings), DagsterInstance.ephemeral())
