"""A partition's API window is Dagster's time window, written out literally here (DST days too)."""

import pytest

from laaffic_pipeline.defs.partitions import query_window
from tests.defs.pipeline import load_definitions, set_pipeline_env


@pytest.mark.parametrize(
    ("timezone", "day", "str_time", "end_time", "hours"),
    [
        ("Europe/Berlin", "2026-03-29", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23),
        ("Europe/Berlin", "2026-10-25", "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25),
        ("America/New_York", "2026-03-08", "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 23),
        ("America/New_York", "2026-11-01", "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 25),
        ("Asia/Kolkata", "2026-06-01", "2026-06-01T00:00:00+05:30", "2026-06-02T00:00:00+05:30", 24),
        ("UTC", "2026-06-01", "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", 24),
    ],
)
def test_partition_window_is_the_local_day_in_the_configured_zone(
    monkeypatch, timezone, day, str_time, end_time, hours
):
    set_pipeline_env(monkeypatch, {"timezone": timezone})
    partitions_def = load_definitions().resolve_job_def("laaffic_daily").partitions_def
    window = query_window(partitions_def.time_window_for_partition_key(day))
    assert (window.str_time, window.end_time) == (str_time, end_time)
    assert window.duration.total_seconds() == hours * 3600
