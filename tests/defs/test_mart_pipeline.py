"""The daily job end to end: simulator -> raw -> marts -> every check, against the simulator's truth."""

from collections import defaultdict
from decimal import Decimal

from laaffic_pipeline.defs.partitions import partition_window
from laaffic_pipeline.simulator import FaultConfig
from tests.defs.pipeline import make_pipeline


def test_the_daily_job_builds_marts_that_agree_with_the_simulator(monkeypatch, tmp_path, make_simulator):
    simulator = make_simulator(records_per_day=400)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition

    result = pipeline.run(day)

    assert result.success
    checks = {c.asset_check_key.name: c for c in result.get_asset_check_evaluations()}
    assert len(checks) == 7
    assert all(check.passed for check in checks.values()), {n: c.description for n, c in checks.items()}
    window = partition_window(pipeline.defs.resolve_job_def("laaffic_daily").partitions_def, day)
    truth = simulator.records_for_window(window.str_time, window.end_time)
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
    assert failed == {"voice_id_not_null", "required_fields_present", "flagged_share_below_threshold"}
    window = partition_window(pipeline.defs.resolve_job_def("laaffic_daily").partitions_def, day)
    truth = simulator.records_for_window(window.str_time, window.end_time)
    assert pipeline.query("SELECT count(*) FROM marts.call_facts") == [(len(truth),)]
    flagged = checks["flagged_share_below_threshold"].metadata["rows_per_flag"].value
    assert {"missing_voice_id", "invalid_cost", "call_duration_as_string", "invalid_bill_period"} <= set(
        flagged
    )
