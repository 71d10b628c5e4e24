"""The simulator over real HTTP: the doc's request, auth, validation, paging, DST windows."""

from __future__ import annotations

import http.client
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from laaffic_pipeline.simulator import FaultConfig, LaafficSimulator
from tests.conftest import TEST_API_KEY, TEST_API_SECRET, doc_sign

DATA_KEYS = ["total", "size", "current", "pages", "searchCount", "records"]


def _doc_sample_request(window: tuple[str, str]) -> tuple[dict[str, str], bytes]:
    """Headers and body exactly as the doc's PHP and Java samples build them."""
    timestamp = str(int(time.time()))
    sign = doc_sign(TEST_API_KEY, TEST_API_SECRET, timestamp)
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
    """Nagle's algorithm would hold each keep-alive answer ~40 ms: every answer's socket has it off.

    (The time it saves is a benchmark figure, see FACTS; here only the cause is checked.)
    """
    for current in range(1, 6):
        api.page(simulator, recent_window, current=current, size=5)
    log = simulator.request_log
    assert len(log) == 5
    assert all(entry.tcp_nodelay is True for entry in log)


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
    sign = doc_sign(TEST_API_KEY, TEST_API_SECRET, timestamp).upper()
    body = {"current": 1, "size": 1, "params": {"strTime": recent_window[0], "endTime": recent_window[1]}}
    answer = api.post(simulator, body, headers={"Timestamp": timestamp, "Sign": sign})
    assert answer.json()["status"] == "-1"


def test_sign_made_with_another_secret_is_refused(api, simulator, recent_window):
    timestamp = str(int(time.time()))
    sign = doc_sign(TEST_API_KEY, "wrong-secret", timestamp)
    body = {"current": 1, "size": 1, "params": {"strTime": recent_window[0], "endTime": recent_window[1]}}
    answer = api.post(simulator, body, headers={"Timestamp": timestamp, "Sign": sign}).json()
    assert answer["status"] == "-1"
    assert "Sign" in answer["reason"]


@pytest.mark.parametrize(
    ("skew", "status"), [(-300, "0"), (-299, "0"), (300, "0"), (-301, "-16"), (301, "-16"), (400, "-16")]
)
def test_timestamp_must_be_within_tolerance(api, make_simulator, recent_window, skew, status):
    now = float(int(time.time()))  # the server's clock stands still: the skew is exact
    simulator = make_simulator(clock=lambda: now)
    answer = api.page(simulator, recent_window, size=1, clock=lambda: now + skew)
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
    too_long = ((end - timedelta(days=31, seconds=1)).isoformat(), end.isoformat())
    just_fits = ((end - timedelta(days=31)).isoformat(), end.isoformat())
    answer = api.page(simulator, too_long, size=1)
    assert answer["status"] == "-25" and "31 days" in answer["reason"]
    assert api.page(simulator, just_fits, size=1)["status"] == "0"


def test_windows_before_the_retention_floor_are_out_of_range(api, simulator):
    start = (datetime.now(UTC) - timedelta(days=65)).replace(microsecond=0)
    window = (start.isoformat(), (start + timedelta(days=1)).isoformat())
    answer = api.page(simulator, window, size=1)
    assert answer["status"] == "-25"
    assert "strTime" in answer["reason"]


def test_pages_cover_every_record_exactly_once_in_a_stable_order(api, simulator, recent_window):
    truth = simulator.records_for_window(*recent_window)
    first_pass = api.all_records(simulator, recent_window, size=37)
    second_pass = api.all_records(simulator, recent_window, size=37)
    assert first_pass == second_pass == truth
    assert len({r["voiceId"] for r in first_pass}) == len(truth)
    keys = [(datetime.fromisoformat(r["submitTime"]), r["voiceId"]) for r in truth]
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
    ("window", "hours"),
    [
        (("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"), 23),  # Europe/Berlin
        (("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"), 25),  # Europe/Berlin
        (("2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00"), 23),  # America/New_York
    ],
)
def test_dst_day_windows_return_exactly_the_records_inside(api, make_simulator, window, hours):
    start, end = (datetime.fromisoformat(end) for end in window)
    assert end - start == timedelta(hours=hours)
    now = (end + timedelta(days=10)).timestamp()
    simulator = make_simulator(clock=lambda: now, record_offset="+01:00")
    served = []
    for current in (1, 2, 3, 4, 5, 6, 7):
        answer = api.page(simulator, window, current=current, clock=lambda: now)
        assert answer["status"] == "0", answer
        served.extend(answer["data"]["records"])
    wide = simulator.records_for_window(
        (start - timedelta(days=2)).isoformat(), (end + timedelta(days=2)).isoformat()
    )
    inside = [r for r in wide if start <= datetime.fromisoformat(r["submitTime"]) < end]
    assert served == inside
    assert len(inside) == pytest.approx(500 * hours / 24, rel=0.2)


def test_many_concurrent_keep_alive_clients(api, make_simulator, recent_window):
    """Every page's request waits inside the server until all of them are in: only a server that
    answers them concurrently gets past the barrier (a serial one would break it and answer 500)."""
    probe = make_simulator()
    pages = -(-len(probe.records_for_window(*recent_window)) // 20)
    everyone_in = threading.Barrier(pages)
    simulator = make_simulator(faults=FaultConfig(latency_ms=200), sleep=lambda _: everyone_in.wait(30))
    truth = simulator.records_for_window(*recent_window)
    results: dict[int, list] = {}

    def fetch(current: int) -> None:
        with httpx.Client(timeout=10) as http:
            body = {"current": current, "size": 20}
            body["params"] = {"strTime": recent_window[0], "endTime": recent_window[1]}
            results[current] = type(api)(http).post(simulator, body).json()["data"]["records"]

    threads = [threading.Thread(target=fetch, args=(c,)) for c in range(1, pages + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not everyone_in.broken
    assert [r for c in sorted(results) for r in results[c]] == truth


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


def _every_status_request(status: str, window: tuple[str, str]) -> tuple[dict, dict[str, str], dict]:
    """Simulator settings, extra headers and a body that make the API answer ``status``.

    The simulator's clock is an hour ahead for ``-16``, so the correctly signed request is stale."""
    body = {"current": 1, "size": 1, "params": {"strTime": window[0], "endTime": window[1]}}
    far = {"strTime": "2026-01-01T00:00:00+00:00", "endTime": "2026-02-01T00:00:01+00:00"}
    return {
        "0": ({}, {}, body),
        "-1": ({}, {"Sign": "0" * 32}, body),
        "-2": ({"allowed_ips": ["10.9.8.7"]}, {}, body),
        "-16": ({"clock": lambda: time.time() + 3600}, {}, body),
        "-18": ({"faults": FaultConfig(status_18_rate=1.0)}, {}, body),
        "-22": ({}, {}, {"current": 1, "size": 101, "params": body["params"]}),
        "-25": ({}, {}, {**body, "params": far}),
    }[status]


@pytest.mark.parametrize("status", ["0", "-1", "-2", "-16", "-18", "-22", "-25"])
def test_every_documented_status_can_be_produced_over_http(api, make_simulator, recent_window, status):
    settings, headers, body = _every_status_request(status, recent_window)
    simulator = make_simulator(**settings)
    response = api.post(simulator, body, headers=headers)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == status, answer
    assert list(answer) == ["status", "reason", "data"]
    assert (answer["data"] is None) == (status != "0")


def test_restricted_ip_access_answers_minus_2_until_the_address_is_allowed(api, simulator, recent_window):
    simulator.faults = FaultConfig(allowed_ips=("10.0.0.1", "::1"))
    answer = api.page(simulator, recent_window, size=1)
    assert answer["status"] == "-2" and answer["data"] is None
    assert "Restricted IP access" in answer["reason"] and "127.0.0.1" in answer["reason"]
    changed = httpx.put(f"{simulator.root_url}/_simulator/faults", json={"allowed_ips": ["127.0.0.1"]})
    assert changed.json()["allowed_ips"] == ["127.0.0.1"]
    assert api.page(simulator, recent_window, size=1)["status"] == "0"
    assert simulator.outcome_counts == {"-2": 1, "0": 1}
    refused = httpx.put(f"{simulator.root_url}/_simulator/faults", json={"allowed_ips": ["localhost"]})
    assert refused.status_code == 400 and "allowed_ips" in refused.json()["error"]


def test_fault_fields_can_be_given_to_the_constructor():
    simulator = LaafficSimulator("k", "s", faults=FaultConfig(latency_ms=5), allowed_ips=["10.0.0.1"])
    assert simulator.faults == FaultConfig(latency_ms=5, allowed_ips=("10.0.0.1",))
    with pytest.raises(TypeError, match="allowed_ip"):
        LaafficSimulator("k", "s", allowed_ip=["10.0.0.1"])


def test_request_log_gives_the_gap_between_a_429_and_the_next_request(api, make_simulator, recent_window):
    now = [50.0]
    simulator = make_simulator(faults=FaultConfig(rate_limit_per_s=1), monotonic=lambda: now[0])
    assert api.page(simulator, recent_window, size=1)["status"] == "0"
    now[0] = 50.5
    assert api.post(simulator, b"{}").status_code == 429
    now[0] = 51.75  # a client honouring Retry-After: 1 comes back after it
    assert api.post(simulator, b"{}").json()["status"] == "-22"
    httpx.get(f"{simulator.root_url}/_simulator/health")  # admin calls are not logged
    log = simulator.request_log
    assert [(e.arrived, e.http_status, e.status, e.outcome) for e in log] == [
        (50.0, 200, "0", "0"),
        (50.5, 429, None, "http_429"),
        (51.75, 200, "-22", "-22"),
    ]
    assert log[2].arrived - log[1].arrived == 1.25
    assert all(e.client_ip == "127.0.0.1" for e in log)
    served = httpx.get(f"{simulator.root_url}/_simulator/requests").json()
    assert served == [entry.to_dict() for entry in log]
    assert served[1] == {
        "arrived": 50.5,
        "http_status": 429,
        "status": None,
        "outcome": "http_429",
        "client_ip": "127.0.0.1",
        "tcp_nodelay": True,
    }
    assert httpx.delete(f"{simulator.root_url}/_simulator/requests").json() == []
    assert simulator.request_log == [] and simulator.request_count == 0


def test_request_log_uses_the_real_monotonic_clock_by_default(api, simulator, recent_window):
    before = time.monotonic()
    api.page(simulator, recent_window, size=1)
    (entry,) = simulator.request_log
    assert before <= entry.arrived <= time.monotonic()
