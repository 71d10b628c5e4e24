"""The page-count check on the API document's own response example: total 5, one record."""

import asyncio
from datetime import date, datetime, timedelta, timezone

import duckdb
import httpx

from laaffic_pipeline.api.auth import Credentials
from laaffic_pipeline.api.client import LaafficClient
from laaffic_pipeline.api.stable_read import read_stable_window
from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.warehouse.consistency import page_count_problems
from laaffic_pipeline.warehouse.landing import replace_raw_partition
from laaffic_pipeline.warehouse.sql import query_rows
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead
from tests.warehouse.mart_inputs import DOC_SAMPLE_RECORD

DAY = date(2022, 1, 18)


def doc_response(total: int = 5) -> dict:
    """The document's response example; its ``total`` says 5 while it lists one record."""
    data = {"total": total, "size": 20, "current": 1, "pages": 1, "searchCount": True}
    return {"status": "0", "reason": "success", "data": {**data, "records": [DOC_SAMPLE_RECORD]}}


def land_doc_response(tmp_path, conn, total: int = 5) -> dict:
    client = LaafficClient(
        Credentials("bDqJFiq9", "secret"),
        "https://api.example.test/v3/voice",
        page_size=20,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=doc_response(total))),
        retry_attempts=1,
    )
    shanghai = timezone(timedelta(hours=8))
    window = QueryWindow(datetime(2022, 1, 18, tzinfo=shanghai), datetime(2022, 1, 19, tzinfo=shanghai))

    async def read():
        async with client:
            return await read_stable_window(client, window, lambda n: StagedNdjsonRead(tmp_path, n))

    result = asyncio.run(read())
    replace_raw_partition(conn, DAY, result.staged, window.str_time, window.end_time, result.reads)
    (figures,) = query_rows(conn, "page_count_consistency", {"partition_date": DAY})
    return figures


def test_the_doc_sample_response_lands_its_record_and_fails_the_page_check(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        figures = land_doc_response(tmp_path, conn)
    assert (figures["reported_total"], figures["records_landed"], figures["pages_fetched"]) == (5, 1, 1)
    assert page_count_problems(figures) == ["records landed 1 != reported total 5"]


def test_a_consistent_landing_passes_the_page_check(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        figures = land_doc_response(tmp_path, conn, total=1)
    assert page_count_problems(figures) == []
