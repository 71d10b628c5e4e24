"""Client-side pacing: a requests-per-second limit shared by every request of one client."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Spaces request starts at least ``1 / rate`` seconds apart (no bursts; ``None`` = unlimited).

    One event loop, one limiter: slots are handed out in call order, so concurrent page
    fetches share the budget fairly without a lock.
    """

    def __init__(self, requests_per_second: float | None):
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError(f"requests_per_second must be > 0 or None, got {requests_per_second}")
        self._interval = 0.0 if requests_per_second is None else 1.0 / requests_per_second
        self._next_slot = 0.0

    async def acquire(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)
