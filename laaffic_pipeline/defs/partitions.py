"""Daily partitions in the account's time zone: one partition = one local day = one API window.

Dagster owns the calendar: a partition's window is ``context.partition_time_window`` (or
``daily_partitions.time_window_for_partition_key``), ``[00:00, next 00:00)`` local time, 23 or 25
hours on a DST day. Nothing else in the pipeline derives a day's bounds.
"""

import dagster as dg

from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.settings import load_settings

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=load_settings().first_day().isoformat(), timezone=load_settings().timezone, fmt="%Y-%m-%d"
)


def query_window(time_window: dg.TimeWindow) -> QueryWindow:
    """The API window of a Dagster time window: its two ends, each with its own UTC offset."""
    return QueryWindow(time_window.start, time_window.end)
