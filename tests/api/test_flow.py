"""The client's flow control: a 429 halves the in-flight bound and pauses everyone; success grows it back."""

import asyncio
import time

from laaffic_pipeline.api.flow import AdaptiveConcurrency


def test_a_429_halves_the_bound_and_successes_raise_it_back_to_the_ceiling():
    flow = AdaptiveConcurrency(8)
    flow.throttled(0)
    assert flow.limit == 4
    flow.throttled(0)
    assert flow.limit == 2
    for _ in range(2):  # one full window of successes at 2 raises it to 3
        flow.succeeded()
    assert flow.limit == 3
    for _ in range(100):
        flow.succeeded()
    assert flow.limit == 8  # never above the ceiling


def test_never_more_requests_in_flight_than_the_bound():
    flow = AdaptiveConcurrency(3)
    in_flight = peak = 0

    async def request() -> None:
        nonlocal in_flight, peak
        async with flow.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            in_flight -= 1

    async def run() -> list[int]:
        nonlocal peak
        peaks = []
        await asyncio.gather(*(request() for _ in range(20)))
        peaks.append(peak)
        flow.throttled(0)  # bound 1 from now on
        peak = 0
        await asyncio.gather(*(request() for _ in range(5)))
        return [*peaks, peak]

    assert asyncio.run(run()) == [3, 1]


def test_a_429_holds_every_new_request_back_for_its_retry_after():
    flow = AdaptiveConcurrency(4)

    async def run() -> float:
        flow.throttled(0.2)
        started = time.monotonic()
        async with flow.slot():
            return time.monotonic() - started

    assert asyncio.run(run()) >= 0.2  # a lower bound: it waited at least Retry-After


def test_queued_requests_are_served_in_the_order_they_asked_even_thousands_of_them():
    flow = AdaptiveConcurrency(2)
    served: list[int] = []

    async def request(number: int) -> None:
        async with flow.slot():
            served.append(number)
            await asyncio.sleep(0)

    async def run() -> None:
        await asyncio.gather(*(request(n) for n in range(5000)))

    asyncio.run(run())
    assert served == list(range(5000))
