"""Dagster resources: the Laaffic API client factory and the DuckDB warehouse connection."""

from __future__ import annotations

import logging
from typing import Any

from dagster import ConfigurableResource, EnvVar
from dagster_duckdb import DuckDBResource
from pydantic import Field

from laaffic_pipeline.api.client import MAX_PAGE_SIZE, LaafficClient, RetrySettings
from laaffic_pipeline.api.signing import Credentials
from laaffic_pipeline.settings import PipelineSettings


class LaafficApiResource(ConfigurableResource):
    """Where and how to call Laaffic. Key and secret come from ``EnvVar`` so the UI shows only names."""

    api_key: str = Field(description="Laaffic API key (LAAFFIC_API_KEY).")
    api_secret: str = Field(description="Laaffic API secret (LAAFFIC_API_SECRET); never logged.")
    base_url: str = Field(description="API base URL ending in /v3/voice (LAAFFIC_BASE_URL).")
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Records per page.")
    timeout_s: float = Field(default=30.0, gt=0, description="Per-request timeout in seconds.")
    concurrency: int = Field(default=8, ge=1, le=64, description="Pages fetched at once.")
    requests_per_second: float | None = Field(default=None, gt=0, description="Client-side rate limit.")
    retry_attempts: int = Field(default=6, ge=1, le=20, description="Tries per request on transient faults.")
    retry_max_wait_s: float = Field(default=30.0, ge=0, description="Longest backoff between tries.")
    max_reads: int = Field(default=5, ge=2, le=20, description="Reads of a drifting window before giving up.")

    def client(self, log: logging.Logger | Any = None) -> LaafficClient:
        return LaafficClient(
            Credentials(self.api_key, self.api_secret),
            self.base_url,
            page_size=self.page_size,
            timeout_s=self.timeout_s,
            concurrency=self.concurrency,
            requests_per_second=self.requests_per_second,
            retry=RetrySettings(attempts=self.retry_attempts, max_wait_s=self.retry_max_wait_s),
            log=log,
        )


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
            retry_max_wait_s=settings.retry_max_wait_s,
        ),
        "duckdb": DuckDBResource(
            database=settings.duckdb_path,
            # Readable by the DuckDB 1.x tools analysts install (duckdb 2.x defaults to v2 storage).
            connection_config={"storage_compatibility_version": settings.duckdb_storage_version},
        ),
    }
