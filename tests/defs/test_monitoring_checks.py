"""The schema-drift and cost-anomaly checks inside a real daily run."""

from collections import Counter
from datetime import date

from laaffic_pipeline.simulator import FaultConfig
from laaffic_pipeline.simulator.faults import malformation_for
from tests.defs.pipeline import make_pipeline

SCHEMA_DRIFT_CHECK_NAME = "schema_matches_api_document"
COST_ANOMALY_CHECK_NAME = "costs_within_trailing_band"


def test_malformed_records_show_as_drift_counted_like_the_simulator_broke_them(
    monkeypatch, tmp_path, make_simulator
):
    faults = FaultConfig(malformed_rate=0.2, fault_seed=3)
    simulator = make_simulator(records_per_day=400)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition
    clean = simulator.records_for_local_day(date.fromisoformat(day), "UTC")
    broken = Counter(malformation_for(r["voiceId"], faults.fault_seed, faults.malformed_rate) for r in clean)
    simulator.faults = faults

    result = pipeline.run(day)

    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    drift = checks[SCHEMA_DRIFT_CHECK_NAME]
    assert not drift.passed and drift.severity.value == "WARN"
    counts = {
        kind: {label: v["records"] for label, v in drift.metadata[f"{kind}s"].value.items()}
        for kind in ("new_key", "missing_key", "type_change")
    }
    assert counts == {
        "new_key": {"carrierRoute": broken["extra_field"]},
        "missing_key": {"voiceId": broken["missing_voice_id"]},
        "type_change": {
            "callDuration: integer -> string": broken["durations_as_strings"],
            "chargedDuration: integer -> string": broken["durations_as_strings"],
        },
    }
    anomaly = checks[COST_ANOMALY_CHECK_NAME]
    assert anomaly.passed and anomaly.metadata["judged"].value is False  # no history yet


def test_the_simulators_normal_day_passes_both_checks(monkeypatch, tmp_path, make_simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, make_simulator(records_per_day=200))

    result = pipeline.run(pipeline.last_partition)

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[SCHEMA_DRIFT_CHECK_NAME].passed, checks[SCHEMA_DRIFT_CHECK_NAME].description
    assert checks[COST_ANOMALY_CHECK_NAME].passed
    assert "not judged: 0 built days" in checks[COST_ANOMALY_CHECK_NAME].description
