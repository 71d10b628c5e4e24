"""Today, live: one shifted clock drives the simulator and the pipeline through a day. At 10:00
and 13:00 the day is provisional, each refresh landing exactly the calls the simulator had served
by then (the second asking only for what is new); at 02:30 the next morning its read is final.

The day is three days before the machine's date (a partition on any date, within the API's two
months); the simulator's and the pipeline's "now" are the test's clock, the machine's is not used.
"""

import json
import math
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from laaffic_pipeline.defs.laaffic.specs import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.simulator import SettableClock
from tests.defs.pipeline import Pipeline, make_pipeline

PAGE_SIZE = 100
CALLS_PER_DAY = 2000
DAY = datetime.now(UTC).date() - timedelta(days=3)
NEXT_DAY = DAY + timedelta(days=1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


@pytest.fixture
def live(monkeypatch, tmp_path, make_simulator):
    clock = SettableClock(at(DAY, 10))
    # The client signs with the machine's clock, days away from the test's: the simulator is told
    # to accept it (its Timestamp check is tested on its own).
    simulator = make_simulator(records_per_day=CALLS_PER_DAY, clock=clock, timestamp_tolerance_s=30 * 86_400)
    # The default overlap and lag (65 minutes): the simulator's calls last at most 60 min 34 s.
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, page_size=PAGE_SIZE, final_lag_min=65)
    return clock, simulator, pipeline


def refresh_at(clock: SettableClock, simulator, pipeline: Pipeline, moment: datetime):
    """Move the clock to ``moment`` and materialize the day as of then; the run and its requests."""
    clock.set(moment)
    simulator.reset_counters()
    result = pipeline.run(
        DAY.isoformat(), run_config={"resources": {"clock": {"config": {"at": moment.isoformat()}}}}
    )
    assert result.success, pipeline.failure_message(result)
    return result, simulator.request_count


def landed_by_voice_id(pipeline: Pipeline) -> dict[str, dict]:
    rows = pipeline.query("SELECT record FROM raw.call_records WHERE partition_date = ?", [DAY])
    records = [json.loads(record) for (record,) in rows]
    return {record["voiceId"]: record for record in records}


def cost_by_currency(records) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for record in records:
        totals[record["currency"].upper()] += Decimal(record["cost"])
    return dict(totals)


def assert_day_is(pipeline: Pipeline, truth: list[dict], *, final: bool) -> None:
    """Raw, call facts and daily costs hold exactly ``truth``, marked final or not."""
    landed = landed_by_voice_id(pipeline)
    assert len(landed) == len(truth)
    assert landed == {record["voiceId"]: record for record in truth}
    facts = pipeline.query("SELECT count(*), bool_and(is_final), bool_or(is_final) FROM marts.call_facts")
    assert facts == [(len(truth), final, final)]
    costs = pipeline.query(
        "SELECT currency, sum(total_cost), bool_and(is_final) FROM marts.daily_costs GROUP BY ALL ORDER BY 1"
    )
    assert {currency: total for currency, total, _ in costs} == cost_by_currency(truth)
    assert {is_final for _, _, is_final in costs} == {final}


def test_today_refreshed_at_ten_and_thirteen_then_final_after_midnight(live):
    clock, simulator, pipeline = live

    # 10:00: the day so far.
    ten, _ = refresh_at(clock, simulator, pipeline, at(DAY, 10))
    truth_ten = simulator.records_for_local_day(DAY, "UTC", as_of=at(DAY, 10))
    assert 0 < len(truth_ten) < CALLS_PER_DAY
    assert_day_is(pipeline, truth_ten, final=False)
    raw = Pipeline.materializations(ten, RAW_CALL_RECORDS_KEY)[DAY.isoformat()].metadata
    assert raw["is_final"].value is False
    assert raw["window"].text == f"{DAY}T00:00:00+00:00 .. {DAY}T10:00:00+00:00"
    checks = Pipeline.checks(ten)
    assert checks["page_count_consistency", DAY.isoformat()].passed
    assert ("archive_matches_raw", DAY.isoformat()) not in checks  # archived once final

    # 13:00: only what is new since 10:00 minus the 65 minutes of overlap is asked for.
    _, requests = refresh_at(clock, simulator, pipeline, at(DAY, 13))
    truth_thirteen = simulator.records_for_local_day(DAY, "UTC", as_of=at(DAY, 13))
    assert_day_is(pipeline, truth_thirteen, final=False)
    window = simulator.records_for_window(f"{DAY}T09:00:00+00:00", f"{DAY}T13:00:00+00:00", as_of=at(DAY, 13))
    full_read = math.ceil(len(truth_thirteen) / PAGE_SIZE)
    assert requests == max(1, math.ceil(len(window) / PAGE_SIZE))
    assert requests < full_read

    # 02:30 the next morning (past the 65 minutes of lag): the final read, the whole day.
    final, _ = refresh_at(clock, simulator, pipeline, at(NEXT_DAY, 2, 30))
    truth_final = simulator.records_for_local_day(DAY, "UTC", as_of=at(NEXT_DAY, 2, 30))
    assert len(truth_final) > len(truth_thirteen)
    assert_day_is(pipeline, truth_final, final=True)
    raw = Pipeline.materializations(final, RAW_CALL_RECORDS_KEY)[DAY.isoformat()].metadata
    assert raw["is_final"].value is True
    assert Pipeline.checks(final)["archive_matches_raw", DAY.isoformat()].passed
    assert pipeline.query("SELECT count(*) FROM raw.provisional_days") == [(0,)]


def test_within_the_lag_after_midnight_the_day_is_still_provisional(live):
    clock, simulator, pipeline = live
    refresh_at(clock, simulator, pipeline, at(DAY, 23))
    refresh_at(clock, simulator, pipeline, at(NEXT_DAY, 0, 30))
    truth = simulator.records_for_local_day(DAY, "UTC", as_of=at(NEXT_DAY, 0, 30))
    assert_day_is(pipeline, truth, final=False)
    windows = pipeline.query("SELECT DISTINCT str_time, end_time FROM raw.call_record_pages")
    assert windows == [(f"{DAY}T21:55:00+00:00", f"{NEXT_DAY}T00:00:00+00:00")]
