"""The simulator over real HTTP: the doc's request, auth, validation, paging, DST windows."""

from __future__ import annotations

import http.client
import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from laaffic_pipeline.api.auth import compute_sign
from laaffic_pipeline.api.window import day_window, format_api_time, parse_api_time
from laaffic_pipeline.simulator import FaultConfig, LaafficSimulator
from tests.conftest import TEST_API_KEY, TEST_API_SECRET

DATA_KEYS = ["total", "size", "current", "pages", "searchCount", "records"]


def _doc_sample_request(window: tuple[str, str]) -> tuple[dict[str, str], bytes]:
    """Headers and body exactly as the doc's PHP and Java samples build them."""
    timestamp = str(int(time.time()))
    sign = compute_sign(TEST_API_KEY, TEST_API_SECRET, timestamp)
    headers = {
        "Content-Type": "application/json;charset=UTF-8",
        "Sign": sign,
        "Timestamp": timestamp,
        "Api-Key": TEST_API_KEY,
    }
    start, end = window
    body = (
        f'{{"current":1,"size":20,"params":{{"strTime":"{start}","endTime":"{end}",'
        '"sipGroupName":"","phoneName":""}}'
    )
    return headers, body.encode()


def test_the_docs_sample_request_succeeds(simulator, recent_window):
    headers, body = _doc_sample_request(recent_window)
    response = httpx.post(f"{simulator.base_url}/recordSipQuery", headers=headers, content=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    answer = response.json()
    assert list(answer) == ["status", "reason", "data"]
    assert answer["status"] == "0" and answer["reason"] == "success"
    data = answer["data"]
    assert list(data) == DATA_KEYS
    assert data["size"] == 20 and data["current"] == 1 and data["searchCount"] is True
    assert data["total"] == len(simulator.records_for_window(*recent_window)) > 400
    assert data["pages"] == -(-data["total"] // 20)
    assert data["records"] == simulator.records_for_window(*recent_window)[:20]


def test_answers_keep_the_connection_alive_with_content_length(simulator, recent_window):
    headers, body = _doc_sample_request(recent_window)
    url = urlsplit(simulator.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    try:
        sockets = []
        for _ in range(3):
            connection.request("POST", f"{url.path}/recordSipQuery", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            assert int(response.getheader("Content-Length")) == len(payload)
            assert response.getheader("Connection") != "close"
            sockets.append(connection.sock)
        assert sockets[0] is not None and sockets.count(sockets[0]) == 3
    finally:
        connection.close()


def test_keep_alive_answers_are_not_delayed_by_nagle(api, simulator, recent_window):
    api.page(simulator, recent_window, size=1)  # connect first
    began = time.perf_counter()
    for current in range(1, 51):
        api.page(simulator, recent_window, current=current, size=5)
    elapsed = time.perf_counter() - began
    assert elapsed < 1.5, f"50 keep-alive pages took {elapsed:.2f} s (Nagle adds ~40 ms each)"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Api-Key": ""}, "-1"),
        ({"Api-Key": "someone-else"}, "-1"),
        ({"Sign": ""}, "-1"),
        ({"Sign": "0" * 32}, "-1"),
        ({"Timestamp": ""}, "-16"),
        ({"Timestamp": "yesterday"}, "-16"),
        ({"Timestamp": "1630468800.5"}, "-16"),
    ],
)
def test_bad_credentials_are_refused(api, simulator, recent_window, headers, status):
    body = {"current": 1, "size": 1, "params": {"strTime": recent_window[0], "endTime": recent_window[1]}}
    answer = api.post(simulator, body, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["status"] == status
    assert answer.json()["data"] is None
    assert TEST_API_SECRET not in answer.text


def test_uppercase_sign_is_refused(api, simulator, recent_window):
    timestamp = str(int(time.time()))
    sign = compute_sign(TEST_API_KEY, TEST_API_SECRET, timestamp).upper()
    body = {"current": 1, "size": 1, "params": {"strTime": recent_window[0], "endTime": recent_window[1]}}
    answer = api.post(simulator, body, headers={"Timestamp": timestamp, "Sign": sign})
    assert answer.json()["status"] == "-1"


def test_sign_made_with_another_secret_is_refused(api, simulator, recent_window):
    timestamp = str(int(time.time()))
    sign = compute_sign(TEST_API_KEY, "wrong-secret", timestamp)
    body = {"current": 1, "size": 1, "params": {"strTime": recent_window[0], "endTime": recent_window[1]}}
    answer = api.post(simulator, body, headers={"Timestamp": timestamp, "Sign": sign}).json()
    assert answer["status"] == "-1"
    assert "Sign" in answer["reason"]


@pytest.mark.parametrize(("skew", "status"), [(-299, "0"), (299, "0"), (-301, "-16"), (400, "-16")])
def test_timestamp_must_be_within_tolerance(api, simulator, recent_window, skew, status):
    answer = api.page(simulator, recent_window, size=1, clock=lambda: time.time() + skew)
    assert answer["status"] == status
    if status == "-16":
        assert "Timestamp" in answer["reason"]


WINDOW = {"strTime": "START", "endTime": "END"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "JSON"),
        (b"[1, 2]", "JSON object"),
        ({"current": 0, "size": 20, "params": WINDOW}, "current"),
        ({"current": "1", "size": 20, "params": WINDOW}, "current"),
        ({"current": True, "size": 20, "params": WINDOW}, "current"),
        ({"size": 20, "params": WINDOW}, "current"),
        ({"current": 1, "size": 0, "params": WINDOW}, "size"),
        ({"current": 1, "size": 101, "params": WINDOW}, "size"),
        ({"current": 1, "size": 2.5, "params": WINDOW}, "size"),
        ({"current": 1, "size": 20}, "params"),
        ({"current": 1, "size": 20, "params": []}, "params"),
        ({"current": 1, "size": 20, "params": {"endTime": "END"}}, "strTime"),
        ({"current": 1, "size": 20, "params": {**WINDOW, "strTime": "2026-11-01T00:00:00"}}, "strTime"),
        ({"current": 1, "size": 20, "params": {**WINDOW, "strTime": "last monday"}}, "strTime"),
        ({"current": 1, "size": 20, "params": {**WINDOW, "endTime": 1764000000}}, "endTime"),
        ({"current": 1, "size": 20, "params": {**WINDOW, "sipGroupName": 5}}, "sipGroupName"),
        ({"current": 1, "size": 20, "params": {**WINDOW, "phoneName": []}}, "phoneName"),
        ({"current": 1, "size": 20, "params": {"strTime": "END", "endTime": "END"}}, "strTime"),
        ({"current": 1, "size": 20, "params": {"strTime": "END", "endTime": "START"}}, "strTime"),
    ],
)
def test_malformed_requests_are_parameter_exceptions(api, simulator, recent_window, body, field):
    if isinstance(body, dict):
        text = json.dumps(body).replace("START", recent_window[0]).replace("END", recent_window[1])
        body = text.encode()
    answer = api.post(simulator, body).json()
    assert answer == {"status": "-22", "reason": answer["reason"], "data": None}
    assert field in answer["reason"]


def test_null_filters_are_treated_as_absent(api, simulator, recent_window):
    body = {
        "current": 1,
        "size": 5,
        "params": {"strTime": recent_window[0], "endTime": recent_window[1], "phoneName": None},
    }
    assert api.post(simulator, body).json()["status"] == "0"


def test_windows_over_31_days_are_out_of_range(api, simulator):
    end = datetime.now(UTC).replace(microsecond=0)
    too_long = (format_api_time(end - timedelta(days=31, seconds=1)), format_api_time(end))
    just_fits = (format_api_time(end - timedelta(days=31)), format_api_time(end))
    answer = api.page(simulator, too_long, size=1)
    assert answer["status"] == "-25" and "31 days" in answer["reason"]
    assert api.page(simulator, just_fits, size=1)["status"] == "0"


def test_windows_before_the_retention_floor_are_out_of_range(api, simulator):
    start = datetime.now(UTC) - timedelta(days=65)
    window = (format_api_time(start.replace(microsecond=0)), format_api_time(start + timedelta(days=1)))
    answer = api.page(simulator, window, size=1)
    assert answer["status"] == "-25"
    assert "strTime" in answer["reason"]


def test_pages_cover_every_record_exactly_once_in_a_stable_order(api, simulator, recent_window):
    truth = simulator.records_for_window(*recent_window)
    first_pass = api.all_records(simulator, recent_window, size=37)
    second_pass = api.all_records(simulator, recent_window, size=37)
    assert first_pass == second_pass == truth
    assert len({r["voiceId"] for r in first_pass}) == len(truth)
    keys = [(parse_api_time(r["submitTime"]), r["voiceId"]) for r in truth]
    assert keys == sorted(keys)


def test_page_arithmetic_and_a_page_past_the_end(api, simulator, recent_window):
    total = len(simulator.records_for_window(*recent_window))
    pages = -(-total // 100)
    last = api.page(simulator, recent_window, current=pages, size=100)["data"]
    assert last["pages"] == pages and len(last["records"]) == total - (pages - 1) * 100
    past = api.page(simulator, recent_window, current=pages + 1, size=100)
    assert past["status"] == "0"
    assert past["data"]["records"] == [] and past["data"]["total"] == total


def test_an_empty_window_has_zero_pages(api, simulator, recent_window):
    answer = api.page(simulator, recent_window, phoneName="nobody")["data"]
    assert (answer["total"], answer["pages"], answer["records"]) == (0, 0, [])


def test_filters_match_group_and_phone_exactly(api, simulator, recent_window):
    everything = simulator.records_for_window(*recent_window)
    group, phone = everything[0]["sipGroupName"], everything[0]["phoneName"]
    by_group = api.all_records(simulator, recent_window, sipGroupName=group)
    assert by_group == [r for r in everything if r["sipGroupName"] == group]
    assert 0 < len(by_group) < len(everything)
    by_phone = api.all_records(simulator, recent_window, sipGroupName=group, phoneName=phone)
    assert by_phone == [r for r in everything if r["phoneName"] == phone]
    assert api.page(simulator, recent_window, sipGroupName=group.upper())["data"]["total"] == 0
    assert by_phone == simulator.records_for_window(*recent_window, group, phone)


def test_same_seed_serves_the_same_records(api, make_simulator, recent_window):
    first, second, other = make_simulator(seed=5), make_simulator(seed=5), make_simulator(seed=6)
    records = api.all_records(first, recent_window)
    assert records == api.all_records(second, recent_window)
    assert records != api.all_records(other, recent_window)


@pytest.mark.parametrize(
    ("day", "zone", "hours"),
    [
        (date(2026, 3, 29), "Europe/Berlin", 23),
        (date(2026, 10, 25), "Europe/Berlin", 25),
        (date(2026, 3, 8), "America/New_York", 23),
    ],
)
def test_dst_day_windows_return_exactly_the_records_inside(api, make_simulator, day, zone, hours):
    def clock() -> float:
        return datetime.combine(day + timedelta(days=10), datetime.min.time(), UTC).timestamp()

    simulator = make_simulator(clock=clock, record_offset="+01:00")
    window = day_window(day, zone)
    assert window.end - window.start == timedelta(hours=hours)
    served = []
    for current in (1, 2, 3, 4, 5, 6, 7):
        answer = api.page(simulator, (window.str_time, window.end_time), current=current, clock=clock)
        assert answer["status"] == "0", answer
        served.extend(answer["data"]["records"])
    wide = simulator.records_for_window(
        format_api_time(window.start - timedelta(days=2)), format_api_time(window.end + timedelta(days=2))
    )
    inside = [r for r in wide if window.start <= parse_api_time(r["submitTime"]) < window.end]
    assert served == inside
    assert len(inside) == pytest.approx(500 * hours / 24, rel=0.2)


def test_many_concurrent_keep_alive_clients(api, simulator, recent_window):
    simulator.faults = FaultConfig(latency_ms=200)
    truth = simulator.records_for_window(*recent_window)
    pages = -(-len(truth) // 20)
    results: dict[int, list] = {}

    def fetch(current: int) -> None:
        with httpx.Client(timeout=10) as http:
            body = {"current": current, "size": 20}
            body["params"] = {"strTime": recent_window[0], "endTime": recent_window[1]}
            results[current] = type(api)(http).post(simulator, body).json()["data"]["records"]

    began = time.perf_counter()
    threads = [threading.Thread(target=fetch, args=(c,)) for c in range(1, pages + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    assert [r for c in sorted(results) for r in results[c]] == truth
    assert elapsed < 2.0, f"{pages} concurrent 200 ms requests took {elapsed:.2f} s"


def test_stop_closes_idle_keep_alive_connections(api, recent_window):
    simulator = LaafficSimulator(TEST_API_KEY, TEST_API_SECRET)
    simulator.start()
    url = f"{simulator.base_url}/recordSipQuery"
    assert api.page(simulator, recent_window, size=1)["status"] == "0"
    simulator.stop()
    simulator.stop()  # a second stop is harmless
    with pytest.raises(httpx.TransportError):
        api.http.post(url, content=b"{}")


def test_repr_never_shows_the_secret(simulator):
    assert TEST_API_SECRET not in repr(simulator)
    assert TEST_API_KEY in repr(simulator)


def test_admin_endpoints(simulator):
    root = simulator.root_url
    assert httpx.get(f"{root}/_simulator/health").json() == {"ok": True}
    changed = httpx.put(f"{root}/_simulator/faults", json={"total_delta": 3, "latency_ms": 1})
    assert changed.status_code == 200 and changed.json()["total_delta"] == 3
    assert simulator.faults == FaultConfig(total_delta=3, latency_ms=1)
    assert httpx.get(f"{root}/_simulator/faults").json()["latency_ms"] == 1
    refused = httpx.put(f"{root}/_simulator/faults", json={"http_5xx_rate": 2})
    assert refused.status_code == 400 and "http_5xx_rate" in refused.json()["error"]
    assert httpx.put(f"{root}/_simulator/faults", json={"nope": 1}).status_code == 400
    assert httpx.get(f"{root}/v3/voice/other").status_code == 404
    assert httpx.get(f"{simulator.base_url}/recordSipQuery").status_code == 405


def test_counters_count_requests_by_outcome(api, simulator, recent_window):
    api.page(simulator, recent_window, size=1)
    api.post(simulator, b"{}")
    assert simulator.request_count == 2
    assert simulator.outcome_counts == {"0": 1, "-22": 1}
    simulator.reset_counters()
    assert simulator.request_count == 0 and simulator.outcome_counts == {}
