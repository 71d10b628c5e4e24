"""The re-read loop with the pipeline's own staged reads (NDJSON on disk, judged in DuckDB)."""

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from laaffic_pipeline.api.auth import Credentials
from laaffic_pipeline.api.client import LaafficClient
from laaffic_pipeline.api.stable_read import UnstableWindowError, read_stable_window
from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead
from tests.api.fake_api import make_records, page_response

WINDOW = QueryWindow(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))


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


def read(api, folder, max_reads=4):
    def new_read(number: int) -> StagedNdjsonRead:
        return StagedNdjsonRead(folder, number)

    async def go():
        client = LaafficClient(
            Credentials("k", "s"),
            "http://fake/v3/voice",
            page_size=10,
            transport=httpx.MockTransport(api),
            retry_attempts=1,
        )
        async with client:
            return await read_stable_window(client, WINDOW, new_read, max_reads=max_reads)

    return asyncio.run(go())


def staged_records(staged: StagedNdjsonRead) -> list[dict]:
    lines = [json.loads(line) for line in staged.records_path.read_text().splitlines()]
    return [line["record"] for line in sorted(lines, key=lambda line: (line["page"], line["position"]))]


def test_consistent_window_is_read_once(tmp_path):
    result = read(DriftingApi([make_records(35)]), tmp_path)
    assert result.reads == 1
    assert staged_records(result.staged) == make_records(35)
    assert result.history == [[]]


def test_window_that_grew_while_paging_is_reread_until_it_holds_still(tmp_path):
    views = [make_records(35), make_records(38), make_records(40)]
    result = read(DriftingApi(views), tmp_path)
    assert result.reads == 2
    assert any("different totals" in problem for problem in result.history[0])
    assert staged_records(result.staged) == make_records(40)


def test_api_whose_total_is_always_off_is_accepted_after_two_identical_reads(tmp_path):
    result = read(DriftingApi([make_records(12)], reported_extra=4), tmp_path)
    assert result.reads == 2
    assert result.staged.figures()["reported_total"] == 16
    assert result.staged.figures()["records_received"] == 12
    assert any("reported total 16" in problem for problem in result.history[0])


def test_duplicates_across_pages_are_detected(tmp_path):
    result = read(DriftingApi([make_records(25)], duplicate_on_page_2=True), tmp_path)
    figures = result.staged.figures()
    assert figures["records_received"] == 26
    assert figures["distinct_voice_ids"] == 25
    assert any("distinct voice ids 25" in problem for problem in result.history[0])


def test_reads_with_the_same_total_but_other_records_do_not_agree(tmp_path):
    # Same count and reported total each time, but one record replaced: not the same content.
    first = make_records(12)
    second = [*make_records(11), {"voiceId": "other", "cost": "0.01"}]
    # Two requests (pages) per read: read 1 sees the first view, reads 2 and 3 the second.
    result = read(DriftingApi([first, first, second], reported_extra=1), tmp_path)
    assert result.reads == 3
    assert staged_records(result.staged) == second


def test_reads_with_the_same_records_but_another_reported_total_do_not_agree(tmp_path):
    # The same 12 records every time, but the total the API reports moves from 13 to 14: reads 1
    # and 2 disagree on the total, so only read 3 (again 14) confirms read 2.
    records = make_records(12)
    reported_totals = [13, 13, 14]  # per request, two requests (pages) per read; the last from then on
    requests = []

    def api(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append(body)
        total = reported_totals[min(len(requests), len(reported_totals)) - 1]
        return page_response(records, body["current"], body["size"], total)

    result = read(api, tmp_path)
    assert result.reads == 3
    assert len(requests) == 6
    assert result.staged.figures()["reported_total"] == 14


def test_never_agreeing_reads_raise_with_the_figures(tmp_path):
    views = [make_records(n) for n in range(30, 60)]
    with pytest.raises(UnstableWindowError, match="did not hold still over 3 reads.*Nothing was stored"):
        read(DriftingApi(views), tmp_path, max_reads=3)
