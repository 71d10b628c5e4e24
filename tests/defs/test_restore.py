"""A deleted warehouse rebuilt from the archive alone: raw record for record, the marts through
Dagster and exact against the simulator's truth, with the simulator stopped (issue 20)."""

import shutil
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from laaffic_pipeline.cli import main
from tests.defs.pipeline import make_pipeline

RAW = (
    "SELECT partition_date, sip_group_name, page, position, voice_id, record, fetched_at "
    "FROM raw.call_records ORDER BY ALL"
)
PAGES = "SELECT * FROM raw.call_record_pages ORDER BY ALL"


def test_restore_rebuilds_a_deleted_warehouse_from_the_archive_alone(
    monkeypatch, tmp_path, make_simulator, capsys
):
    simulator = make_simulator(records_per_day=150)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, archive_url=tmp_path / "archive")
    days = pipeline.complete_days[-3:]
    assert pipeline.run_range(days[0], days[-1]).success
    raw_before, pages_before = pipeline.query(RAW), pipeline.query(PAGES)
    truth = {day: simulator.records_for_local_day(date.fromisoformat(day), "UTC") for day in days}
    simulator.stop()  # nothing could answer an API request from here on
    warehouse = Path(pipeline.duckdb_path)
    warehouse.unlink()
    shutil.rmtree(warehouse.parent / "exports")
    (warehouse.parent / "analytics.duckdb").unlink()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()

    assert main(["restore"]) == 0

    out = capsys.readouterr().out
    assert f"Restored 3 day(s) of raw from {tmp_path / 'archive'}" in out
    assert f"Built the marts of {days[0]} .. {days[-1]} through Dagster" in out
    assert pipeline.query(RAW) == raw_before
    assert pipeline.query(PAGES) == pages_before
    facts = dict(pipeline.query("SELECT call_date::VARCHAR, count(*) FROM marts.call_facts GROUP BY 1"))
    assert facts == {day: len(records) for day, records in truth.items()}
    expected = defaultdict(Decimal)
    for day, records in truth.items():
        for record in records:
            expected[(day, record["currency"])] += Decimal(record["cost"])
    with duckdb.connect(str(warehouse.parent / "analytics.duckdb"), read_only=True) as analytics:
        totals = analytics.execute(
            "SELECT call_date::VARCHAR, currency, total_cost FROM marts.daily_costs_by_currency"
        ).fetchall()
    assert {(day, currency): total for day, currency, total in totals} == dict(expected)


def test_restore_refuses_a_warehouse_that_already_holds_the_days(
    monkeypatch, tmp_path, make_simulator, capsys
):
    simulator = make_simulator(records_per_day=50)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, archive_url=tmp_path / "archive")
    day = pipeline.last_partition
    assert pipeline.run(day).success
    before = pipeline.query(RAW)

    assert main(["restore"]) != 0

    assert day in capsys.readouterr().err
    assert pipeline.query(RAW) == before


def test_a_day_read_per_sip_group_is_restored_with_its_groups_and_passes_its_page_check(
    monkeypatch, tmp_path, make_simulator, capsys
):
    simulator = make_simulator(records_per_day=150)
    pipeline = make_pipeline(
        monkeypatch, tmp_path, simulator, archive_url=tmp_path / "archive", sip_groups="sales,support"
    )
    day = pipeline.last_partition
    assert pipeline.run(day).success
    raw_before, pages_before = pipeline.query(RAW), pipeline.query(PAGES)
    assert {row[1] for row in raw_before} == {"sales", "support"}
    simulator.stop()
    Path(pipeline.duckdb_path).unlink()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()

    assert main(["restore"]) == 0

    assert pipeline.query(RAW) == raw_before
    assert pipeline.query(PAGES) == pages_before
    # The marts run after the restore judges each group's window again (it fails a day whose page
    # check fails): built, the day's facts are its restored records.
    assert pipeline.query("SELECT count(*) FROM marts.call_facts") == [(len(raw_before),)]
