"""Daily partitions in the account's time zone: one partition = one local day = one API window.

Dagster owns the calendar: a partition's window is ``context.partition_time_window`` (or
``time_window_for_partition_key``), ``[00:00, next 00:00)`` local time, 23 or 25 hours on a DST
day. Nothing else in the pipeline derives a day's bounds.

Today is the last partition (``end_offset=1``): materialized before it is final, it is read up to
now and marked provisional (``defs/laaffic/reading.py``).

The list never moves at its start: its first day is recorded beside the warehouse the first time
the definitions load for it (``<warehouse>.first-partition``, a one-line text file), so the same
code, settings and warehouse give the same partitions whatever day they load; new days appear at
the end. On a fresh install that first day is the first one the API still served then, so a
first backfill of every partition asks only for days it could get. ``LAAFFIC_START_DATE`` moves
the start earlier (an older warehouse), never later than a day the record already names.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from laaffic_pipeline.api.window import QueryWindow, retention_floor
from laaffic_pipeline.defs.laaffic.reading import is_final_at
from laaffic_pipeline.settings import PipelineSettings, SettingsError, env_name

FIRST_PARTITION_SUFFIX = ".first-partition"


def query_window(time_window: dg.TimeWindow) -> QueryWindow:
    """The API window of a Dagster time window: its two ends, each with its own UTC offset."""
    return QueryWindow(time_window.start, time_window.end)


def first_servable_day(now: datetime, timezone: str) -> date:
    """The first local day whose whole window the API still serves at ``now`` (its start is at or
    after the retention floor)."""
    zone = ZoneInfo(timezone)
    floor = retention_floor(now)
    day = floor.astimezone(zone).date()
    return day if datetime.combine(day, time(0), zone) >= floor else day + timedelta(days=1)


def first_partition_record(settings: PipelineSettings) -> Path:
    """Where the warehouse's first partition is recorded: beside the warehouse file."""
    warehouse = Path(settings.warehouse.duckdb_path)
    return warehouse.with_name(warehouse.stem + FIRST_PARTITION_SUFFIX)


def read_first_partition(record: Path) -> date | None:
    """The day a record names (its last non-comment line), or None when there is no record."""
    try:
        lines = record.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    days = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    try:
        return date.fromisoformat(days[-1])
    except (IndexError, ValueError):
        raise SettingsError(
            f"{record} should hold the warehouse's first partition as YYYY-MM-DD; it holds "
            f"{days[-1] if days else 'nothing'!r}. Write the first day the warehouse holds, or delete "
            "the file to start at the first day the API serves now."
        ) from None


def write_first_partition(record: Path, day: date) -> None:
    """Record ``day`` atomically (a reader sees the old day or the new one, never half a file)."""
    record.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# The first daily partition of the warehouse beside this file, recorded by laaffic-pipeline\n"
        "# when its definitions first loaded, so the partition list never moves. LAAFFIC_START_DATE can\n"
        "# move it earlier. Edit it only to drop days before it that the warehouse does not hold.\n"
        f"{day.isoformat()}\n"
    )
    partial = record.with_name(f"{record.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(record)


def record_first_partition_at_most(record: Path, day: date) -> date:
    """Lower the record to ``day`` when it names a later day (or nothing); the day it names now.
    A day the warehouse holds (a restored one, say) so never stays out of the partition list."""
    return _lowered(record, read_first_partition(record), day)


def _lowered(record: Path, recorded: date | None, day: date) -> date:
    if recorded is None or day < recorded:
        write_first_partition(record, day)
        return day
    return recorded


def first_partition(settings: PipelineSettings, now: datetime) -> date:
    """The first partition: the earlier of ``LAAFFIC_START_DATE`` and the recorded day; with
    neither, the first day the API serves at ``now``. Recorded when it is new or earlier."""
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    if settings.start_date is not None and settings.start_date > today:
        raise SettingsError(
            f"{env_name('start_date')}='{settings.start_date}' is not accepted: it is after today "
            f"({today} in {settings.timezone}), and the first partition must be a day that has begun; "
            "use a past date YYYY-MM-DD"
        )
    record = first_partition_record(settings)
    recorded = read_first_partition(record)
    candidates = [day for day in (settings.start_date, recorded) if day is not None]
    first = min(candidates) if candidates else first_servable_day(now, settings.timezone)
    return _lowered(record, recorded, first)


def daily_partitions(settings: PipelineSettings, now: datetime | None = None) -> dg.DailyPartitionsDefinition:
    """The daily partitions of ``settings``' warehouse, from its first partition to today."""
    first = first_partition(settings, now or datetime.now(UTC))
    return dg.DailyPartitionsDefinition(
        start_date=first.isoformat(), timezone=settings.timezone, fmt="%Y-%m-%d", end_offset=1
    )


def final_day_keys(
    partitions: dg.DailyPartitionsDefinition, now: datetime, final_lag: timedelta
) -> list[str]:
    """The partitions whose read is final at ``now`` (their day ended ``final_lag`` ago: all but
    today, and but yesterday in the first ``final_lag`` after midnight), oldest first."""
    keys = partitions.get_partition_keys(current_time=now)
    while keys and not is_final_at(partitions.time_window_for_partition_key(keys[-1]).end, now, final_lag):
        keys.pop()
    return keys
