"""The simulator's own reading of the API document: sign, time format, 31 days, two months."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from laaffic_pipeline.simulator.protocol import (
    MAX_WINDOW,
    expected_sign,
    format_time,
    parse_time,
    retention_floor,
)


def test_sign_is_md5_of_key_secret_and_timestamp():
    assert expected_sign("bDqJFiq9", "secret", "1630468800") == (
        hashlib.md5(b"bDqJFiq9secret1630468800").hexdigest()
    )
    assert expected_sign("K", "S", "1") != expected_sign("K", "S", "2")


@pytest.mark.parametrize(
    "text",
    [
        "2022-01-01T00:00:00+08:00",
        "2022-01-01T00:00:00-05:00",
        "2022-01-01T00:00:00Z",
        "2022-01-01T00:00:00.250+00:00",
    ],
)
def test_times_of_the_documented_shape_parse(text):
    moment = parse_time(text)
    assert moment.utcoffset() is not None


@pytest.mark.parametrize(
    "text",
    [
        "2022-01-01T00:00:00",  # no offset
        "2022-01-01 00:00:00+08:00",  # no T
        "2022-01-01",
        "2022-01-01T00:00+08:00",  # no seconds
        "2022-01-01T00:00:00+0800",
        "2022-02-30T00:00:00+08:00",  # no such day
        "last monday",
    ],
)
def test_other_times_are_refused(text):
    with pytest.raises(ValueError):
        parse_time(text)


def test_format_writes_seconds_and_offset():
    moment = datetime(2022, 2, 18, 0, 0, 0, 999, tzinfo=timezone(timedelta(hours=8)))
    assert format_time(moment) == "2022-02-18T00:00:00+08:00"
    with pytest.raises(ValueError):
        format_time(datetime(2022, 2, 18))


def test_the_window_limit_is_31_days():
    assert timedelta(days=31) == MAX_WINDOW


@pytest.mark.parametrize(
    ("now", "floor"),
    [
        ("2026-05-31T10:11:12+00:00", "2026-03-31T10:11:12+00:00"),
        ("2026-04-30T23:00:00+00:00", "2026-02-28T23:00:00+00:00"),  # clamped to February's end
        ("2028-04-30T23:00:00+00:00", "2028-02-29T23:00:00+00:00"),  # a leap year
        ("2026-01-15T00:00:00+00:00", "2025-11-15T00:00:00+00:00"),  # across a year
        ("2026-02-15T06:00:00+00:00", "2025-12-15T06:00:00+00:00"),
        ("2026-03-01T02:00:00+08:00", "2025-12-28T18:00:00+00:00"),  # taken in UTC (28 Feb 18:00)
    ],
)
def test_retention_floor_is_two_calendar_months_back_in_utc(now, floor):
    assert retention_floor(datetime.fromisoformat(now)) == datetime.fromisoformat(floor)
    assert retention_floor(datetime.fromisoformat(now)).tzinfo == UTC


def test_the_simulator_imports_nothing_from_the_pipeline():
    """A second reading of the API document shares no code with the client or the pipeline."""
    code = (
        "import sys, laaffic_pipeline.simulator\n"
        "print(sorted(m for m in sys.modules if m.startswith('laaffic_pipeline.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for package in ("api", "warehouse", "defs", "settings", "definitions"):
        assert f"'laaffic_pipeline.{package}" not in loaded, loaded
