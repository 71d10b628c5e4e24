"""Resources: the Laaffic API client factory and the DuckDB warehouse, made from the settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from laaffic_pipeline.alerts.resource import ALERTS_RESOURCE_KEY, AlertResource
from laaffic_pipeline.api.auth import Credentials
from laaffic_pipeline.api.client import LaafficClient
from laaffic_pipeline.settings import ClientSettings, MartsSettings, PipelineSettings, WarehouseSettings
from laaffic_pipeline.warehouse.connection import connect_waiting

logger = logging.getLogger(__name__)


class LaafficApiResource(dg.ConfigurableResource):
    """Where and how to call Laaffic. Key and secret come from ``EnvVar`` so the UI shows only names."""

    api_key: str = Field(description="Laaffic API key (LAAFFIC_API_KEY).")
    api_secret: str = Field(repr=False, description="Laaffic API secret (LAAFFIC_API_SECRET); never logged.")
    client_settings: ClientSettings = Field(description="How the client calls the API (LAAFFIC_* settings).")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # An empty key or secret fails the run at start, naming the variable, before any request.
        Credentials(self.api_key, self.api_secret)

    def client(self, log: logging.Logger | Any = None) -> LaafficClient:
        # The step's settings, not the client's: how many reads, days at once, and which windows.
        step_settings = {
            "base_url",
            "max_reads",
            "days_in_flight",
            "sip_groups",
            "intraday_overlap_min",
            "final_lag_min",
        }
        options = self.client_settings.model_dump(exclude=step_settings)
        return LaafficClient(
            Credentials(self.api_key, self.api_secret), self.client_settings.base_url, log=log, **options
        )

    def describe(self) -> str:
        """The client's limits in one line, for the run log (no credentials)."""
        s = self.client_settings
        rate = f"{s.requests_per_second:g} requests/s" if s.requests_per_second else "no rate limit"
        return (
            f"page size {s.page_size}, up to {s.concurrency} requests at once, {rate}, at most "
            f"{s.retry_attempts} errors or {s.retry_deadline_s:g}s per page (backoff "
            f"{s.retry_initial_wait_s:g}s to {s.retry_max_wait_s:g}s), at most {s.max_reads} reads, "
            f"{s.days_in_flight} days at a time"
            + (f", each day one window per SIP group: {', '.join(s.sip_groups)}" if s.sip_groups else "")
        )


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file, waiting for the file lock instead of failing at once.

    Connect only to write: while the connection is open, nobody else can open the file. The step
    opens one ``session`` at its first write and closes it when it ends; analysts read the Parquet
    exports through their own file instead. ``get_connection`` waits up to
    ``LAAFFIC_DUCKDB_LOCK_TIMEOUT_S`` for another process's lock, logging who holds it, then raises
    ``WarehouseLockedError``; nothing is written meanwhile.
    """

    settings: WarehouseSettings = Field(
        default=WarehouseSettings(), description="The warehouse settings (LAAFFIC_DUCKDB_*): the lock wait."
    )

    @classmethod
    def from_settings(cls, settings: WarehouseSettings) -> WarehouseResource:
        """The resource for ``settings``: DuckDBResource's own fields are derived from them."""
        return cls(
            database=settings.duckdb_path,
            # Readable by the DuckDB 1.x tools analysts install (duckdb 2.x defaults to v2 storage).
            connection_config={
                "storage_compatibility_version": settings.duckdb_storage_version,
                "memory_limit": settings.duckdb_memory_limit,
                # Hand memory back to the system after each large step rather than keep it cached.
                "allocator_flush_threshold": "32MB",
            },
            settings=settings,
        )

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = connect_waiting(
            self.database,
            read_only=False,
            wait_s=self.settings.duckdb_lock_timeout_s,
            initial_wait_s=0.5,
            config={"custom_user_agent": "dagster", **self.connection_config},
            log=self._log(),
            advice=(
                "So nothing was written and the stored data is unchanged (LAAFFIC_DUCKDB_LOCK_TIMEOUT_S). "
                "Ask whoever runs that process to close their connection to the file, then re-run."
            ),
        )
        try:
            yield conn
        finally:
            conn.close()  # also on errors, so a failed write never keeps the file locked

    @contextmanager
    def session(
        self, prepare: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    ) -> Iterator[WarehouseSession]:
        """One connection for a step's many writes, opened at the first and closed on leaving;
        ``prepare`` runs on it once, when it opens, before any write."""
        session = WarehouseSession(self, prepare)
        try:
            yield session
        finally:
            session.close()

    def _log(self) -> Any:
        try:
            return self.get_resource_context().log or logger
        except Exception:  # used outside a Dagster run (a script, a test): no resource context
            return logger


class WarehouseSession:
    """A step's writes on one warehouse connection, opened by the first write and closed with the step.

    Nothing is locked while a run only fetches; once open, no write pays DuckDB's opening of the
    file and its checkpoint on closing (tens of ms a day of a range). Used by the step's thread
    alone. ``prepare`` runs once on the connection when it opens (the tables).
    """

    def __init__(
        self, resource: WarehouseResource, prepare: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    ) -> None:
        self._resource = resource
        self._prepare = prepare
        self._opened = ExitStack()
        self._conn: duckdb.DuckDBPyConnection | None = None

    @property
    def database(self) -> str:
        return self._resource.database

    @property
    def conn(self) -> duckdb.DuckDBPyConnection:
        """The connection, opened (waiting for the file lock like ``get_connection``) on first use."""
        if self._conn is None:
            conn = self._opened.enter_context(self._resource.get_connection())
            if self._prepare is not None:
                self._prepare(conn)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        self._opened.close()
        self._conn = None


class ClockResource(dg.ConfigurableResource):
    """What the step takes as "now": which days are final, how far today is read, the retention
    floor. The machine's clock unless ``at`` pins an instant (a test driving one clock for the
    pipeline and the simulator; re-running a refresh as of a moment)."""

    at: str = Field(
        default="",
        description="An ISO-8601 instant with its offset, e.g. 2026-12-02T13:00:00+00:00; empty: the "
        "machine's clock.",
    )

    def now(self) -> datetime:
        if not self.at:
            return datetime.now(UTC)
        try:
            moment = datetime.fromisoformat(self.at)
        except ValueError:
            moment = None
        if moment is None or moment.utcoffset() is None:
            raise dg.Failure(
                f"The clock resource's 'at' is {self.at!r}: use an ISO-8601 instant with its offset, "
                "e.g. 2026-12-02T13:00:00+00:00, or leave it empty for the machine's clock"
            )
        return moment.astimezone(UTC)


class MartsResource(dg.ConfigurableResource):
    """How the marts are built and judged; a run may override these in its config (launchpad)."""

    settings: MartsSettings = Field(
        default=MartsSettings(),
        description="LAAFFIC_COST_CURRENCY, LAAFFIC_MAX_FLAGGED_SHARE, LAAFFIC_ANOMALY_BAND, "
        "LAAFFIC_SPEND_RATE_BAND.",
    )


def _secret(name: str, env: Mapping[str, str]) -> str | dg.EnvVar:
    """An optional secret through ``EnvVar`` (the UI shows its name), or empty when it is not set."""
    return dg.EnvVar(name) if env.get(name) else ""


def pipeline_resources(settings: PipelineSettings, env: Mapping[str, str]) -> dict[str, Any]:
    """The run-time resources of ``settings``; ``env`` only tells which optional secrets are set."""
    return {
        "laaffic": LaafficApiResource(
            api_key=dg.EnvVar("LAAFFIC_API_KEY"),
            api_secret=dg.EnvVar("LAAFFIC_API_SECRET"),
            client_settings=settings.client,
        ),
        "duckdb": WarehouseResource.from_settings(settings.warehouse),
        "marts": MartsResource(settings=settings.marts),
        "clock": ClockResource(),
        ALERTS_RESOURCE_KEY: AlertResource(
            settings=settings.alerts,
            webhook_url=_secret("LAAFFIC_ALERT_WEBHOOK_URL", env),
            smtp_password=_secret("LAAFFIC_ALERT_SMTP_PASSWORD", env),
            api_secret=_secret("LAAFFIC_API_SECRET", env),
        ),
    }
