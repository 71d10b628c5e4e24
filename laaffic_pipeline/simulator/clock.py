"""``SettableClock``: a Unix-time clock a test moves by hand, shared by the simulator and the pipeline.

The simulator takes any ``clock`` returning Unix seconds (``time.time`` by default); pass one
``SettableClock`` to it and to the code under test and both live at the same instant, so a test can
say "it is 10:00 now", read, then move to 13:00 and read again::

    clock = SettableClock(datetime(2026, 3, 9, 10, tzinfo=UTC))
    simulator = LaafficSimulator(key, secret, clock=clock)
    ...  # the pipeline reads ``clock()`` or ``clock.now()`` for its own "now"
    clock.advance(timedelta(hours=3))

The clock stands still between moves, which makes a test exact (a signed request's Timestamp taken
from it is never stale). The subprocess simulator (``laaffic-pipeline simulate``) uses the real
clock; libfaketime shifts that one.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SettableClock:
    """Callable like ``time.time``; ``set``/``advance`` move it, ``now`` reads it as a datetime."""

    def __init__(self, start: datetime | float) -> None:
        self._lock = threading.Lock()  # the simulator's threads read while the test moves it
        self._now = _unix(start)

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def now(self) -> datetime:
        """The clock's instant as a UTC datetime."""
        return datetime.fromtimestamp(self(), UTC)

    def set(self, moment: datetime | float) -> None:
        """Jump to ``moment`` (a zone-aware datetime or Unix seconds), backwards too."""
        unix = _unix(moment)
        with self._lock:
            self._now = unix

    def advance(self, delta: timedelta | float) -> None:
        """Move forward by ``delta`` (a timedelta or seconds)."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        with self._lock:
            self._now += seconds

    def __repr__(self) -> str:
        return f"SettableClock({self.now().isoformat()})"


def _unix(moment: datetime | float) -> float:
    if isinstance(moment, datetime):
        if moment.utcoffset() is None:
            raise ValueError(f"a clock needs a zone-aware datetime, got {moment!r}")
        return moment.timestamp()
    return float(moment)
