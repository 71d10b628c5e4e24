"""Dagster resources: the Laaffic API client factory and the DuckDB warehouse connection."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
from dagster import ConfigurableResource, EnvVar, InitResourceContext
from dagster_duckdb import DuckDBResource
from pydantic import Field
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay

from laaffic_pipeline.api.client import MAX_PAGE_SIZE, LaafficClient, RetrySettings
from laaffic_pipeline.api.signing import Credentials
from laaffic_pipeline.settings import PipelineSettings

logger = logging.getLogger(__name__)


class LaafficApiResource(ConfigurableResource):
    """Where and how to call Laaffic. Key and secret come from ``EnvVar`` so the UI shows only names."""

    api_key: str = Field(description="Laaffic API key (LAAFFIC_API_KEY).")
    api_secret: str = Field(repr=False, description="Laaffic API secret (LAAFFIC_API_SECRET); never logged.")
    base_url: str = Field(description="API base URL ending in /v3/voice (LAAFFIC_BASE_URL).")
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Records per page.")
    timeout_s: float = Field(default=30.0, gt=0, description="Per-request timeout in seconds.")
    concurrency: int = Field(default=8, ge=1, le=64, description="Pages fetched at once.")
    requests_per_second: float | None = Field(default=None, gt=0, description="Client-side rate limit.")
    retry_attempts: int = Field(default=6, ge=1, le=20, description="Tries per request on transient faults.")
    retry_initial_wait_s: float = Field(default=0.5, ge=0, description="First backoff between tries.")
    retry_max_wait_s: float = Field(default=30.0, ge=0, description="Longest backoff between tries.")
    max_reads: int = Field(default=5, ge=2, le=20, description="Reads of a drifting window before giving up.")

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # An empty key or secret fails the run at start, naming the variable, before any request.
        Credentials(self.api_key, self.api_secret)

    def client(self, log: logging.Logger | Any = None) -> LaafficClient:
        return LaafficClient(
            Credentials(self.api_key, self.api_secret),
            self.base_url,
            page_size=self.page_size,
            timeout_s=self.timeout_s,
            concurrency=self.concurrency,
            requests_per_second=self.requests_per_second,
            retry=RetrySettings(
                attempts=self.retry_attempts,
                initial_wait_s=self.retry_initial_wait_s,
                max_wait_s=self.retry_max_wait_s,
            ),
            log=log,
        )

    def describe(self) -> str:
        """The client's limits in one line, for the run log (no credentials)."""
        rate = f"{self.requests_per_second:g} requests/s" if self.requests_per_second else "no rate limit"
        return (
            f"page size {self.page_size}, {self.concurrency} requests at once, {rate}, "
            f"{self.retry_attempts} tries per request (backoff {self.retry_initial_wait_s:g}s "
            f"to {self.retry_max_wait_s:g}s), at most {self.max_reads} reads of the window"
        )


class WarehouseLockedError(RuntimeError):
    """Another process kept the DuckDB file locked for longer than the lock timeout."""


_LOCK_ERROR = "Could not set lock on file"
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<holder>.*?\(PID (?P<pid>\d+)\)(?: by user \S+)?)")


def _is_lock_error(error: BaseException) -> bool:
    return isinstance(error, duckdb.IOException) and _LOCK_ERROR in str(error)


def lock_holder(error: BaseException) -> str:
    """``"<program> (PID n)"`` from DuckDB's lock error, or a generic phrase if it names nobody."""
    found = _LOCK_HOLDER.search(str(error))
    return found.group("holder") if found else "another process"


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file, waiting for the file lock instead of failing at once.

    DuckDB lets one process open a file for writing, and any other open connection, even an
    analyst's read-only one, keeps writers out. ``get_connection`` retries the lock with
    exponential backoff for up to ``lock_timeout_s``, logging who holds it, then raises
    ``WarehouseLockedError``; nothing is written meanwhile. Connect only to write, and briefly.
    """

    lock_timeout_s: float = Field(
        default=300.0, ge=0, description="How long to wait for another process's lock on the file."
    )
    lock_initial_wait_s: float = Field(default=0.5, gt=0, description="First wait for the lock.")
    lock_max_wait_s: float = Field(default=15.0, gt=0, description="Longest single wait for the lock.")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()  # also on errors, so a failed write never keeps the file locked

    def _connect(self) -> duckdb.DuckDBPyConnection:
        config = {"custom_user_agent": "dagster", **self.connection_config}
        started = time.monotonic()
        try:
            for attempt in Retrying(
                stop=stop_after_delay(self.lock_timeout_s),
                wait=lambda state: self._wait(state, started),
                retry=retry_if_exception(_is_lock_error),
                before_sleep=self._log_wait,
                reraise=True,
            ):
                with attempt:
                    return duckdb.connect(self.database, read_only=False, config=config)
        except duckdb.IOException as error:
            if not _is_lock_error(error):
                raise
            holder = lock_holder(error)
            raise WarehouseLockedError(
                f"The warehouse {self.database} stayed locked by {holder} for "
                f"{time.monotonic() - started:.1f}s (limit {self.lock_timeout_s:g}s, "
                "LAAFFIC_DUCKDB_LOCK_TIMEOUT_S); nothing was written and the stored data is unchanged. "
                "Ask whoever runs that process to close their connection to the file, then re-run."
            ) from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _wait(self, state: RetryCallState, started: float) -> float:
        backoff = min(self.lock_initial_wait_s * 2 ** (state.attempt_number - 1), self.lock_max_wait_s)
        remaining = self.lock_timeout_s - (time.monotonic() - started)
        return max(0.0, min(backoff, remaining))  # the last try comes at the deadline, not after it

    def _log_wait(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        holder = lock_holder(error) if error else "another process"
        self._log().warning(
            f"The warehouse {self.database} is locked by {holder}. DuckDB lets one process at a time "
            "open the file, and even a read-only connection blocks writers: ask whoever runs that "
            f"process to close their connection to this file. Waiting {wait:.1f}s (try "
            f"{state.attempt_number}, waited {state.seconds_since_start:.1f}s of {self.lock_timeout_s:g}s)."
        )

    def _log(self) -> Any:
        try:
            return self.get_resource_context().log or logger
        except Exception:  # used outside a Dagster run (a script, a test): no resource context
            return logger


def build_resources(settings: PipelineSettings) -> dict[str, Any]:
    return {
        "laaffic": LaafficApiResource(
            api_key=EnvVar("LAAFFIC_API_KEY"),
            api_secret=EnvVar("LAAFFIC_API_SECRET"),
            base_url=settings.base_url,
            page_size=settings.page_size,
            timeout_s=settings.timeout_s,
            concurrency=settings.concurrency,
            requests_per_second=settings.requests_per_second,
            retry_attempts=settings.retry_attempts,
            retry_initial_wait_s=settings.retry_initial_wait_s,
            retry_max_wait_s=settings.retry_max_wait_s,
            max_reads=settings.max_reads,
        ),
        "duckdb": WarehouseResource(
            database=settings.duckdb_path,
            # Readable by the DuckDB 1.x tools analysts install (duckdb 2.x defaults to v2 storage).
            connection_config={
                "storage_compatibility_version": settings.duckdb_storage_version,
                "memory_limit": settings.duckdb_memory_limit,
            },
            lock_timeout_s=settings.duckdb_lock_timeout_s,
        ),
    }
