"""The simulator is live: a call is served once it has ended at the simulator's clock, and the
oracles answer what the server serves at a given instant.

Every test pins the simulator's clock with a ``SettableClock`` and signs its requests with the same
clock, so it passes on any date. The day is 9 March 2026 in +08:00 (the partition's zone in these
tests), which spans two UTC days; windows are written out literally.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from laaffic_pipeline.simulator import SettableClock
from laaffic_pipeline.simulator.records import window_rows

DAY_START = datetime.fromisoformat("2026-03-09T00:00:00+08:00")
TEN = DAY_START + timedelta(hours=10)
RECORDS_PER_DAY = 5000


def served(api, simulator, window, clock, size=100, **params):
    """Every page of ``window`` at the clock's instant, and the totals the pages reported."""
    records, totals, current = [], [], 1
    while True:
        answer = api.page(simulator, window, current=current, size=size, clock=clock, **params)
        assert answer["status"] == "0", answer
        records.extend(answer["data"]["records"])
        totals.append(answer["data"]["total"])
        if current >= answer["data"]["pages"]:
            return records, totals
        current += 1


def window(start, end):
    return start.isoformat(), end.isoformat()


@pytest.fixture
def clock():
    return SettableClock(TEN)


@pytest.fixture
def live(make_simulator, clock):
    return make_simulator(records_per_day=RECORDS_PER_DAY, clock=clock)


def test_a_call_in_progress_is_served_once_the_clock_passes_its_hangup(api, live, clock):
    today = window(DAY_START, TEN)
    later = live.records_for_window(*today, as_of=TEN + timedelta(hours=2))
    # The call submitted before 10:00 that ends last: still talking at 10:00.
    straddling = max(later, key=lambda r: datetime.fromisoformat(r["hangupTime"]))
    hangup = datetime.fromisoformat(straddling["hangupTime"])
    assert hangup > TEN

    at_ten, totals = served(api, live, today, clock)
    assert straddling["voiceId"] not in {r["voiceId"] for r in at_ten}
    assert all(datetime.fromisoformat(r["hangupTime"]) <= TEN for r in at_ten)
    assert set(totals) == {len(at_ten)}

    clock.set(hangup - timedelta(seconds=1))
    assert straddling not in served(api, live, today, clock)[0]
    clock.set(hangup)
    at_hangup, totals = served(api, live, today, clock)
    assert straddling in at_hangup
    assert set(totals) == {len(at_hangup)} and len(at_hangup) > len(at_ten)
    assert set(r["voiceId"] for r in at_ten) < set(r["voiceId"] for r in at_hangup)


@pytest.mark.parametrize(
    ("hours", "end_hours"),
    [
        (10, 10),  # [00:00, now): the live partition's window
        (10, 24),  # a whole day still under way: the window reaches past now
        (13, 13),
        (23.99, 24),  # the last calls of the day still in progress
        (26.5, 24),  # 02:30 the next morning: the day is complete
    ],
    ids=["10:00-now", "10:00-whole-day", "13:00-now", "23:59-whole-day", "02:30-next-day"],
)
def test_the_oracle_at_an_instant_is_what_the_server_serves_then(api, live, clock, hours, end_hours):
    now = DAY_START + timedelta(hours=hours)
    clock.set(now)
    read = window(DAY_START, DAY_START + timedelta(hours=end_hours))
    records, totals = served(api, live, read, clock)
    assert records == live.records_for_window(*read, as_of=now) == live.records_for_window(*read)
    assert set(totals) == {len(records)}
    every = window_rows(7, RECORDS_PER_DAY, *(datetime.fromisoformat(t) for t in read))
    assert len(records) == sum(row.hangup <= now.timestamp() for row in every)
    group = records[0]["sipGroupName"]
    assert served(api, live, read, clock, sipGroupName=group)[0] == live.records_for_window(
        *read, group, as_of=now
    )


def test_the_local_day_oracle_follows_the_clock_too(api, live, clock):
    clock.set(TEN)
    records, _ = served(api, live, window(DAY_START, TEN), clock)
    local_day = live.records_for_local_day(DAY_START.date(), "Asia/Shanghai")
    assert local_day == records
    complete = live.records_for_local_day(DAY_START.date(), "Asia/Shanghai", as_of=TEN + timedelta(days=1))
    assert len(complete) == pytest.approx(RECORDS_PER_DAY, rel=0.1) and len(records) < len(complete)


def test_a_window_over_a_past_day_is_unchanged(api, live, clock):
    past = DAY_START - timedelta(days=3)
    read = window(past, past + timedelta(days=1))
    records, totals = served(api, live, read, clock)
    whole = window_rows(7, RECORDS_PER_DAY, past, past + timedelta(days=1))
    assert [r["voiceId"] for r in records] == [row.voice_id for row in whole]
    assert records == live.records_for_window(*read, as_of=TEN + timedelta(days=30))
    assert set(totals) == {len(whole)}


def test_a_window_in_the_future_serves_nothing_until_its_calls_end(api, live, clock):
    read = window(TEN + timedelta(hours=1), TEN + timedelta(hours=3))
    answer = api.page(live, read, clock=clock)
    assert answer["status"] == "0"
    assert answer["data"]["total"] == 0 and answer["data"]["records"] == []
    clock.advance(timedelta(hours=2))
    assert (
        0
        < len(served(api, live, read, clock)[0])
        < len(live.records_for_window(*read, as_of=TEN + timedelta(hours=5)))
    )


def test_late_arrivals_in_a_live_window_were_submitted_before_now(api, make_simulator, clock):
    live = make_simulator(records_per_day=RECORDS_PER_DAY, clock=clock, late_arrivals=5)
    read = window(DAY_START, DAY_START + timedelta(days=1))  # reaches 14 hours past now
    before = live.records_for_window(*read, as_of=TEN + timedelta(days=1))
    api.page(live, read, clock=clock)
    assert live.late_arrival_count == 10  # the window touches two UTC days
    after = live.records_for_window(*read, as_of=TEN + timedelta(days=1))
    late = [r for r in after if r not in before]
    assert len(late) == 10
    assert all(DAY_START <= datetime.fromisoformat(r["submitTime"]) <= TEN for r in late)
    now = live.records_for_window(*read)
    assert [r for r in late if r in now] == [
        r for r in late if datetime.fromisoformat(r["hangupTime"]) <= TEN
    ]


def test_an_oracle_instant_must_carry_its_zone(live):
    with pytest.raises(ValueError, match="zone-aware"):
        live.records_for_window(*window(DAY_START, TEN), as_of=datetime(2026, 3, 9, 2))
    # The instant may be written in any zone.
    assert live.records_for_window(
        *window(DAY_START, TEN), as_of=TEN.astimezone(UTC)
    ) == live.records_for_window(*window(DAY_START, TEN))
