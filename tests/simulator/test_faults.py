"""Each fault mode, over real HTTP, as a client sees it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from laaffic_pipeline.simulator import FaultConfig
from laaffic_pipeline.simulator.faults import HUGE_STRING_CHARS, MALFORMATIONS, malformation_for


def test_faults_are_off_by_default_and_validated():
    assert FaultConfig() == FaultConfig(latency_ms=0, http_5xx_rate=0, late_arrivals=0)
    with pytest.raises(ValueError, match="http_5xx_rate"):
        FaultConfig(http_5xx_rate=1.5)
    with pytest.raises(ValueError, match="late_arrivals"):
        FaultConfig(late_arrivals=-1)
    with pytest.raises(ValueError, match="rate_limit_per_s"):
        FaultConfig(rate_limit_per_s=2.5)
    with pytest.raises(ValueError, match="unknown"):
        FaultConfig().merged({"latency": 5})
    assert FaultConfig().merged({"total_delta": -2}).total_delta == -2


def test_latency_delays_each_answer(api, make_simulator, recent_window):
    waits: list[float] = []
    simulator = make_simulator(faults=FaultConfig(latency_ms=150), sleep=waits.append)
    assert api.page(simulator, recent_window, size=1)["status"] == "0"
    api.post(simulator, b"{}")
    assert waits == [0.15, 0.15]


def test_http_5xx_answers_are_html(api, make_simulator, recent_window):
    simulator = make_simulator(faults=FaultConfig(http_5xx_rate=1.0))
    codes = Counter()
    for _ in range(15):
        response = api.post(simulator, {"current": 1, "size": 1, "params": {}})
        codes[response.status_code] += 1
        assert response.headers["content-type"].startswith("text/html")
        assert response.text.startswith("<html>")
    assert set(codes) == {500, 502, 503}
    assert simulator.outcome_counts.keys() <= {"http_500", "http_502", "http_503"}


def test_status_18_is_the_documented_failure(api, make_simulator, recent_window):
    simulator = make_simulator(faults=FaultConfig(status_18_rate=1.0))
    answer = api.page(simulator, recent_window)
    assert answer == {"status": "-18", "reason": "Port program unusual", "data": None}


def test_non_json_answers_are_http_200_html(api, make_simulator, recent_window):
    simulator = make_simulator(faults=FaultConfig(non_json_rate=1.0))
    response = api.post(simulator, {"current": 1, "size": 1, "params": {}})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_random_faults_repeat_with_the_same_fault_seed(api, make_simulator, recent_window):
    faults = FaultConfig(http_5xx_rate=0.3, status_18_rate=0.3, fault_seed=99)
    runs = []
    for simulator in (make_simulator(faults=faults), make_simulator(faults=faults)):
        runs.append(
            [
                (response.status_code, response.text[:40])
                for response in (
                    api.post(simulator, {"current": 1, "size": 1, "params": {}}) for _ in range(25)
                )
            ]
        )
    assert runs[0] == runs[1]
    assert len({code for code, _ in runs[0]}) >= 2


def test_rate_limit_answers_429_with_retry_after(api, make_simulator, recent_window):
    now = [100.0]  # the simulator's monotonic clock, moved by the test
    simulator = make_simulator(faults=FaultConfig(rate_limit_per_s=5), monotonic=lambda: now[0])
    responses = [api.post(simulator, {"current": 1, "size": 1, "params": {}}) for _ in range(20)]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 15
    assert all(r.headers["retry-after"] == "1" for r in responses[5:])
    now[0] = 100.999
    assert api.post(simulator, {"current": 1, "size": 1, "params": {}}).status_code == 429
    now[0] = 101.0  # a new second: a new allowance
    assert api.page(simulator, recent_window, size=1)["status"] == "0"


def test_total_delta_misreports_total_but_not_pages(api, make_simulator, recent_window):
    simulator = make_simulator(faults=FaultConfig(total_delta=5))
    real = len(simulator.records_for_window(*recent_window))
    data = api.page(simulator, recent_window, size=100)["data"]
    assert data["total"] == real + 5
    assert data["pages"] == -(-real // 100)
    assert api.all_records(simulator, recent_window) == simulator.records_for_window(*recent_window)


def test_duplicates_repeat_the_previous_pages_last_record(api, make_simulator, recent_window):
    simulator = make_simulator(faults=FaultConfig(duplicate_rate=1.0))
    truth = simulator.records_for_window(*recent_window)
    first = api.page(simulator, recent_window, current=1, size=50)["data"]["records"]
    second = api.page(simulator, recent_window, current=2, size=50)["data"]["records"]
    assert first == truth[:50]
    assert second == [truth[49], *truth[50:100]]
    pages = -(-len(truth) // 50)
    assert api.page(simulator, recent_window, current=pages + 1, size=50)["data"]["records"] == []


def test_late_arrivals_shift_later_pages_until_the_cap(api, make_simulator):
    simulator = make_simulator(faults=FaultConfig(late_arrivals=4, late_arrivals_max=10))
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    window = (start.isoformat(), (start + timedelta(days=1)).isoformat())  # one UTC day
    base = simulator.records_for_window(*window)
    totals = [api.page(simulator, window, current=c, size=100)["data"]["total"] for c in (1, 2, 3, 4)]
    assert totals == [len(base), len(base) + 4, len(base) + 8, len(base) + 10]
    after = simulator.records_for_window(*window)
    assert len(after) == len(base) + 10 == len(base) + simulator.late_arrival_count
    late = [r for r in after if r not in base]
    assert len(late) == 10
    assert all(start <= datetime.fromisoformat(r["submitTime"]) < start + timedelta(days=1) for r in late)
    assert after.index(late[0]) < len(base)  # arrivals land among old records, not only at the end
    assert [(datetime.fromisoformat(r["submitTime"]), r["voiceId"]) for r in after] == sorted(
        (datetime.fromisoformat(r["submitTime"]), r["voiceId"]) for r in after
    )
    twin = make_simulator(faults=FaultConfig(late_arrivals=4, late_arrivals_max=10))
    for current in (1, 2, 3, 4):
        api.page(twin, window, current=current, size=100)
    assert twin.records_for_window(*window) == after


def test_late_arrivals_stay_inside_a_partial_window(api, make_simulator):
    simulator = make_simulator(faults=FaultConfig(late_arrivals=5))
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    window = (start.isoformat(), (start + timedelta(hours=1)).isoformat())
    before = simulator.records_for_window(*window)
    api.page(simulator, window)
    assert len(simulator.records_for_window(*window)) == len(before) + 5


def test_malformed_records_are_served_as_the_truth_says(api, make_simulator, recent_window):
    simulator = make_simulator(faults=FaultConfig(malformed_rate=0.2, fault_seed=3))
    truth = simulator.records_for_window(*recent_window)
    assert api.all_records(simulator, recent_window) == truth
    assert api.all_records(simulator, recent_window, size=7) == truth
    clean = make_simulator().records_for_window(*recent_window)
    kinds = Counter(malformation_for(r["voiceId"], 3, 0.2) for r in clean)
    assert set(kinds) == {None, *MALFORMATIONS}
    assert 0.1 < 1 - kinds[None] / len(clean) < 0.3
    broken = {}  # one served example of each malformation
    for clean_record, served in zip(clean, truth, strict=True):
        broken.setdefault(malformation_for(clean_record["voiceId"], 3, 0.2), served)
    assert "voiceId" not in broken["missing_voice_id"]
    assert broken["cost_not_a_number"]["cost"] == "N/A"
    assert isinstance(broken["durations_as_strings"]["callDuration"], str)
    assert broken["empty_times"]["submitTime"] == ""
    assert broken["unknown_bill_period"]["billPeriod"] == "7x"
    assert "carrierRoute" in broken["extra_field"]
    assert "ü" in broken["non_ascii_phone_name"]["phoneName"]
    assert len(broken["huge_string"]["terminationReason"]) == HUGE_STRING_CHARS


def test_faults_can_be_replaced_while_serving(api, simulator, recent_window):
    assert api.page(simulator, recent_window, size=1)["status"] == "0"
    simulator.faults = FaultConfig(status_18_rate=1.0)
    assert api.page(simulator, recent_window, size=1)["status"] == "-18"
    simulator.faults = FaultConfig()
    assert api.page(simulator, recent_window, size=1)["status"] == "0"
    with pytest.raises(TypeError):
        simulator.faults = {"status_18_rate": 1.0}


def test_allowed_ips_are_addresses_written_as_the_server_sees_them():
    assert FaultConfig(allowed_ips=["0:0:0:0:0:0:0:1", "127.0.0.1"]).allowed_ips == ("::1", "127.0.0.1")
    assert FaultConfig().merged({"allowed_ips": []}) == FaultConfig()
    with pytest.raises(ValueError, match="allowed_ips"):
        FaultConfig(allowed_ips=["localhost"])
    with pytest.raises(ValueError, match="allowed_ips"):
        FaultConfig(allowed_ips="127.0.0.1")
