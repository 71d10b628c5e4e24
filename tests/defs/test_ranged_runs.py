"""Days through the one step, alone and as ranges, against the simulator's own truth per local day.

The truth is ``records_for_local_day(day, zone)``: the simulator's own reading of "calls whose
submitTime falls on local day D in zone Z", which shares no code with the pipeline's windows.
"""

import calendar
import itertools
import json
import math
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
from dagster import AssetKey

from laaffic_pipeline.simulator import FaultConfig, LaafficSimulator
from laaffic_pipeline.warehouse.landing import replace_raw_partition
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead
from tests.conftest import TEST_API_KEY, TEST_API_SECRET
from tests.defs.pinned_clock import run_day_at
from tests.defs.pipeline import make_pipeline

RAW = AssetKey(["raw", "call_records"])
FACTS = AssetKey(["marts", "call_facts"])
COSTS = AssetKey(["marts", "daily_costs"])


def landed(pipeline, day: str) -> list[dict]:
    rows = pipeline.query(
        "SELECT record FROM raw.call_records WHERE partition_date = ? ORDER BY page, position", [day]
    )
    return [json.loads(row[0]) for row in rows]


def fact_days(pipeline) -> dict[str, int]:
    return {
        str(day): n
        for day, n in pipeline.query("SELECT call_date, count(*) FROM marts.call_facts GROUP BY 1")
    }


def test_a_range_east_of_utc_lands_each_local_day_with_its_own_results(monkeypatch, tmp_path, make_simulator):
    simulator = make_simulator(records_per_day=300)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, timezone="Asia/Kolkata", page_size=40)
    days = pipeline.complete_days[-3:]

    result = pipeline.run_range(days[0], days[-1])

    assert result.success, pipeline.failure_message(result)
    for day in days:
        truth = simulator.records_for_local_day(date.fromisoformat(day), "Asia/Kolkata")
        assert len(truth) > 250
        assert landed(pipeline, day) == truth, day
    raw = pipeline.materializations(result, RAW)
    assert sorted(raw) == days
    assert raw[days[0]].metadata["window"].value == f"{days[0]}T00:00:00+05:30 .. {days[1]}T00:00:00+05:30"
    assert {day: m.metadata["dagster/row_count"].value for day, m in raw.items()} == {
        day: len(simulator.records_for_local_day(date.fromisoformat(day), "Asia/Kolkata")) for day in days
    }
    assert sorted(pipeline.materializations(result, FACTS)) == days
    assert sorted(pipeline.materializations(result, COSTS)) == days
    checks = pipeline.checks(result)
    assert {partition for _, partition in checks} == set(days)  # every result on its own day
    assert all(checks[("page_count_consistency", day)].passed for day in days)
    assert len(checks) == 11 * len(days)  # 3 raw checks (archive included) and 8 of the marts
    # The UI's runs list shows a ranged run's days (a single day has its partition badge).
    run = pipeline.instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags["laaffic/days"] == f"{days[0]}...{days[-1]} (3 days)"


def test_a_range_builds_each_batch_of_marts_while_the_days_after_it_are_still_being_read_on_one_extra_thread(
    monkeypatch, tmp_path, make_simulator
):
    # One day read at a time, so requests come day by day. The eighth day's first answer is held
    # back until the first week's call facts are exported: a step that builds the marts only
    # once every day has landed would hold it back for all of 20 s (the client waits 30 s).
    exports = tmp_path / "warehouse" / "exports" / "call_facts"
    answers = itertools.count(1)
    waited: list[bool] = []
    first_week_requests = 0
    threads_seen: set[str] = set()

    def sleep(seconds: float) -> None:
        threads_seen.update(thread.name for thread in threading.enumerate())
        if next(answers) == first_week_requests + 1:
            week = [exports / f"call_date={day}.parquet" for day in days[:7]]
            waited.append(wait_until(lambda: all(path.exists() for path in week), timeout_s=20))

    simulator = make_simulator(records_per_day=120, sleep=sleep, latency_ms=1)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, days_in_flight=1, page_size=40)
    days = pipeline.complete_days[-8:]
    pages = {
        day: max(1, math.ceil(len(simulator.records_for_local_day(date.fromisoformat(day), "UTC")) / 40))
        for day in days
    }
    first_week_requests = sum(pages[day] for day in days[:7])

    result = pipeline.run_range(days[0], days[-1])

    assert result.success, pipeline.failure_message(result)
    assert waited == [True]  # the first week was exported before the eighth day's first answer
    # The step's own thread and one background thread for the reads, no pools of workers of the
    # pipeline's (asyncio's own resolver may run getaddrinfo in an `asyncio_N` thread).
    assert "laaffic-fetch" in threads_seen
    assert not [
        name for name in threads_seen if name.startswith(("ThreadPoolExecutor", "laaffic-m", "laaffic-l"))
    ]
    assert sorted(pipeline.materializations(result, FACTS)) == days
    # Each day's own requests: one per page, none retried (the run's are logged, not per day).
    for day, materialization in pipeline.materializations(result, RAW).items():
        metadata = materialization.metadata
        assert (metadata["requests_sent"].value, metadata["request_retries"].value) == (pages[day], 0), day


def wait_until(done, timeout_s: float) -> bool:
    """Poll ``done`` until it holds (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_failure_while_building_the_marts_stops_the_reads_still_under_way(
    monkeypatch, tmp_path, make_simulator
):
    # One day read at a time; every answer after the first week's is held back (up to a minute),
    # so the eighth day is being read when the first week's marts fail. A step that went on
    # reading would land the last day after that minute; one that stops never does.
    released = threading.Event()
    answers = itertools.count(1)
    first_week_requests = 0

    def sleep(seconds: float) -> None:
        if next(answers) > first_week_requests:
            released.wait(timeout=60)

    simulator = make_simulator(records_per_day=120, sleep=sleep, latency_ms=1)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, days_in_flight=1)
    days = pipeline.complete_days[-10:]
    first_week_requests = sum(
        max(1, math.ceil(len(simulator.records_for_local_day(date.fromisoformat(day), "UTC")) / 100))
        for day in days[:7]
    )

    def broken_rebuild(*args, **kwargs):
        raise RuntimeError("the marts could not be built")

    monkeypatch.setattr("laaffic_pipeline.defs.daily.rebuild_marts", broken_rebuild)
    try:
        result = pipeline.run_range(days[0], days[-1])
        stored = {
            str(day) for (day,) in pipeline.query("SELECT DISTINCT partition_date FROM raw.call_records")
        }
    finally:
        released.set()

    assert not result.success
    assert "the marts could not be built" in pipeline.failure_message(result)
    assert not [thread for thread in threading.enumerate() if thread.name == "laaffic-fetch"]
    assert stored == set(days[:7])  # the reads stopped with the step


def test_a_dst_day_west_of_utc_is_its_25_hour_local_day(tmp_path):
    # 2026-11-01 in New York: clocks go back, the day runs from -04:00 to -05:00. The clock is
    # pinned two days later, so the day is one the API serves whatever the real date.
    ran = run_day_at("2026-11-03 12:00:00", "2026-11-01", {"timezone": "America/New_York"}, tmp_path, 300)

    assert ran["success"]
    truth = LaafficSimulator(TEST_API_KEY, TEST_API_SECRET, records_per_day=300).records_for_local_day(
        date(2026, 11, 1), "America/New_York"
    )
    assert ran["records"] == truth
    assert len(truth) > 300  # 25 hours of a 300-a-day simulator
    assert ran["window"] == "2026-11-01T00:00:00-04:00 .. 2026-11-02T00:00:00-05:00"
    assert all(ran["checks_passed"])


def test_a_day_failing_its_page_check_stays_out_of_the_marts_while_the_rest_of_the_range_is_built(
    monkeypatch, tmp_path, make_simulator
):
    simulator = make_simulator(records_per_day=200)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    days = pipeline.complete_days[-3:]
    bad = days[1]
    simulator.faults = FaultConfig(total_delta=7, total_delta_day=bad)

    result = pipeline.run_range(days[0], days[-1])

    assert not result.success
    message = pipeline.failure_message(result)
    assert f"{bad}: page_count_consistency failed" in message
    assert "reported total" in message
    assert sorted(pipeline.materializations(result, RAW)) == days  # landed, as the API sent it
    assert sorted(pipeline.materializations(result, FACTS)) == [days[0], days[2]]
    assert sorted(pipeline.materializations(result, COSTS)) == [days[0], days[2]]
    checks = pipeline.checks(result)
    assert not checks[("page_count_consistency", bad)].passed
    assert checks[("page_count_consistency", days[0])].passed
    assert set(fact_days(pipeline)) == {days[0], days[2]}


def test_a_single_day_failing_its_page_check_never_reaches_the_marts(monkeypatch, tmp_path, make_simulator):
    simulator = make_simulator(records_per_day=200, faults=FaultConfig(total_delta=5))
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition

    result = pipeline.run(day)

    assert not result.success
    assert not pipeline.checks(result)[("page_count_consistency", day)].passed
    assert pipeline.materializations(result, FACTS) == {}
    assert pipeline.query("SELECT count(*) FROM raw.call_records WHERE partition_date = ?", [day]) == [(200,)]
    marts = pipeline.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'")
    assert ("call_facts",) not in marts or fact_days(pipeline) == {}


def test_a_failed_page_check_is_not_retried_by_the_step_retry_policy(monkeypatch, tmp_path, make_simulator):
    # The API's own figures are off (two reads agreed on them): re-running the step cannot help.
    simulator = make_simulator(records_per_day=50, faults=FaultConfig(total_delta=5))
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, step_retries=2, step_retry_delay_s=0)
    day = pipeline.last_partition

    result = pipeline.run(day)

    assert not result.success
    assert "page_count_consistency failed" in pipeline.failure_message(result)
    assert "STEP_UP_FOR_RETRY" not in [event.event_type_value for event in result.all_events]
    assert pipeline.materializations(result, FACTS) == {}


def first_servable_day(now: datetime) -> date:
    """The first whole UTC day the API serves at ``now``: its 00:00 is at or after the same instant
    two calendar months earlier (the document's "recent two months"), written out here."""
    month = now.month - 2 + (12 if now.month <= 2 else 0)
    year = now.year - (1 if now.month <= 2 else 0)
    floor = now.replace(year=year, month=month, day=min(now.day, calendar.monthrange(year, month)[1]))
    day = floor.date()
    return day if datetime.combine(day, datetime.min.time(), UTC) >= floor else day + timedelta(days=1)


def store_day_directly(pipeline, simulator, day: date) -> list[dict]:
    """Land ``day``'s records as an earlier run did, without the API (the day may be past its
    retention now): the warehouse's own landing of one staged read of them."""
    records = simulator.records_for_local_day(day, "UTC")
    folder = Path(pipeline.duckdb_path).parent / "seed"
    folder.mkdir(parents=True, exist_ok=True)
    staged = StagedNdjsonRead(folder, 1, "256MB")
    pages = max(1, math.ceil(len(records) / 100))
    for number in range(1, pages + 1):
        chunk = records[(number - 1) * 100 : number * 100]
        staged.write_page(
            number, datetime.now(UTC), SimpleNamespace(total=len(records), pages=pages, records=chunk)
        )
    staged.close()
    start = datetime.combine(day, datetime.min.time(), UTC)
    with duckdb.connect(pipeline.duckdb_path) as conn:
        replace_raw_partition(
            conn, day, staged, start.isoformat(), (start + timedelta(days=1)).isoformat(), 1
        )
    return records


def test_a_range_reaching_past_retention_lands_what_the_api_serves_and_fails_once_naming_the_rest(
    monkeypatch, tmp_path, simulator
):
    first = first_servable_day(datetime.now(UTC))
    start = first - timedelta(days=3)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, start_date=start.isoformat())
    servable = [(first + timedelta(days=n)).isoformat() for n in range(2)]
    simulator.reset_counters()

    result = pipeline.run_range(start.isoformat(), servable[-1])

    assert not result.success
    message = pipeline.failure_message(result)
    assert (
        f"3 day(s) {start} .. {first - timedelta(days=1)}: they start before the API's retention limit"
        in message
    )
    assert "nothing was requested for them" in message
    assert sorted(pipeline.materializations(result, RAW)) == servable
    assert sorted(pipeline.materializations(result, FACTS)) == servable
    expected_pages = sum(
        math.ceil(len(simulator.records_for_local_day(date.fromisoformat(day), "UTC")) / 100)
        for day in servable
    )
    assert simulator.request_count == expected_pages  # not one request for the three days before


def test_a_stored_day_past_retention_is_kept_as_stored_and_its_marts_rebuilt_alone_or_in_a_range(
    monkeypatch, tmp_path, simulator
):
    first = first_servable_day(datetime.now(UTC))
    old = first - timedelta(days=1)  # the last day the API no longer serves
    pipeline = make_pipeline(
        monkeypatch, tmp_path, simulator, start_date=(old - timedelta(days=1)).isoformat()
    )
    records = store_day_directly(pipeline, simulator, old)
    stored = (
        "SELECT page, position, fetched_at, record FROM raw.call_records "
        "WHERE partition_date = ? ORDER BY page, position"
    )
    before = pipeline.query(stored, [old])
    simulator.reset_counters()

    alone = pipeline.run(old.isoformat())

    assert alone.success, pipeline.failure_message(alone)
    assert simulator.request_count == 0
    assert pipeline.query(stored, [old]) == before
    assert [json.loads(row[3]) for row in before] == records
    metadata = pipeline.materializations(alone, RAW)[old.isoformat()].metadata
    assert "kept as stored" in metadata["kept_as_stored"].value
    assert metadata["requests_sent"].value == 0
    assert fact_days(pipeline) == {old.isoformat(): len(records)}
    assert pipeline.checks(alone)[("page_count_consistency", old.isoformat())].passed

    in_range = pipeline.run_range((old - timedelta(days=1)).isoformat(), first.isoformat())

    assert not in_range.success  # the day before, with nothing stored, is the one failure
    message = pipeline.failure_message(in_range)
    assert f"1 day(s) {old - timedelta(days=1)}: they start before" in message
    assert str(old) + ":" not in message
    assert pipeline.query(stored, [old]) == before
    built = fact_days(pipeline)
    assert built[old.isoformat()] == len(records)
    assert built[first.isoformat()] == len(simulator.records_for_local_day(first, "UTC"))
    assert sorted(pipeline.materializations(in_range, FACTS)) == [old.isoformat(), first.isoformat()]


def test_the_marts_alone_restate_stored_days_in_another_cost_currency_without_the_api(
    monkeypatch, tmp_path, make_simulator
):
    simulator = make_simulator(records_per_day=150)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    days = pipeline.complete_days[-2:]
    assert pipeline.run_range(days[0], days[-1]).success
    assert {c for (c,) in pipeline.query("SELECT DISTINCT currency FROM marts.daily_costs")} == {"EUR", "USD"}
    simulator.reset_counters()

    restating = make_pipeline(monkeypatch, tmp_path, simulator, cost_currency="USD")
    result = restating.run_range(days[0], days[-1], selection=[FACTS, COSTS])

    assert result.success, restating.failure_message(result)
    assert simulator.request_count == 0
    assert sorted(restating.materializations(result, FACTS)) == days
    assert restating.query("SELECT DISTINCT cost_currency FROM marts.call_facts") == [("USD",)]
    assert restating.query("SELECT DISTINCT currency FROM marts.daily_costs") == [("USD",)]
    # The restatement reaches the Parquet exports and so the analysts' file, with every check.
    exports = Path(restating.duckdb_path).parent / "exports" / "daily_costs"
    assert duckdb.sql(f"SELECT DISTINCT currency FROM read_parquet('{exports}/*.parquet')").fetchall() == [
        ("USD",)
    ]
    analytics = Path(restating.duckdb_path).parent / "analytics.duckdb"
    with duckdb.connect(str(analytics), read_only=True) as conn:
        assert conn.execute("SELECT DISTINCT currency FROM marts.daily_costs").fetchall() == [("USD",)]
    assert {(name, day) for name, day in restating.checks(result)} >= {
        ("totals_match_call_facts", days[0]),
        ("totals_match_call_facts", days[1]),
    }
