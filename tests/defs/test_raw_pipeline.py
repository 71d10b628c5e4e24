"""The raw asset end to end: Dagster run -> real HTTP to the simulator -> a DuckDB file on disk."""

import json
from datetime import date

from dagster import AssetCheckKey

from laaffic_pipeline.defs.laaffic.specs import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.simulator import FaultConfig
from tests.defs.pipeline import make_pipeline
from tests.staged import day_bounds

RAW_ONLY = [RAW_CALL_RECORDS_KEY]
PAGE_CHECK = AssetCheckKey(RAW_CALL_RECORDS_KEY, "page_count_consistency")


def landed(pipeline, day: str) -> list[dict]:
    rows = pipeline.query(
        "SELECT record FROM raw.call_records WHERE partition_date = ? ORDER BY page, position", [day]
    )
    return [json.loads(row[0]) for row in rows]


def truth(pipeline, simulator, day: str) -> list[dict]:
    return simulator.records_for_window(*day_bounds(date.fromisoformat(day), pipeline.settings.timezone))


def test_a_day_lands_exactly_the_simulators_records(monkeypatch, tmp_path, make_simulator):
    simulator = make_simulator(records_per_day=730)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, page_size=50)
    day = pipeline.last_partition

    result = pipeline.run(day, RAW_ONLY)

    assert result.success
    expected = truth(pipeline, simulator, day)
    assert len(expected) > 700
    assert landed(pipeline, day) == expected
    metadata = pipeline.materializations(result, RAW_CALL_RECORDS_KEY)[day].metadata
    assert metadata["dagster/row_count"].value == len(expected)
    assert metadata["pages_fetched"].value == -(-len(expected) // 50)
    assert metadata["window"].value == "{} .. {}".format(*day_bounds(date.fromisoformat(day)))
    checks = pipeline.checks(result)
    assert {name for name, _ in checks} == {
        "page_count_consistency",
        "schema_matches_api_document",
        "archive_matches_raw",
    }
    check = checks[("page_count_consistency", day)]
    assert check.asset_check_key == PAGE_CHECK
    assert check.passed, check.description
    assert checks[("schema_matches_api_document", day)].passed
    assert check.metadata["records_landed"].value == len(expected)


def test_rematerializing_a_partition_replaces_it_without_duplicates(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition
    assert pipeline.run(day, RAW_ONLY).success
    first = landed(pipeline, day)
    second_run = pipeline.run(day, RAW_ONLY)
    assert second_run.success
    assert landed(pipeline, day) == first
    assert pipeline.query("SELECT count(*), count(DISTINCT voice_id) FROM raw.call_records") == [
        (len(first), len(first))
    ]
    pages = pipeline.query("SELECT count(*) FROM raw.call_record_pages WHERE partition_date = ?", [day])
    assert pages == [(-(-len(first) // 100),)]


def test_other_partitions_are_untouched_by_a_neighbours_run(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    previous, day = pipeline.complete_days[-2:]
    assert pipeline.run(previous, RAW_ONLY).success
    before = landed(pipeline, previous)
    assert pipeline.run(day, RAW_ONLY).success
    assert landed(pipeline, previous) == before
    assert landed(pipeline, day) == truth(pipeline, simulator, day)


def test_a_failure_midway_leaves_the_previous_data_intact(monkeypatch, tmp_path, make_simulator):
    simulator = make_simulator(records_per_day=1000)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition
    assert pipeline.run(day, RAW_ONLY).success
    before = landed(pipeline, day)

    # 30% of requests fail and none is retried: the fetch dies partway through the day's 10 pages.
    simulator.faults = FaultConfig(http_5xx_rate=0.3)
    impatient = make_pipeline(monkeypatch, tmp_path, simulator, retry_attempts=1)
    failed = impatient.run(day, RAW_ONLY)

    assert not failed.success
    assert landed(pipeline, day) == before
    assert "HTTP 5" in impatient.failure_message(failed)


def test_bad_credentials_fail_with_a_clear_message_and_no_secret(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    monkeypatch.setenv("LAAFFIC_API_SECRET", "wrong-secret-value")
    result = pipeline.run(pipeline.last_partition, RAW_ONLY)
    assert not result.success
    message = pipeline.failure_message(result)
    assert "status -1" in message
    assert "LAAFFIC_API_SECRET" in message
    assert "wrong-secret-value" not in message


def test_partition_outside_retention_is_refused_before_any_request(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, start_date="2026-01-01")
    first_key = pipeline.defs.resolve_job_def("laaffic_daily").partitions_def.get_first_partition_key()
    simulator.reset_counters()
    result = pipeline.run(first_key, RAW_ONLY)
    assert not result.success
    message = pipeline.failure_message(result)
    assert "retention limit" in message
    assert simulator.request_count == 0


def test_asset_key_and_table_metadata(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    spec = pipeline.defs.get_assets_def(RAW_CALL_RECORDS_KEY).specs_by_key[RAW_CALL_RECORDS_KEY]
    assert spec.metadata["dagster/table_name"] == "raw.call_records"
    columns = {column.name for column in spec.metadata["dagster/column_schema"].columns}
    assert {"partition_date", "voice_id", "record", "page", "fetched_at"} <= columns
