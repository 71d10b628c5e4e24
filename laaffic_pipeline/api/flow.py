"""Flow control for one client: a bound on requests in flight that a 429 lowers and success raises.

An HTTP 429 says the whole client is too fast, not that one page is broken: every request waits out
``Retry-After`` and the bound halves; it then grows back by one after each run of successes as
long as the bound (additive increase, multiplicative decrease, as TCP does). Waiters are served in
order and woken one at a time, so a day of thousands of queued pages costs O(1) per request.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class AdaptiveConcurrency:
    """At most ``limit`` requests at once, ``limit`` between 1 and ``ceiling``; one event loop."""

    def __init__(self, ceiling: int) -> None:
        if ceiling < 1:
            raise ValueError(f"concurrency must be >= 1, got {ceiling}")
        self.ceiling = ceiling
        self.limit = ceiling
        self._in_flight = 0
        self._successes = 0
        self._resume_at = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``limit`` slots, after any pause a 429 asked for."""
        await self._acquire()
        try:
            while (pause := self._resume_at - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            yield
        finally:
            self._in_flight -= 1
            self._wake()

    async def _acquire(self) -> None:
        if self._in_flight < self.limit and not self._waiters:
            self._in_flight += 1
            return
        granted = asyncio.get_running_loop().create_future()
        self._waiters.append(granted)
        try:
            await granted  # _wake counted this request in flight when it granted the slot
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # granted, then cancelled: give it back
                self._in_flight -= 1
                self._wake()
            raise

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self.limit:
            granted = self._waiters.popleft()
            if not granted.done():
                self._in_flight += 1
                granted.set_result(None)

    def succeeded(self) -> None:
        self._successes += 1
        if self.limit < self.ceiling and self._successes >= self.limit:
            self.limit += 1
            self._successes = 0
            self._wake()

    def throttled(self, retry_after_s: float) -> None:
        """A 429: halve the bound and hold every request back for ``retry_after_s``."""
        self.limit = max(1, self.limit // 2)
        self._successes = 0
        self._resume_at = max(self._resume_at, time.monotonic() + retry_after_s)
