"""The schema-drift and cost-anomaly checks inside a real daily run, merged into today's definitions."""

from collections import Counter
from dataclasses import replace

from dagster import Definitions

from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.mart_assets import DAILY_COSTS_KEY
from laaffic_pipeline.defs.monitoring_checks import (
    COST_ANOMALY_CHECK_NAME,
    SCHEMA_DRIFT_CHECK_NAME,
    build_cost_anomaly_check,
    build_schema_drift_check,
)
from laaffic_pipeline.defs.partitions import partition_window
from laaffic_pipeline.defs.raw_assets import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.simulator import FaultConfig
from laaffic_pipeline.simulator.faults import malformation_for
from tests.defs.pipeline import make_pipeline


def with_monitoring(pipeline):
    partitions_def = pipeline.defs.resolve_job_def(DAILY_JOB_NAME).partitions_def
    checks = Definitions(
        asset_checks=[
            build_schema_drift_check(RAW_CALL_RECORDS_KEY, partitions_def),
            build_cost_anomaly_check(DAILY_COSTS_KEY, partitions_def),
        ]
    )
    return replace(pipeline, defs=Definitions.merge(pipeline.defs, checks))


def test_malformed_records_show_as_drift_counted_like_the_simulator_broke_them(
    monkeypatch, tmp_path, make_simulator
):
    faults = FaultConfig(malformed_rate=0.2, fault_seed=3)
    simulator = make_simulator(records_per_day=400)
    pipeline = with_monitoring(make_pipeline(monkeypatch, tmp_path, simulator))
    day = pipeline.last_partition
    window = partition_window(pipeline.defs.resolve_job_def(DAILY_JOB_NAME).partitions_def, day)
    clean = simulator.records_for_window(window.str_time, window.end_time)
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
    pipeline = with_monitoring(make_pipeline(monkeypatch, tmp_path, make_simulator(records_per_day=200)))

    result = pipeline.run(pipeline.last_partition)

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[SCHEMA_DRIFT_CHECK_NAME].passed, checks[SCHEMA_DRIFT_CHECK_NAME].description
    assert checks[COST_ANOMALY_CHECK_NAME].passed
    assert "not judged: 0 built days" in checks[COST_ANOMALY_CHECK_NAME].description
