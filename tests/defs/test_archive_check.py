"""Each landed day is archived as it lands and checked against its archive (issue 20)."""

import json
from datetime import UTC, date, datetime, timedelta

import duckdb

from laaffic_pipeline.warehouse.archive import list_versions
from tests.defs.pipeline import make_pipeline
from tests.defs.test_ranged_runs import first_servable_day, store_day_directly


def test_a_landed_day_is_archived_and_a_relanded_day_gets_a_new_version(
    monkeypatch, tmp_path, make_simulator
):
    simulator = make_simulator(records_per_day=200)
    archive = tmp_path / "archive"
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, archive_url=archive)
    day = pipeline.last_partition
    truth = simulator.records_for_local_day(date.fromisoformat(day), "UTC")

    first = pipeline.run(day)
    second = pipeline.run(day)  # re-landed: new fetch times, so a new version; the old one stays

    for result in (first, second):
        check = pipeline.checks(result)[("archive_matches_raw", day)]
        assert check.passed, check.description
    versions = list_versions(str(archive), date.fromisoformat(day))
    assert [(v.version, v.records) for v in versions] == [(1, len(truth)), (2, len(truth))]
    records_file = archive / versions[-1].files["call_records"].key
    archived = duckdb.sql(f"SELECT record FROM read_parquet('{records_file}') ORDER BY page, position")
    assert [json.loads(row[0]) for row in archived.fetchall()] == truth


def test_the_archive_check_fails_when_an_archived_file_is_altered(monkeypatch, tmp_path, simulator):
    # A stored day past the API's two months: kept as stored, so each run checks the same version.
    old = first_servable_day(datetime.now(UTC)) - timedelta(days=1)
    archive = tmp_path / "archive"
    pipeline = make_pipeline(
        monkeypatch, tmp_path, simulator, start_date=old.isoformat(), archive_url=archive
    )
    store_day_directly(pipeline, simulator, old)

    kept = pipeline.run(old.isoformat())  # archives the stored day (it had no version yet)
    assert pipeline.checks(kept)[("archive_matches_raw", old.isoformat())].passed
    (version,) = list_versions(str(archive), old)
    records_file = archive / version.files["call_records"].key
    data = bytearray(records_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    records_file.chmod(0o644)
    records_file.write_bytes(bytes(data))

    again = pipeline.run(old.isoformat())

    check = pipeline.checks(again)[("archive_matches_raw", old.isoformat())]
    assert not check.passed
    assert f"{version.files['call_records'].key} was altered" in check.description
    assert [v.version for v in list_versions(str(archive), old)] == [1]  # nothing overwritten
