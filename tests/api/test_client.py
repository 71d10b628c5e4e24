import asyncio
import email.utils
import json
import time
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from laaffic_pipeline.api import errors
from laaffic_pipeline.api.auth import Credentials, compute_sign
from laaffic_pipeline.api.client import (
    LaafficClient,
    _retry_after,
    build_body,
)
from laaffic_pipeline.api.window import QueryWindow
from tests.api.fake_api import FakeApi, make_records, status

SECRET = "s3cret-value-never-shown"
CREDENTIALS = Credentials("bDqJFiq9", SECRET)
SHANGHAI = timezone(timedelta(hours=8))
WINDOW = QueryWindow(datetime(2022, 2, 18, tzinfo=SHANGHAI), datetime(2022, 2, 19, tzinfo=SHANGHAI))
FAST_RETRY = {"retry_attempts": 4, "retry_initial_wait_s": 0, "retry_max_wait_s": 0, "retry_jitter_s": 0}


class ListSink:
    """Keeps each page's records by page number."""

    def __init__(self) -> None:
        self.pages: dict[int, list[dict]] = {}
        self.reported: dict[int, tuple[int, int]] = {}

    def write_page(self, number, fetched_at, page) -> None:
        self.pages[number] = page.records
        self.reported[number] = (page.total, page.pages)

    @property
    def records(self) -> list[dict]:
        return [record for number in sorted(self.pages) for record in self.pages[number]]


def run(coroutine):
    return asyncio.run(coroutine)


def client_for(api: FakeApi, **options) -> LaafficClient:
    options = {**FAST_RETRY, **options}
    return LaafficClient(CREDENTIALS, "https://api.example.test/v3/voice", transport=api.transport, **options)


async def fetch_page(api: FakeApi, current: int = 1, **options):
    async with client_for(api, **options) as client:
        return await client.fetch_page(WINDOW, current)


def test_request_is_signed_and_shaped_exactly_like_the_doc():
    api = FakeApi(make_records(3))
    run(fetch_page(api, clock=lambda: 1630468800))
    (request,) = api.requests
    assert str(request.url) == "https://api.example.test/v3/voice/recordSipQuery"
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert request.headers["Api-Key"] == "bDqJFiq9"
    assert request.headers["Timestamp"] == "1630468800"
    assert request.headers["Sign"] == compute_sign("bDqJFiq9", SECRET, "1630468800")
    assert json.loads(request.content) == {
        "current": 1,
        "size": 100,
        "params": {
            "strTime": "2022-02-18T00:00:00+08:00",
            "endTime": "2022-02-19T00:00:00+08:00",
            "sipGroupName": "",
            "phoneName": "",
        },
    }


def test_the_documents_two_filters_are_sent_as_given_on_every_page_of_a_window():
    api = FakeApi(make_records(250))
    sink = ListSink()

    async def fetch():
        async with client_for(api, clock=lambda: 1630468800) as client:
            return await client.fetch_window(WINDOW, sink, sip_group_name="sales", phone_name="sipName8555")

    assert run(fetch()) == 3
    bodies = sorted((json.loads(request.content) for request in api.requests), key=lambda b: b["current"])
    assert api.requests[0].content == (
        b'{"current":1,"size":100,"params":{"strTime":"2022-02-18T00:00:00+08:00",'
        b'"endTime":"2022-02-19T00:00:00+08:00","sipGroupName":"sales","phoneName":"sipName8555"}}'
    )
    assert bodies == [
        {
            "current": page,
            "size": 100,
            "params": {
                "strTime": "2022-02-18T00:00:00+08:00",
                "endTime": "2022-02-19T00:00:00+08:00",
                "sipGroupName": "sales",
                "phoneName": "sipName8555",
            },
        }
        for page in (1, 2, 3)
    ]


def test_one_filter_alone_leaves_the_other_empty_as_the_document_sends_it():
    api = FakeApi(make_records(1))

    async def fetch():
        async with client_for(api) as client:
            return await client.fetch_page(WINDOW, 1, phone_name="sipName8555")

    run(fetch())
    (request,) = api.requests
    assert json.loads(request.content)["params"] == {
        "strTime": "2022-02-18T00:00:00+08:00",
        "endTime": "2022-02-19T00:00:00+08:00",
        "sipGroupName": "",
        "phoneName": "sipName8555",
    }


@pytest.mark.parametrize("bad", [None, 5, ["sales"]])
def test_a_filter_that_is_not_a_string_is_refused_before_sending(bad):
    with pytest.raises(ValueError, match=r"sip_group_name must be a string \(\'\' for no filter\)"):
        build_body(WINDOW, 1, 20, sip_group_name=bad)


def test_a_retried_filtered_page_names_its_filter_in_the_log(caplog):
    api = FakeApi(make_records(1), script={1: status("-18", "Port program unusual")})

    async def fetch():
        async with client_for(api) as client:
            return await client.fetch_page(WINDOW, 1, sip_group_name="sales")

    with caplog.at_level("WARNING"):
        run(fetch())
    (message,) = [record.getMessage() for record in caplog.records]
    assert message.startswith("Laaffic page 1 (sipGroupName='sales') failed (ServerUnusualError")


@pytest.mark.parametrize(("current", "size"), [(0, 20), (1, 0), (1, 101), (-3, 20), (1, True)])
def test_invalid_page_parameters_are_refused_before_sending(current, size):
    with pytest.raises(ValueError, match="current|size"):
        build_body(WINDOW, current, size)


def test_page_size_outside_1_to_100_is_refused_at_construction():
    with pytest.raises(ValueError, match="page size must be from 1 to 100"):
        LaafficClient(CREDENTIALS, page_size=101)


@pytest.mark.parametrize(
    ("code", "error_type", "advice"),
    [
        ("-1", errors.AuthenticationError, "LAAFFIC_API_SECRET"),
        ("-2", errors.IpRestrictedError, "allow list"),
        ("-16", errors.TimestampExpiredError, "clock"),
        ("-18", errors.ServerUnusualError, "retried"),
        ("-22", errors.ParameterError, "page size"),
        ("-25", errors.OutOfTimeRangeError, "two months"),
        ("-99", errors.UnknownStatusError, "support"),
    ],
)
def test_every_status_maps_to_a_typed_error_naming_status_reason_and_advice(code, error_type, advice):
    api = FakeApi([], script={n: status(code, "the server's words") for n in range(1, 10)})
    with pytest.raises(error_type) as caught:
        run(fetch_page(api))
    message = str(caught.value)
    assert f"status {code}" in message
    assert "the server's words" in message
    assert advice in message
    assert SECRET not in message
    assert caught.value.status == code


@pytest.mark.parametrize(
    ("code", "requests", "retryable"),
    [
        ("-1", 1, False),
        ("-2", 1, False),
        ("-16", 2, True),  # re-signed once; a later try (Dagster's step retry) may still succeed
        ("-18", FAST_RETRY["retry_attempts"], True),
        ("-22", 1, False),
        ("-25", 1, False),
    ],
)
def test_every_status_is_retried_as_documented_and_says_whether_a_later_try_can_help(
    code, requests, retryable
):
    # `retryable` is what the Dagster step reads to decide whether re-running the day can help.
    api = FakeApi([], script={n: status(code, "every time") for n in range(1, 10)})
    with pytest.raises(errors.LaafficApiError) as caught:
        run(fetch_page(api))
    assert len(api.requests) == requests
    assert caught.value.retryable is retryable


def test_non_retryable_status_fails_at_once():
    api = FakeApi([], script={1: status("-1", "bad sign")})
    with pytest.raises(errors.AuthenticationError):
        run(fetch_page(api))
    assert len(api.requests) == 1


def test_a_non_json_body_is_a_gateway_fault_retried_then_reported_with_the_excerpt():
    gateway = lambda r, b: httpx.Response(200, text="<html>gateway says hi</html>")  # noqa: E731
    assert len(run(fetch_page(FakeApi(make_records(2), script={1: gateway}))).records) == 2

    api = FakeApi([], script={n: gateway for n in range(1, 10)})
    with pytest.raises(errors.NonJsonResponseError, match="not JSON.*gateway says hi"):
        run(fetch_page(api))
    assert len(api.requests) == FAST_RETRY["retry_attempts"]


def test_json_in_the_wrong_shape_fails_the_page_at_once_with_the_excerpt():
    api = FakeApi([], script={1: lambda r, b: httpx.Response(200, json={"status": "0", "rows": []})})
    with pytest.raises(errors.LaafficResponseError, match="'data' is missing.*rows") as caught:
        run(fetch_page(api))
    assert not caught.value.retryable
    assert len(api.requests) == 1


def test_a_body_echoing_the_request_headers_is_quoted_without_the_sign():
    echo = lambda r, b: httpx.Response(400, text=f"bad request, headers were {dict(r.headers)}")  # noqa: E731
    api = FakeApi([], script={1: echo})
    with pytest.raises(errors.LaafficHttpError, match="HTTP 400") as caught:
        run(fetch_page(api, clock=lambda: 1630468800))
    assert compute_sign("bDqJFiq9", SECRET, "1630468800") not in str(caught.value)
    assert "<redacted>" in str(caught.value)


def test_retry_after_is_honoured_in_seconds_or_as_a_date():
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert _retry_after(httpx.Headers({"Retry-After": "2"})) == 2.0
    assert 25 < _retry_after(httpx.Headers({"Retry-After": later})) <= 30
    assert _retry_after(httpx.Headers({"Retry-After": "soon"})) is None


def test_http_error_is_reported_with_status_and_excerpt():
    api = FakeApi([], script={1: lambda r, b: httpx.Response(404, text="no such route")})
    with pytest.raises(errors.LaafficHttpError, match="HTTP 404.*no such route"):
        run(fetch_page(api))
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (None, "'data' is missing"),
        ({"total": 1, "size": 20, "current": 1, "pages": 1}, "data.records should be a list"),
        ({"total": "1", "size": 20, "current": 1, "pages": 1, "records": []}, "data.total"),
        ({"total": 1, "size": 20, "current": 1, "records": []}, "data.pages"),
        ({"total": 1, "size": 20, "current": 1, "pages": 1, "records": ["x"]}, r"records\[0\]"),
    ],
)
def test_missing_or_mistyped_data_fields_are_errors(data, problem):
    body = {"status": "0", "reason": "success", "data": data}
    api = FakeApi([], script={1: lambda r, b: httpx.Response(200, json=body)})
    with pytest.raises(errors.LaafficResponseError, match=problem):
        run(fetch_page(api))


def test_unknown_record_fields_are_kept():
    record = {"voiceId": "1", "cost": "2", "brandNewField": {"nested": [1, 2]}, "名字": "值"}
    api = FakeApi([record])
    page = run(fetch_page(api))
    assert page.records == [record]
    assert (page.total, page.size, page.current, page.pages, page.search_count) == (1, 100, 1, 1, True)


def test_window_paging_returns_every_record_once_with_a_page_log():
    records = make_records(1234)
    api = FakeApi(records)
    sink = ListSink()

    async def fetch():
        async with client_for(api, concurrency=4) as client:
            return await client.fetch_window(WINDOW, sink)

    assert run(fetch()) == 13
    assert sink.records == records
    assert sorted(sink.pages) == list(range(1, 14))
    assert [len(sink.pages[n]) for n in range(1, 14)] == [100] * 12 + [34]
    assert set(sink.reported.values()) == {(1234, 13)}
    assert sorted(json.loads(r.content)["current"] for r in api.requests) == list(range(1, 14))


def test_empty_window_is_one_page_with_no_records():
    sink = ListSink()

    async def fetch():
        async with client_for(FakeApi([])) as client:
            return await client.fetch_window(WINDOW, sink)

    assert run(fetch()) == 1
    assert sink.pages == {1: []}
    assert sink.reported == {1: (0, 0)}


@pytest.mark.parametrize(
    "fault",
    [
        lambda r, b: httpx.Response(503, text="busy"),
        lambda r, b: httpx.Response(429, text="slow down", headers={"Retry-After": "0"}),
        status("-18", "Port program unusual"),
        lambda r, b: (_ for _ in ()).throw(httpx.ReadTimeout("timed out", request=r)),
        lambda r, b: (_ for _ in ()).throw(httpx.ConnectError("reset", request=r)),
    ],
)
def test_transient_faults_are_retried(fault):
    api = FakeApi(make_records(5), script={1: fault, 2: fault})
    page = run(fetch_page(api))
    assert len(page.records) == 5
    assert len(api.requests) == 3


def test_transient_faults_give_up_after_the_configured_attempts():
    api = FakeApi([], script={n: status("-18", "still unusual") for n in range(1, 10)})
    with pytest.raises(errors.ServerUnusualError):
        run(fetch_page(api))
    assert len(api.requests) == FAST_RETRY["retry_attempts"]


def test_expired_timestamp_is_retried_once_with_a_fresh_signature():
    ticks = iter(range(1000, 1010))
    api = FakeApi(make_records(1), script={1: status("-16", "Timestamp expires")})
    run(fetch_page(api, clock=lambda: next(ticks)))
    first, second = api.requests
    assert first.headers["Timestamp"] != second.headers["Timestamp"]
    assert first.headers["Sign"] != second.headers["Sign"]

    api = FakeApi([], script={n: status("-16", "Timestamp expires") for n in range(1, 10)})
    with pytest.raises(errors.TimestampExpiredError):
        run(fetch_page(api))
    assert len(api.requests) == 2


def test_a_429_holds_the_next_request_back_for_the_retry_after_the_server_sent():
    # 1.5 s: longer than the client's 1 s default for a 429 without Retry-After, so a client that
    # ignored the header and waited its default would come back too early.
    arrived: list[float] = []
    throttle = lambda r, b: httpx.Response(429, headers={"Retry-After": "1.5"}, text="slow down")  # noqa: E731

    def note_arrival(request, body):
        arrived.append(time.monotonic())

    api = FakeApi(
        make_records(3), script={1: lambda r, b: note_arrival(r, b) or throttle(r, b), 2: note_arrival}
    )
    assert len(run(fetch_page(api, retry_attempts=1)).records) == 3
    assert len(api.requests) == 2
    assert arrived[1] - arrived[0] >= 1.5


@pytest.mark.parametrize(
    "fault",
    [
        lambda r, b: httpx.Response(503, text="busy"),
        lambda r, b: httpx.Response(429, headers={"Retry-After": "0.01"}, text="slow down"),
    ],
    ids=["5xx", "429"],
)
def test_a_page_that_keeps_failing_gives_up_at_the_retry_deadline(fault):
    # Attempts alone would allow 500 tries (a 429 uses none at all), each after >= 10 ms: >= 5 s.
    # The 0.2 s deadline must end it long before, with the last error; the 501st try would succeed.
    api = FakeApi(make_records(1), script=dict.fromkeys(range(1, 501), fault))
    with pytest.raises(errors.LaafficHttpError):
        run(
            fetch_page(
                api,
                retry_attempts=1000,
                retry_initial_wait_s=0.01,
                retry_max_wait_s=0.01,
                retry_deadline_s=0.2,
            )
        )
    assert len(api.requests) < 500


def test_client_repr_hides_the_secret():
    assert SECRET not in repr(LaafficClient(CREDENTIALS))


def test_each_retry_is_logged_with_attempt_error_and_wait_but_no_secret(caplog):
    api = FakeApi(make_records(1), script={1: status("-18", "Port program unusual")})
    retry = {"retry_attempts": 3, "retry_initial_wait_s": 0.01, "retry_max_wait_s": 0.01}
    with caplog.at_level("WARNING"):
        run(fetch_page(api, **retry, clock=lambda: 1630468800))
    (message,) = [record.getMessage() for record in caplog.records]
    assert "page 1 failed (ServerUnusualError: Laaffic status -18" in message
    assert "at most 3 errors" in message
    assert "retrying in 0.01s" in message
    assert SECRET not in message
    assert compute_sign("bDqJFiq9", SECRET, "1630468800") not in message
