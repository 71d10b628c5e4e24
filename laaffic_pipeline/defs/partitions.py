"""Daily partitions in the account's time zone: one partition = one local day = one API window."""

from __future__ import annotations

from datetime import date

from dagster import DailyPartitionsDefinition

from laaffic_pipeline.api.window import QueryWindow, day_window
from laaffic_pipeline.settings import PipelineSettings


def daily_partitions(settings: PipelineSettings) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(), timezone=settings.timezone, fmt="%Y-%m-%d"
    )


def partition_window(partitions_def: DailyPartitionsDefinition, partition_key: str) -> QueryWindow:
    """The window a partition requests: its local day, ``[00:00, next 00:00)``, offsets at each end."""
    return day_window(date.fromisoformat(partition_key), partitions_def.timezone)
