"""``dagster dev`` (webserver and daemon) as a real subprocess, driven over GraphQL like the UI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import httpx

from laaffic_pipeline.local_stack import dagster_dev_command
from tests.daemon import skip_under_libfaketime

REPO_ROOT = Path(__file__).resolve().parents[2]

T = TypeVar("T")

# The mutation the UI sends from "Materialize all" -> "Launch backfill" on the asset graph
# (ui-core/src/instance/backfill/BackfillUtils.tsx, LaunchAssetChoosePartitionsDialog.tsx).
LAUNCH_PARTITION_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PythonError { message stack }
  }
}
"""

BACKFILL = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      status
      error { message }
      runs(limit: 100) { runId status tags { key value } }
      assetBackfillData {
        assetBackfillStatuses {
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted
            numPartitionsMaterialized
            numPartitionsFailed
          }
        }
      }
    }
    ... on PythonError { message stack }
    ... on BackfillNotFoundError { message }
  }
}
"""

ASSETS_AND_CHECKS = """
query AssetsAndChecks {
  assetNodes {
    assetKey { path }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name } }
    }
  }
}
"""

CHECK_EXECUTIONS = """
query CheckExecutions($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 100) {
    runId
    status
    partition
    evaluation { success partition description }
  }
}
"""

LOCATIONS = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""

TERMINAL_BACKFILL_STATUSES = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, interval_s: float = 0.5) -> T:
    """Call ``probe`` until it returns something other than None; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


class DagsterDev:
    """A running ``dagster dev -w workspace.yaml`` on a loopback port, plus a GraphQL client."""

    def __init__(self, process: subprocess.Popen, url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path
        self.http = httpx.Client(base_url=url, timeout=30)

    @classmethod
    @contextmanager
    def running(
        cls,
        env: Mapping[str, str],
        log_path: Path,
        command: Sequence[str] | None = None,
        port: int | None = None,
        startup_timeout_s: float = 120,
    ) -> Iterator[DagsterDev]:
        """Start ``dagster dev -w workspace.yaml`` on a free port (or ``command``, serving the UI on
        ``port``) from the repository root, wait until the code location has loaded, and stop the
        whole process group (webserver, daemon, code server, run workers) on exit."""
        skip_under_libfaketime()  # its daemon would not run
        if command is None:
            port = free_port()
            command = dagster_dev_command(port)
        assert port is not None, "say which port the command serves the UI on"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stopping it reaches every child
            )
        dev = cls(process, f"http://127.0.0.1:{port}", log_path)
        try:
            dev.wait_until_loaded(startup_timeout_s)
            yield dev
        finally:
            dev.stop()

    def wait_until_loaded(self, timeout_s: float) -> None:
        def server_answers() -> bool | None:
            self._fail_if_exited()
            try:
                return self.http.get("/server_info").status_code == 200 or None
            except httpx.TransportError:
                return None

        def location_loaded() -> bool | None:
            self._fail_if_exited()
            entries = self.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
            if any(entry["loadStatus"] != "LOADED" for entry in entries) or not entries:
                return None
            errors = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
            failed = [error for error in errors if error["__typename"] == "PythonError"]
            assert not failed, f"code location failed to load: {failed}\n{self.log_tail()}"
            return True

        try:
            wait_for("the webserver to answer /server_info", server_answers, timeout_s)
            wait_for("the code location to load", location_loaded, timeout_s)
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{self.log_tail()}") from None

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post("/graphql", json={"query": query, "variables": dict(variables or {})})
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "--- dagster dev output (tail) ---\n" + "\n".join(text)

    def _fail_if_exited(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {self.process.returncode}\n{self.log_tail()}")

    def stop(self, timeout_s: float = 30) -> None:
        """SIGINT to the process group, as Ctrl-C in its terminal would; SIGKILL what is left."""
        self.http.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout_s)
        with suppress(ProcessLookupError):  # anything of the group still alive (a run worker) goes too
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
