"""``SettableClock``: one clock a test moves by hand, read by the simulator and the code under test."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from laaffic_pipeline.simulator import SettableClock


def test_the_clock_stands_still_until_it_is_moved():
    clock = SettableClock(datetime(2026, 3, 9, 10, tzinfo=UTC))
    assert clock() == datetime(2026, 3, 9, 10, tzinfo=UTC).timestamp()
    time.sleep(0.01)
    assert clock.now() == datetime(2026, 3, 9, 10, tzinfo=UTC)


def test_set_and_advance_move_it_like_time_time():
    clock = SettableClock(1_773_050_400)
    clock.advance(timedelta(minutes=3))
    clock.advance(0.5)
    assert clock() == 1_773_050_400 + 180.5
    clock.set(datetime(2026, 3, 9, 10, tzinfo=timezone(timedelta(hours=8))))
    assert clock.now() == datetime(2026, 3, 9, 2, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert repr(clock) == "SettableClock(2026-03-09T02:00:00+00:00)"


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="zone-aware"):
        SettableClock(datetime(2026, 3, 9, 10))
    clock = SettableClock(0)
    with pytest.raises(ValueError, match="zone-aware"):
        clock.set(datetime(2026, 3, 9, 10))
