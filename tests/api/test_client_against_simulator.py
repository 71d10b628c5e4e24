"""The real ``LaafficClient`` against the simulator over HTTP on 127.0.0.1: every documented status.

The simulator is a second reading of the API document (it shares no code with the client), so
each test checks what the client does with an answer the client did not write itself: the typed
error, its message (status and the advice of ``errors.py``), and how many requests reached the
server (counted in the simulator's ``request_log``, not by the client).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from laaffic_pipeline.api import errors
from laaffic_pipeline.api.auth import Credentials
from laaffic_pipeline.api.client import LaafficClient
from laaffic_pipeline.api.window import QueryWindow
from tests.conftest import TEST_API_KEY, TEST_API_SECRET

NO_WAIT = {"retry_initial_wait_s": 0, "retry_max_wait_s": 0, "retry_jitter_s": 0}


def recent_day() -> QueryWindow:
    """A whole UTC day three days ago: inside the two months the API keeps, whatever today is."""
    start = datetime.combine((datetime.now(UTC) - timedelta(days=3)).date(), datetime.min.time(), UTC)
    return QueryWindow(start, start + timedelta(days=1))


def fetch_first_page(simulator, window=None, credentials=None, **options):
    """Page 1 of ``window`` (default: a recent day) through a client built with ``options``."""

    async def fetch():
        async with LaafficClient(
            credentials or Credentials(TEST_API_KEY, TEST_API_SECRET),
            simulator.base_url,
            **{**NO_WAIT, **options},
        ) as client:
            return await client.fetch_page(window or recent_day(), 1)

    return asyncio.run(fetch())


def outcomes(simulator) -> list[str]:
    """What the simulator answered, request by request."""
    return [entry.outcome for entry in simulator.request_log]


def assert_explained(error: errors.LaafficApiError, error_type: type[errors.LaafficApiError], status: str):
    assert type(error) is error_type
    assert error.status == status
    assert f"status {status} ({error_type.meaning})" in str(error)
    assert error_type.advice in str(error)


def test_a_wrong_secret_is_an_authentication_error_sent_once(make_simulator):
    simulator = make_simulator()
    with pytest.raises(errors.AuthenticationError) as raised:
        fetch_first_page(simulator, credentials=Credentials(TEST_API_KEY, "not-the-secret"))
    assert_explained(raised.value, errors.AuthenticationError, "-1")
    assert "Sign does not match" in str(raised.value)  # the simulator's reason is quoted
    assert outcomes(simulator) == ["-1"]  # a wrong secret is not retried


def test_an_address_outside_the_allow_list_is_refused_with_ip_advice(make_simulator):
    simulator = make_simulator(allowed_ips=["10.20.30.40"])
    with pytest.raises(errors.IpRestrictedError) as raised:
        fetch_first_page(simulator)
    assert_explained(raised.value, errors.IpRestrictedError, "-2")
    assert "127.0.0.1" in str(raised.value)
    assert outcomes(simulator) == ["-2"]


def test_the_allow_list_lets_this_address_through(make_simulator):
    simulator = make_simulator(allowed_ips=["10.20.30.40", "127.0.0.1"])
    page = fetch_first_page(simulator)
    assert page.current == 1 and page.records
    assert outcomes(simulator) == ["0"]


def test_a_skewed_clock_is_re_signed_once_then_fails_with_timestamp_expired(make_simulator):
    simulator = make_simulator(timestamp_tolerance_s=300)
    with pytest.raises(errors.TimestampExpiredError) as raised:
        fetch_first_page(simulator, clock=lambda: time.time() - 3600, retry_attempts=6)
    assert_explained(raised.value, errors.TimestampExpiredError, "-16")
    # Exactly one fresh signature after the first refusal, although six attempts were allowed.
    assert outcomes(simulator) == ["-16", "-16"]


def test_a_one_off_skew_recovers_on_the_re_signed_request(make_simulator):
    simulator = make_simulator(timestamp_tolerance_s=300)
    readings = iter([time.time() - 3600])  # the first signature only, then the true time

    page = fetch_first_page(simulator, clock=lambda: next(readings, None) or time.time())

    assert page.current == 1 and page.records
    assert outcomes(simulator) == ["-16", "0"]


def test_status_18_every_time_gives_up_after_the_configured_attempts(make_simulator):
    simulator = make_simulator(status_18_rate=1.0)
    with pytest.raises(errors.ServerUnusualError) as raised:
        fetch_first_page(simulator, retry_attempts=3)
    assert_explained(raised.value, errors.ServerUnusualError, "-18")
    assert outcomes(simulator) == ["-18"] * 3


def test_status_18_now_and_then_is_retried_until_the_page_arrives(make_simulator):
    # With fault_seed 7 the simulator's draws answer -18 twice before a success (fixed sequence).
    simulator = make_simulator(status_18_rate=0.5, fault_seed=7)
    page = fetch_first_page(simulator, retry_attempts=6)
    assert page.records == simulator.records_for_window(recent_day().str_time, recent_day().end_time)[:100]
    assert outcomes(simulator) == ["-18", "-18", "0"]


class ReversedWindow(httpx.AsyncHTTPTransport):
    """Real HTTP, but the window's two ends swapped on the way out: a request the client itself
    never builds (it refuses such windows), so the API's -22 answer reaches the client's parser."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        params = body["params"]
        params["strTime"], params["endTime"] = params["endTime"], params["strTime"]
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
        swapped = httpx.Request(
            request.method, request.url, headers=headers, content=json.dumps(body).encode()
        )
        return await super().handle_async_request(swapped)


def test_a_window_the_api_refuses_is_a_parameter_error_not_retried(make_simulator):
    simulator = make_simulator()
    with pytest.raises(errors.ParameterError) as raised:
        fetch_first_page(simulator, transport=ReversedWindow())

    assert_explained(raised.value, errors.ParameterError, "-22")
    assert outcomes(simulator) == ["-22"]  # refused parameters are not retried


def test_a_window_past_retention_is_out_of_time_range(make_simulator):
    # fetch_page has no retention guard (the pipeline checks before it asks for a day), so this
    # reaches the API, as a clock-skewed or misconfigured caller would.
    simulator = make_simulator()
    start = datetime.combine((datetime.now(UTC) - timedelta(days=95)).date(), datetime.min.time(), UTC)
    with pytest.raises(errors.OutOfTimeRangeError) as raised:
        fetch_first_page(simulator, window=QueryWindow(start, start + timedelta(days=1)))
    assert_explained(raised.value, errors.OutOfTimeRangeError, "-25")
    assert "only the last two months" in str(raised.value)
    assert outcomes(simulator) == ["-25"]


class RetryAfterRecorder(httpx.AsyncHTTPTransport):
    """A real HTTP transport that also notes the ``Retry-After`` of every 429 it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.retry_after: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if response.status_code == 429:
            self.retry_after.append(response.headers.get("Retry-After"))
        return response


class PageList:
    def __init__(self) -> None:
        self.records: dict[int, list[dict]] = {}

    def write_page(self, number, fetched_at, page) -> None:
        self.records[number] = page.records


def test_after_each_429_the_next_request_arrives_no_sooner_than_retry_after(make_simulator):
    """Measured at the simulator: its request log has each request's arrival (monotonic clock).

    One request in flight at a time, so "the next request" is one the client sent after it had
    the 429 in hand; with several in flight, requests already on the wire would arrive early.
    """
    simulator = make_simulator(records_per_day=80, rate_limit_per_s=3)
    window = recent_day()
    transport = RetryAfterRecorder()
    pages = PageList()

    async def fetch() -> LaafficClient:
        # One attempt per page: had a 429 used up an attempt, the page (and this test) would fail.
        async with LaafficClient(
            Credentials(TEST_API_KEY, TEST_API_SECRET),
            simulator.base_url,
            page_size=10,
            concurrency=1,
            retry_attempts=1,
            transport=transport,
            **NO_WAIT,
        ) as client:
            await client.fetch_window(window, pages)
            return client

    client = asyncio.run(fetch())

    log = simulator.request_log
    throttled = [index for index, entry in enumerate(log) if entry.http_status == 429]
    assert throttled, "the rate limit never answered 429: the test measured nothing"
    assert len(transport.retry_after) == len(throttled)
    for index, retry_after in zip(throttled, transport.retry_after, strict=True):
        assert retry_after is not None, "the simulator's 429 carries Retry-After"
        gap = log[index + 1].arrived - log[index].arrived
        assert gap >= float(retry_after), f"request {index + 1} came {gap:.3f}s after a 429"
    assert client.counts.throttled == len(throttled)
    assert client.counts.retries == 0
    assert [entry.outcome for entry in log].count("0") == 8  # each of the 8 pages exactly once
    fetched = [record for number in sorted(pages.records) for record in pages.records[number]]
    assert fetched == simulator.records_for_window(window.str_time, window.end_time)


class PageFigures(PageList):
    """Each page's records and the total and page count it reported."""

    def __init__(self) -> None:
        super().__init__()
        self.reported: set[tuple[int, int]] = set()

    def write_page(self, number, fetched_at, page) -> None:
        super().write_page(number, fetched_at, page)
        self.reported.add((page.total, page.pages))

    def all_records(self) -> list[dict]:
        return [record for number in sorted(self.records) for record in self.records[number]]


def fetch_filtered(simulator, window: QueryWindow, **filters: str) -> PageFigures:
    pages = PageFigures()

    async def fetch() -> None:
        async with LaafficClient(
            Credentials(TEST_API_KEY, TEST_API_SECRET), simulator.base_url, page_size=20, **NO_WAIT
        ) as client:
            await client.fetch_window(window, pages, **filters)

    asyncio.run(fetch())
    return pages


def test_a_window_fetched_per_phone_group_gets_each_groups_records_and_together_all_of_them(make_simulator):
    simulator = make_simulator(records_per_day=150)
    window = recent_day()
    everything = simulator.records_for_window(window.str_time, window.end_time)
    groups = sorted({record["sipGroupName"] for record in everything})
    assert len(groups) > 1, "the simulator's day should span several phone groups"

    by_group = {group: fetch_filtered(simulator, window, sip_group_name=group) for group in groups}

    for group, pages in by_group.items():
        expected = [record for record in everything if record["sipGroupName"] == group]
        assert pages.all_records() == expected
        # The page-count figures are the filtered window's own: total and pages of that group alone.
        assert pages.reported == {(len(expected), -(-len(expected) // 20))}
    together = sorted(record["voiceId"] for pages in by_group.values() for record in pages.all_records())
    assert together == sorted(record["voiceId"] for record in everything)


def test_a_phone_filter_narrows_to_that_phone_and_an_unknown_group_to_nothing(make_simulator):
    simulator = make_simulator(records_per_day=150)
    window = recent_day()
    everything = simulator.records_for_window(window.str_time, window.end_time)
    group, phone = everything[0]["sipGroupName"], everything[0]["phoneName"]

    by_phone = fetch_filtered(simulator, window, sip_group_name=group, phone_name=phone)
    assert by_phone.all_records() == [r for r in everything if r["phoneName"] == phone]
    assert by_phone.all_records(), "the phone placed at least the first call"

    nobody = fetch_filtered(simulator, window, sip_group_name=group.upper())  # exact match only
    assert nobody.all_records() == []
    assert nobody.reported == {(0, 0)}
