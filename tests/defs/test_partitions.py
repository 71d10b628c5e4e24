from dataclasses import replace
from datetime import UTC

import pytest

from laaffic_pipeline.defs.partitions import daily_partitions, partition_window
from laaffic_pipeline.settings import PipelineSettings


@pytest.mark.parametrize(
    ("timezone", "day", "hours"),
    [
        ("Europe/Berlin", "2026-03-29", 23),
        ("Europe/Berlin", "2026-10-25", 25),
        ("America/New_York", "2026-11-01", 25),
        ("Asia/Shanghai", "2026-06-01", 24),
        ("UTC", "2026-06-01", 24),
    ],
)
def test_partition_window_is_exactly_dagsters_time_window(timezone, day, hours):
    partitions_def = daily_partitions(replace(PipelineSettings(), timezone=timezone))
    dagster_window = partitions_def.time_window_for_partition_key(day)
    window = partition_window(partitions_def, day)
    assert window.start.astimezone(UTC) == dagster_window.start.astimezone(UTC)
    assert window.end.astimezone(UTC) == dagster_window.end.astimezone(UTC)
    assert (window.end - window.start).total_seconds() == hours * 3600
    assert window.str_time.startswith(f"{day}T00:00:00")
