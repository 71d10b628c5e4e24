"""The daily job end to end: simulator -> raw -> marts -> every check, against the simulator's truth."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from dagster import AssetKey

from laaffic_pipeline.simulator import FaultConfig
from tests.defs.pipeline import make_pipeline
from tests.staged import day_bounds


def test_the_daily_job_builds_marts_that_agree_with_the_simulator(monkeypatch, tmp_path, make_simulator):
    simulator = make_simulator(records_per_day=400)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition

    result = pipeline.run(day)

    assert result.success
    checks = {c.asset_check_key.name: c for c in result.get_asset_check_evaluations()}
    assert len(checks) == 11
    assert all(check.passed for check in checks.values()), {n: c.description for n, c in checks.items()}
    window = day_bounds(date.fromisoformat(day), pipeline.settings.timezone)
    truth = simulator.records_for_window(*window)
    cost = defaultdict(Decimal)
    for record in truth:
        cost[record["currency"]] += Decimal(record["cost"])
    assert dict(
        pipeline.query(
            "SELECT currency, total_cost FROM marts.daily_costs_by_currency WHERE call_date = ?", [day]
        )
    ) == dict(cost)
    assert pipeline.query("SELECT count(*), count(DISTINCT voice_id) FROM marts.call_facts") == [
        (len(truth), len(truth))
    ]


def test_malformed_records_are_kept_flagged_and_reported(monkeypatch, tmp_path, make_simulator):
    simulator = make_simulator(records_per_day=400, faults=FaultConfig(malformed_rate=0.2, fault_seed=3))
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, max_flagged_share=0.01)
    day = pipeline.last_partition

    result = pipeline.run(day)

    assert result.success  # failed checks are reported, not blocking
    checks = {c.asset_check_key.name: c for c in result.get_asset_check_evaluations()}
    failed = {name for name, check in checks.items() if not check.passed}
    assert failed == {
        "voice_id_not_null",
        "required_fields_present",
        "flagged_share_below_threshold",
        "schema_matches_api_document",  # durations sent as strings, a field missing, one unknown
    }
    window = day_bounds(date.fromisoformat(day), pipeline.settings.timezone)
    truth = simulator.records_for_window(*window)
    assert pipeline.query("SELECT count(*) FROM marts.call_facts") == [(len(truth),)]
    flagged = checks["flagged_share_below_threshold"].metadata["rows_per_flag"].value
    assert {"missing_voice_id", "invalid_cost", "call_duration_as_string", "invalid_bill_period"} <= set(
        flagged
    )


def test_each_materialization_exports_its_day_and_summarizes_it_per_currency(
    monkeypatch, tmp_path, make_simulator
):
    pipeline = make_pipeline(monkeypatch, tmp_path, make_simulator(records_per_day=300))
    day = pipeline.last_partition
    exports = tmp_path / "warehouse" / "exports"

    first = pipeline.run(day)
    inodes = {path: path.stat().st_ino for path in exports.glob("*/*.parquet")}
    second = pipeline.run(day)

    assert first.success and second.success
    facts, costs = (
        pipeline.materializations(second, AssetKey(["marts", table]))[day]
        for table in ("call_facts", "daily_costs")
    )
    for table, materialization in (("call_facts", facts), ("daily_costs", costs)):
        path = exports / table / f"call_date={day}.parquet"
        assert materialization.metadata["export_path"].value == str(path)
        assert path.stat().st_ino != inodes[path]  # replaced by the second run
        assert sorted(path.parent.iterdir()) == [path]  # no temporary file left
        assert pipeline.query(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL") == pipeline.query(
            f"SELECT * FROM marts.{table} WHERE call_date = ? ORDER BY ALL", [day]
        )

    # The day's per-currency cost and ASR, as the dashboard view computes them.
    summary = costs.metadata["by_currency"].value.splitlines()
    assert summary[0] == (
        "| currency | calls | answered_calls | asr | acd_s | total_cost | expected_cost | cost_difference |"
    )
    view = pipeline.query(
        "SELECT currency, calls, answered_calls, asr, total_cost FROM marts.daily_costs_by_currency "
        "WHERE call_date = ? ORDER BY currency",
        [day],
    )
    assert [row[0] for row in view] == ["EUR", "USD"]
    assert len(summary) == 2 + len(view)
    for line, (currency, calls, answered, asr, cost) in zip(summary[2:], view, strict=True):
        assert line.startswith(f"| {currency} | {calls} | {answered} | {asr:.4f} | ")
        assert f" | {cost} | " in line
