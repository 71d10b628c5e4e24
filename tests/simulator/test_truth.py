"""``records_for_local_day``, the test oracle: a local calendar day's records, by zoneinfo alone.

Windows here are written out literally, the way a person reads the zone's rules, never computed
by the code under test.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

# (day, IANA zone, [local midnight, next local midnight) written literally, hours in that day)
LOCAL_DAYS = [
    (date(2026, 3, 8), "America/New_York", ("2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00"), 23),
    (date(2026, 11, 1), "America/New_York", ("2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"), 25),
    (date(2026, 3, 8), "Asia/Shanghai", ("2026-03-08T00:00:00+08:00", "2026-03-09T00:00:00+08:00"), 24),
    (date(2026, 3, 8), "Asia/Kolkata", ("2026-03-08T00:00:00+05:30", "2026-03-09T00:00:00+05:30"), 24),
    (date(2026, 3, 8), "UTC", ("2026-03-08T00:00:00+00:00", "2026-03-09T00:00:00+00:00"), 24),
]


def _ids(case) -> str:
    return f"{case[1]}-{case[0]}"


@pytest.mark.parametrize("case", LOCAL_DAYS, ids=[_ids(case) for case in LOCAL_DAYS])
def test_the_server_serves_exactly_the_oracles_local_day(api, make_simulator, case):
    day, zone, window, hours = case
    now = datetime.fromisoformat(window[1]).timestamp() + 5 * 86_400
    simulator = make_simulator(clock=lambda: now)
    truth = simulator.records_for_local_day(day, zone)
    served = []
    current = 1
    while True:
        answer = api.page(simulator, window, current=current, clock=lambda: now)
        assert answer["status"] == "0", answer
        served.extend(answer["data"]["records"])
        if current >= answer["data"]["pages"]:
            break
        current += 1
    assert served == truth
    assert len(truth) == pytest.approx(500 * hours / 24, rel=0.15)


@pytest.mark.parametrize("case", LOCAL_DAYS, ids=[_ids(case) for case in LOCAL_DAYS])
def test_every_record_of_the_oracle_is_on_that_local_day(simulator, case):
    day, zone, _, _ = case
    records = simulator.records_for_local_day(day, zone)
    local_days = {datetime.fromisoformat(r["submitTime"]).astimezone(ZoneInfo(zone)).date() for r in records}
    assert local_days == {day}


def test_consecutive_local_days_tile_time_without_gaps_or_overlaps(simulator):
    zone = "America/New_York"
    days = [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    tiled = [record for day in days for record in simulator.records_for_local_day(day, zone)]
    # 7 March 00:00 EST to 10 March 00:00 EDT, the Sunday in between 23 hours long.
    assert tiled == simulator.records_for_window("2026-03-07T00:00:00-05:00", "2026-03-10T00:00:00-04:00")


def test_the_oracle_sees_late_arrivals_faults_and_filters(api, make_simulator):
    window = ("2026-03-08T00:00:00+05:30", "2026-03-09T00:00:00+05:30")
    now = datetime.fromisoformat(window[1]).timestamp() + 86_400
    simulator = make_simulator(clock=lambda: now, late_arrivals=7, settlement_fields=True)
    before = simulator.records_for_local_day(date(2026, 3, 8), "Asia/Kolkata")
    api.page(simulator, window, clock=lambda: now)
    after = simulator.records_for_local_day(date(2026, 3, 8), "Asia/Kolkata")
    assert len(after) == len(before) + 7 * 2  # the window touches two UTC days
    assert all("settlePay" in record for record in after)
    group = after[0]["sipGroupName"]
    assert simulator.records_for_local_day(date(2026, 3, 8), "Asia/Kolkata", group) == [
        record for record in after if record["sipGroupName"] == group
    ]


def test_a_local_day_ends_where_the_next_begins_even_east_of_utc(simulator):
    kolkata = simulator.records_for_local_day(date(2026, 3, 8), "Asia/Kolkata")
    first = datetime.fromisoformat(kolkata[0]["submitTime"])
    last = datetime.fromisoformat(kolkata[-1]["submitTime"])
    midnight = datetime.fromisoformat("2026-03-08T00:00:00+05:30")
    assert midnight <= first < midnight + timedelta(hours=1)
    assert midnight + timedelta(hours=23) <= last < midnight + timedelta(days=1)
