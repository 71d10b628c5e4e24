"""Every setting of the pipeline, declared once: type, default, bounds and meaning on one field.

A field ``name`` is read from the environment variable ``LAAFFIC_<NAME>``. The client and warehouse
groups are Dagster ``Config`` classes, so the resources hold them as they are (the UI shows them)
instead of copying them field by field. A bad value fails at load, naming the variable and what
it accepts. The API key and secret are not here: the resource reads them through ``EnvVar``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from laaffic_pipeline.api.client import DEFAULT_BASE_URL, MAX_PAGE_SIZE
from laaffic_pipeline.warehouse.analytics import default_analytics_path
from laaffic_pipeline.warehouse.marts import check_cost_currency
from laaffic_pipeline.warehouse.staging import DEFAULT_MEMORY_LIMIT

ENV_PREFIX = "LAAFFIC_"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


class SettingsError(ValueError):
    """A setting with a value the pipeline cannot use; the message names it and what is accepted."""


class ClientSettings(dg.Config):
    """How the Laaffic client calls the API (the ``laaffic`` resource holds these as they are)."""

    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="API base URL ending in /v3/voice; https:// (plain http:// only to 127.0.0.1/localhost)",
    )
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="records per page")
    concurrency: int = Field(default=8, ge=1, le=64, description="pages fetched at once")
    requests_per_second: float | None = Field(
        default=None, gt=0, le=10_000, description="client-side rate limit (unset: unlimited)"
    )
    timeout_s: float = Field(default=30.0, ge=0.1, le=600, description="per-request timeout")
    retry_attempts: int = Field(
        default=12,
        ge=1,
        le=50,
        description="errors a page may meet before it fails (timeouts, resets, 5xx, status -18, non-JSON "
        "200); LAAFFIC_RETRY_DEADLINE_S bounds the time they take",
    )
    retry_initial_wait_s: float = Field(default=0.5, ge=0, le=60, description="first backoff between tries")
    retry_max_wait_s: float = Field(default=30.0, ge=0, le=600, description="longest backoff between tries")
    retry_deadline_s: float = Field(
        default=300.0, ge=1, le=3600, description="time budget of one page across all its tries"
    )
    days_in_flight: int = Field(
        default=4,
        ge=1,
        le=31,
        description="days of a range read from the API at once (they share the client)",
    )
    max_reads: int = Field(
        default=5, ge=2, le=20, description="reads of a window whose pages drift before the run fails"
    )
    intraday_overlap_min: int = Field(
        default=65,
        ge=0,
        le=1440,
        description="minutes before the last refresh's end that a refresh of a provisional day reads "
        "again: a call appears when it ends, under the time it was submitted",
    )
    final_lag_min: int = Field(
        default=65,
        ge=0,
        le=1380,
        description="minutes after a day ends before its read is final (calls still in progress at "
        "midnight have ended); before that a run merges what the API serves so far",
    )
    sip_groups: list[str] = Field(
        default=[],
        description="SIP group names, comma-separated: each day is read as one window per group "
        "(sipGroupName, exact match), the groups' reads landed together; empty: one window of every group",
    )

    @field_validator("sip_groups", mode="before")
    @classmethod
    def _group_names(cls, value: Any) -> Any:
        """Names as the API matches them (exactly), each once: a name read twice would land its
        records twice, and an empty one would mean "every group" inside a list of some."""
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
            return value  # pydantic says what the type should be
        names = [name.strip() for name in names]
        if "" in names:
            raise ValueError(
                "a SIP group name is empty; use comma-separated names such as 'sales,support' "
                "(unset or empty: every group in one window)"
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"SIP group name(s) {', '.join(map(repr, repeated))} listed more than once")
        return names

    @field_validator("base_url")
    @classmethod
    def _tls_or_loopback(cls, url: str) -> str:
        """Refused unless TLS protects the key and Sign (plain HTTP only to this machine)."""
        parts = urlsplit(url)
        if (parts.scheme == "https" and parts.hostname) or (
            parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        ):
            return url.rstrip("/")
        raise ValueError(
            f"use an https:// URL such as {DEFAULT_BASE_URL} "
            "(plain http:// only to 127.0.0.1 or localhost, e.g. the simulator)"
        )


class WarehouseSettings(dg.Config):
    """The DuckDB warehouse file and how the pipeline opens it (the ``duckdb`` resource holds these)."""

    duckdb_path: str = Field(default="data/laaffic.duckdb", description="warehouse file")
    duckdb_storage_version: str = Field(
        default="v1.0.0", description="storage version written, readable by DuckDB 1.x tools"
    )
    duckdb_memory_limit: str = Field(
        default=DEFAULT_MEMORY_LIMIT,
        description="DuckDB's memory cap while writing (its default is 80% of RAM); larger work spills",
    )
    duckdb_lock_timeout_s: float = Field(
        default=300.0, ge=0, le=86_400, description="how long a write waits for another process's lock"
    )

    analytics_path: str = Field(
        default="",
        description="the analysts' DuckDB file of views over the Parquet exports (empty: analytics.duckdb "
        "beside the warehouse)",
    )

    archive_url: str = Field(
        default="",
        description="where each landed day of raw is archived: a folder, or s3://bucket/prefix (AWS_* "
        "variables give the credentials); empty: archive/ beside the warehouse",
    )

    @property
    def analytics_file(self) -> Path:
        """The analysts' file: ``analytics_path``, or ``analytics.duckdb`` beside the warehouse."""
        return Path(self.analytics_path) if self.analytics_path else default_analytics_path(self.duckdb_path)

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        if not _MEMORY_SIZE.fullmatch(value):
            raise ValueError("not a memory size; use e.g. 512MB, 1GB or 2GiB")
        return value


class MartsSettings(dg.Config):
    """How the marts are built and judged (the ``marts`` resource holds these; a run may override them)."""

    cost_currency: str = Field(
        default="record",
        description="currency of cost and rate: 'record' (each record's own currency) or an ISO 4217 "
        "code such as USD (that currency whatever the record says)",
    )
    max_flagged_share: float = Field(
        default=0.05, ge=0, le=1, description="share of flagged rows in a day above which a check warns"
    )
    anomaly_band: float = Field(
        default=5.0,
        ge=0.5,
        le=100,
        description="robust deviations from the trailing 14 days that flag a day's cost",
    )
    spend_rate_band: float = Field(
        default=10.0,
        ge=0.5,
        le=100,
        description="robust deviations above the same hour of the trailing 14 days that flag the last "
        "hour's spend of a provisional day",
    )

    @field_validator("cost_currency")
    @classmethod
    def _known_cost_currency(cls, value: str) -> str:
        try:
            return check_cost_currency(value)
        except ValueError:
            raise ValueError(
                "use 'record' (each record's own currency) or an ISO 4217 upper-case code such as 'USD'"
            ) from None


class AlertSettings(dg.Config):
    """Where alerts go (the ``alerts`` resource holds these); the secrets come through ``EnvVar``.

    ``LAAFFIC_ALERT_WEBHOOK_URL`` and ``LAAFFIC_ALERT_SMTP_PASSWORD`` are secrets, read by the
    resource through ``EnvVar`` only when set.
    """

    dagster_ui_url: str = Field(default="", description="Dagster UI base URL, for links in alerts")
    alert_smtp_host: str = Field(default="", description="SMTP server for e-mail alerts (empty: no e-mail)")
    alert_smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port")
    alert_smtp_from: str = Field(default="", description="sender address of e-mail alerts")
    alert_smtp_to: str = Field(default="", description="recipients of e-mail alerts, comma-separated")
    alert_smtp_user: str = Field(default="", description="SMTP login (optional)")
    alert_smtp_starttls: bool = Field(default=True, description="STARTTLS before the SMTP login")
    alert_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="longest time one alert may take, all channels and retries"
    )


class PipelineSettings(BaseModel):
    """The whole configuration: partitions, schedule, checks and retries, plus the two groups above."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = Field(default="UTC", description="IANA zone of the daily partitions (DST days: 23/25 h)")
    start_date: date | None = Field(
        default=None,
        description="first partition (YYYY-MM-DD); unset: the first whole day the API kept when the "
        "definitions first loaded for this warehouse (recorded beside it, so the list never moves)",
    )
    schedule_cron: str = Field(
        default="0 2 * * *", description="when the nightly run starts, in the partitions' zone (cron)"
    )
    intraday_refresh: bool = Field(
        default=True,
        description="refresh today's partition on LAAFFIC_INTRADAY_CRON (false: only the nightly run)",
    )
    intraday_cron: str = Field(
        default="*/15 * * * *",
        description="when today's partition is refreshed, in the partitions' zone (cron)",
    )
    lookback_days: int = Field(
        default=2, ge=0, le=62, description="days before yesterday the nightly schedule re-fetches"
    )
    step_retries: int = Field(
        default=2, ge=0, le=10, description="Dagster re-runs of a fetch that outlived the client's retries"
    )
    step_retry_delay_s: float = Field(default=30.0, ge=0, le=3600, description="delay before such a re-run")
    client: ClientSettings = ClientSettings()
    marts: MartsSettings = MartsSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    alerts: AlertSettings = AlertSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "not a known IANA time zone; use a name such as 'UTC', 'Asia/Shanghai' or 'Europe/Berlin'"
            ) from None
        return name

    @field_validator("schedule_cron", "intraday_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        try:  # Dagster's own check of a schedule's cron string
            dg.ScheduleDefinition(name="cron_check", cron_schedule=value, job_name="cron_check")
        except dg.DagsterInvalidDefinitionError:
            raise ValueError("not a cron expression; use five fields such as '0 2 * * *'") from None
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PipelineSettings:
        """Settings from ``LAAFFIC_*`` variables (unset or empty: the default); fails naming the variable."""
        env = os.environ if env is None else env
        values = _values_from_env(cls, env)
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise SettingsError(_explain(error, env)) from None


def env_name(field_name: str) -> str:
    """The environment variable of a setting: ``page_size`` -> ``LAAFFIC_PAGE_SIZE``."""
    return ENV_PREFIX + field_name.upper()


def setting_fields(model: type[BaseModel] = PipelineSettings) -> dict[str, Any]:
    """Every leaf setting, ``{field name: pydantic FieldInfo}``, nested groups flattened."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            fields.update(setting_fields(nested))
        else:
            fields[name] = info
    return fields


def _values_from_env(model: type[BaseModel], env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            values[name] = _values_from_env(nested, env)
        elif raw := env.get(env_name(name), "").strip():
            values[name] = raw
    return values


def _explain(error: ValidationError, env: Mapping[str, str]) -> str:
    """One line per bad value: ``LAAFFIC_X='v' is not accepted: why; accepted: bounds``."""
    fields = setting_fields()
    lines = []
    for problem in error.errors():
        names = [part for part in problem["loc"] if isinstance(part, str) and part in fields]
        name = names[-1]
        raw = env.get(env_name(name), "").strip()
        why = problem["msg"].removeprefix("Value error, ")
        if date in (fields[name].annotation, *getattr(fields[name].annotation, "__args__", ())):
            why += "; use YYYY-MM-DD, e.g. 2026-01-01"
        lines.append(f"{env_name(name)}={raw!r} is not accepted: {why}{_accepted(fields[name])}")
    return "; ".join(lines)


def _accepted(info: Any) -> str:
    bounds = {}
    for rule in info.metadata:
        for key in ("ge", "gt", "le", "lt"):
            if getattr(rule, key, None) is not None:
                bounds[key] = getattr(rule, key)
    if not bounds:
        return ""
    low = bounds.get("ge", bounds.get("gt"))
    high = bounds.get("le", bounds.get("lt"))
    return f"; accepted: {low if 'ge' in bounds else f'more than {low}'} to {high}"
