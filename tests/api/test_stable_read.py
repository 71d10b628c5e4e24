import asyncio
import json
from datetime import date

import httpx
import pytest

from laaffic_pipeline.api.client import LaafficClient, MemorySink, RetrySettings
from laaffic_pipeline.api.signing import Credentials
from laaffic_pipeline.api.stable_read import UnstableWindowError, read_stable_window
from laaffic_pipeline.api.window import day_window
from tests.api.fake_api import make_records, page_response

WINDOW = day_window(date(2026, 11, 1), "UTC")


class DriftingApi:
    """Serves ``views[k]`` to the k-th request (the last view from then on), like a live table."""

    def __init__(self, views: list[list[dict]], reported_extra: int = 0, duplicate_on_page_2: bool = False):
        self.views = views
        self.reported_extra = reported_extra
        self.duplicate_on_page_2 = duplicate_on_page_2
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests += 1
        records = self.views[min(self.requests, len(self.views)) - 1]
        response = page_response(records, body["current"], body["size"], len(records) + self.reported_extra)
        if self.duplicate_on_page_2 and body["current"] == 2:
            payload = json.loads(response.content)
            payload["data"]["records"].insert(0, records[body["size"] - 1])  # page 1's last record again
            return httpx.Response(200, json=payload)
        return response


def read(api, max_reads=4):
    sinks: list[MemorySink] = []

    def new_sink(_read: int) -> MemorySink:
        sinks.append(MemorySink())
        return sinks[-1]

    async def go():
        client = LaafficClient(
            Credentials("k", "s"),
            "http://fake/v3/voice",
            page_size=10,
            transport=httpx.MockTransport(api),
            retry=RetrySettings(attempts=1),
        )
        async with client:
            return await read_stable_window(client, WINDOW, new_sink, max_reads=max_reads)

    return asyncio.run(go())


def test_consistent_window_is_read_once():
    result = read(DriftingApi([make_records(35)]))
    assert result.reads == 1
    assert result.sink.records == make_records(35)
    assert result.history == [[]]


def test_window_that_grew_while_paging_is_reread_until_it_holds_still():
    views = [make_records(35), make_records(38), make_records(40)]
    result = read(DriftingApi(views))
    assert result.reads == 2
    assert any("reported total changed while paging" in problem for problem in result.history[0])
    assert result.sink.records == make_records(40)


def test_api_whose_total_is_always_off_is_accepted_after_two_identical_reads():
    result = read(DriftingApi([make_records(12)], reported_extra=4))
    assert result.reads == 2
    assert result.summary.reported_total == 16
    assert result.summary.records_received == 12
    assert any("reported total 16" in problem for problem in result.history[0])


def test_duplicates_across_pages_are_detected_and_counted_once():
    result = read(DriftingApi([make_records(25)], duplicate_on_page_2=True))
    assert result.summary.records_received == 26
    assert result.summary.distinct_records == 25
    assert any("duplicate" in problem for problem in result.history[0])


def test_never_agreeing_reads_raise_with_the_figures():
    views = [make_records(n) for n in range(30, 60)]
    with pytest.raises(UnstableWindowError, match="did not hold still over 3 reads.*Nothing was stored"):
        read(DriftingApi(views), max_reads=3)
