"""The one place that reads the pipeline's environment variables, validating each on load."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from laaffic_pipeline.api.client import DEFAULT_BASE_URL, MAX_PAGE_SIZE

DEFAULT_START_DATE = date(2026, 1, 1)


class SettingsError(ValueError):
    """A setting with a value the pipeline cannot use; the message names it and what is accepted."""


@dataclass(frozen=True)
class PipelineSettings:
    """Non-secret settings. The API key and secret are read by the resource through ``EnvVar``."""

    timezone: str = "UTC"
    start_date: date = DEFAULT_START_DATE
    duckdb_path: str = "data/laaffic.duckdb"
    duckdb_storage_version: str = "v1.0.0"
    duckdb_memory_limit: str = "1GB"  # DuckDB's own default is 80% of RAM: cap it so days stay bounded
    duckdb_lock_timeout_s: float = 300.0  # how long a write waits for another process's lock
    base_url: str = DEFAULT_BASE_URL
    page_size: int = MAX_PAGE_SIZE
    timeout_s: float = 30.0
    concurrency: int = 8
    requests_per_second: float | None = None
    lookback_days: int = 2
    max_flagged_share: float = 0.05  # above this share of rows with quality flags, a day's check warns
    retry_attempts: int = 6
    retry_initial_wait_s: float = 0.5
    retry_max_wait_s: float = 30.0
    max_reads: int = 5  # reads of a drifting window before the run fails instead of landing it
    step_retries: int = 2
    step_retry_delay_s: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, today: date | None = None) -> PipelineSettings:
        env = os.environ if env is None else env
        defaults = cls()

        def text(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        timezone = text("LAAFFIC_TIMEZONE", defaults.timezone)
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"LAAFFIC_TIMEZONE={timezone!r} is not a known IANA time zone; "
                "use a name such as 'UTC', 'Asia/Shanghai' or 'Europe/Berlin'"
            ) from None
        start_text = text("LAAFFIC_START_DATE", defaults.start_date.isoformat())
        try:
            start_date = date.fromisoformat(start_text)
        except ValueError:
            raise SettingsError(
                f"LAAFFIC_START_DATE={start_text!r} is not a date; use YYYY-MM-DD, e.g. 2026-01-01"
            ) from None
        today = today or datetime.now(zone).date()
        if start_date > today:
            raise SettingsError(
                f"LAAFFIC_START_DATE={start_text} is in the future (today is {today} in {timezone}); "
                "use a past date: partitions start there"
            )
        page_size = _number(env, "LAAFFIC_PAGE_SIZE", defaults.page_size, int, 1, MAX_PAGE_SIZE)
        base_url = _base_url(text("LAAFFIC_BASE_URL", defaults.base_url))
        rps_text = env.get("LAAFFIC_REQUESTS_PER_SECOND", "").strip()
        return cls(
            timezone=timezone,
            start_date=start_date,
            duckdb_path=text("LAAFFIC_DUCKDB_PATH", defaults.duckdb_path),
            duckdb_storage_version=text("LAAFFIC_DUCKDB_STORAGE_VERSION", defaults.duckdb_storage_version),
            duckdb_memory_limit=_memory_size(
                env, "LAAFFIC_DUCKDB_MEMORY_LIMIT", defaults.duckdb_memory_limit
            ),
            duckdb_lock_timeout_s=_number(
                env, "LAAFFIC_DUCKDB_LOCK_TIMEOUT_S", defaults.duckdb_lock_timeout_s, float, 0, 86_400
            ),
            base_url=base_url,
            page_size=page_size,
            timeout_s=_number(env, "LAAFFIC_TIMEOUT_S", defaults.timeout_s, float, 0.1, 600),
            concurrency=_number(env, "LAAFFIC_CONCURRENCY", defaults.concurrency, int, 1, 64),
            requests_per_second=(
                _number(env, "LAAFFIC_REQUESTS_PER_SECOND", 1.0, float, 0.01, 10_000) if rps_text else None
            ),
            lookback_days=_number(env, "LAAFFIC_LOOKBACK_DAYS", defaults.lookback_days, int, 0, 62),
            max_flagged_share=_number(
                env, "LAAFFIC_MAX_FLAGGED_SHARE", defaults.max_flagged_share, float, 0.0, 1.0
            ),
            retry_attempts=_number(env, "LAAFFIC_RETRY_ATTEMPTS", defaults.retry_attempts, int, 1, 20),
            retry_initial_wait_s=_number(
                env, "LAAFFIC_RETRY_INITIAL_WAIT_S", defaults.retry_initial_wait_s, float, 0, 60
            ),
            retry_max_wait_s=_number(
                env, "LAAFFIC_RETRY_MAX_WAIT_S", defaults.retry_max_wait_s, float, 0, 600
            ),
            max_reads=_number(env, "LAAFFIC_MAX_READS", defaults.max_reads, int, 2, 20),
            step_retries=_number(env, "LAAFFIC_STEP_RETRIES", defaults.step_retries, int, 0, 10),
            step_retry_delay_s=_number(
                env, "LAAFFIC_STEP_RETRY_DELAY_S", defaults.step_retry_delay_s, float, 0, 3600
            ),
        )


N = TypeVar("N", int, float)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _base_url(url: str) -> str:
    """The API URL, refused unless TLS protects the key and Sign (plain HTTP only to this machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url  # the local simulator
    raise SettingsError(
        f"LAAFFIC_BASE_URL={url!r} is not accepted; use an https:// URL such as {DEFAULT_BASE_URL} "
        "(plain http:// only to 127.0.0.1 or localhost, e.g. the simulator)"
    )


def _number(env: Mapping[str, str], name: str, default: N, kind: type[N], low: N, high: N) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a {kind.__name__}; accepted: {low} to {high}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw} is out of range; accepted: {low} to {high}")
    return value


def _memory_size(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", raw, flags=re.IGNORECASE):
        raise SettingsError(f"{name}={raw!r} is not a memory size; use e.g. 512MB, 1GB or 2GiB")
    return raw
