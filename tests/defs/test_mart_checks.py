from datetime import timedelta

import duckdb
import pytest
from dagster import AssetCheckSeverity, DagsterInstance

from laaffic_pipeline.defs.marts.checks import (
    billing_result,
    call_facts_results,
    daily_costs_results,
    flagged_share_result,
    required_fields_result,
    totals_result,
    voice_id_not_null_result,
    voice_id_unique_result,
)
from laaffic_pipeline.defs.marts.specs import CALL_FACTS_KEY, DAILY_COSTS_KEY
from laaffic_pipeline.settings import PipelineSettings
from laaffic_pipeline.warehouse.marts import figures_by_day, rebuild_marts
from tests.defs.pipeline import load_definitions, set_pipeline_env
from tests.warehouse.mart_inputs import DAY, MISSING, call, land, unanswered

PREVIOUS_DAY = DAY - timedelta(days=1)


@pytest.fixture
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def query_one(conn, name, day):
    """The one row a check's statement returns for ``day`` judged alone."""
    (row,) = figures_by_day(conn, name, [day])[day]
    return row


def query_all(conn, name, day):
    """Every row a check's statement returns for ``day`` judged alone."""
    return figures_by_day(conn, name, [day])[day]


def build(conn, day=DAY) -> None:
    rebuild_marts(conn, [day])
    rebuild_marts(conn, [day])


def test_a_clean_day_passes_every_check(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("a"), call("b"), unanswered("c")]])
    build(conn)
    results = [
        voice_id_unique_result(query_one(conn, "check_call_facts_voice_ids", DAY)),
        voice_id_not_null_result(query_one(conn, "check_call_facts_voice_ids", DAY)),
        required_fields_result(query_one(conn, "check_call_facts_required_fields", DAY)),
        flagged_share_result(query_one(conn, "check_call_facts_flagged_share", DAY), 0.05),
        billing_result(query_one(conn, "check_call_facts_billing", DAY)),
        totals_result(query_all(conn, "check_daily_costs_totals", DAY)),
    ]
    assert [result.passed for result in results] == [True] * 6


def test_a_missing_voice_id_fails_not_null_and_warns_required_fields(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("a"), call(MISSING)]])
    build(conn)
    figures = query_one(conn, "check_call_facts_voice_ids", DAY)
    not_null = voice_id_not_null_result(figures)
    assert (not_null.passed, not_null.severity) == (False, AssetCheckSeverity.ERROR)
    assert not_null.metadata["rows_without_voice_id"].value == 1
    assert voice_id_unique_result(figures).passed  # a NULL is not a repeated id
    required = required_fields_result(query_one(conn, "check_call_facts_required_fields", DAY))
    assert (required.passed, required.severity) == (False, AssetCheckSeverity.WARN)
    assert required.metadata["rows_missing_value"].value == {"voice_id": 1}


def test_required_fields_names_each_missing_column(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("a", cost="N/A", currency=""), call("b", cost="N/A")]])
    build(conn)
    result = required_fields_result(query_one(conn, "check_call_facts_required_fields", DAY))
    assert result.metadata["rows_missing_value"].value == {"cost": 2, "currency": 1}


def test_a_voice_id_stored_on_two_days_fails_uniqueness_on_both(conn, tmp_path):
    """Built before the previous day landed, a boundary call stays in both days until rebuilt."""
    land(conn, tmp_path, DAY, [[call("edge"), call("a")]])
    rebuild_marts(conn, [DAY])
    land(conn, tmp_path, PREVIOUS_DAY, [[call("edge")]])
    rebuild_marts(conn, [PREVIOUS_DAY])

    for day in (PREVIOUS_DAY, DAY):
        result = voice_id_unique_result(query_one(conn, "check_call_facts_voice_ids", day))
        assert (result.passed, result.severity) == (False, AssetCheckSeverity.ERROR)
        assert result.metadata["repeated_voice_ids"].value == 1
        assert result.metadata["sample_repeated_voice_ids"].value == [f"edge on {PREVIOUS_DAY}, {DAY}"]

    rebuild_marts(conn, [DAY])  # the rebuild leaves it to the earlier day
    assert voice_id_unique_result(query_one(conn, "check_call_facts_voice_ids", DAY)).passed


def test_a_batch_of_days_is_judged_as_each_day_alone(conn, tmp_path):
    """One query for a batch gives each day (a clean one, a flawed one, an empty one) the results
    it gets judged alone."""
    empty_day = DAY + timedelta(days=1)
    land(conn, tmp_path, DAY, [[call("edge"), call("a"), unanswered("b")]])
    rebuild_marts(conn, [DAY])  # built before the previous day landed: "edge" stays in both days
    land(conn, tmp_path, PREVIOUS_DAY, [[call("edge"), call("p", cost="N/A"), call(MISSING)]])
    rebuild_marts(conn, [PREVIOUS_DAY])
    batch = [PREVIOUS_DAY, DAY, empty_day]

    def judged(days):
        facts, costs = call_facts_results(conn, days, 0.05), daily_costs_results(conn, days, 5.0, 10.0)
        return {
            day: [(r.check_name, r.passed, r.description, r.metadata) for r in facts[day] + costs[day]]
            for day in days
        }

    together = judged(batch)
    assert list(together) == batch
    assert together == {day: judged([day])[day] for day in batch}
    assert [passed for _, passed, _, _ in together[DAY]][:2] == [False, True]  # edge repeated; no null id


@pytest.mark.parametrize(
    ("flagged", "rows", "threshold", "passed"),
    [(0, 20, 0.05, True), (1, 20, 0.05, True), (2, 20, 0.05, False), (2, 20, 0.10, True), (3, 3, 1.0, True)],
)
def test_flagged_share_is_compared_with_the_threshold(conn, tmp_path, flagged, rows, threshold, passed):
    records = [call(f"bad-{n}", cost="N/A") for n in range(flagged)]
    records += [call(f"ok-{n}") for n in range(rows - flagged)]
    land(conn, tmp_path, DAY, [records])
    build(conn)
    result = flagged_share_result(query_one(conn, "check_call_facts_flagged_share", DAY), threshold)
    assert (result.passed, result.severity) == (passed, AssetCheckSeverity.WARN)
    assert result.metadata["flagged_share"].value == pytest.approx(flagged / rows)
    assert result.metadata["rows_per_flag"].value == ({"invalid_cost": flagged} if flagged else {})


def test_an_empty_day_has_no_flagged_share(conn):
    build(conn)
    result = flagged_share_result(query_one(conn, "check_call_facts_flagged_share", DAY), 0.05)
    assert result.passed
    assert result.metadata["rows"].value == 0


def test_billing_mismatches_are_counted_with_ten_samples(conn, tmp_path):
    records = [call(f"over-{n:02d}", chargedDuration=180, cost="0.0375") for n in range(12)]
    records += [call("cheap", cost="0.02"), call("ok"), call("unknown", billPeriod="7x")]
    land(conn, tmp_path, DAY, [records])
    build(conn)
    result = billing_result(query_one(conn, "check_call_facts_billing", DAY))
    assert (result.passed, result.severity) == (False, AssetCheckSeverity.WARN)
    figures = {name: value.value for name, value in result.metadata.items()}
    assert figures["charged_duration_mismatches"] == 12
    assert figures["cost_mismatches"] == 13
    assert figures["unreconciled_rows"] == 1
    assert figures["sample_charged_duration_mismatches"] == [f"over-{n:02d}" for n in range(10)]
    assert figures["sample_cost_mismatches"] == ["cheap", *[f"over-{n:02d}" for n in range(9)]]


def test_totals_differing_from_the_facts_fail_for_that_currency(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("u"), call("e", currency="EUR"), call("x", currency=MISSING)]])
    build(conn)
    assert totals_result(query_all(conn, "check_daily_costs_totals", DAY)).passed

    conn.execute("UPDATE marts.daily_costs SET total_cost = total_cost + 0.000001 WHERE currency = 'EUR'")
    result = totals_result(query_all(conn, "check_daily_costs_totals", DAY))
    assert (result.passed, result.severity) == (False, AssetCheckSeverity.ERROR)
    assert result.metadata["differing_currencies"].value == ["EUR"]
    assert "| EUR |" in result.metadata["per_currency"].value

    conn.execute("DELETE FROM marts.daily_costs WHERE currency IS NULL")
    assert totals_result(query_all(conn, "check_daily_costs_totals", DAY)).metadata[
        "differing_currencies"
    ].value == ["EUR", None]


def test_marts_and_checks_run_in_dagster_for_one_partition(monkeypatch, tmp_path):
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as conn:  # the raw asset's work, done directly
        land(
            conn,
            tmp_path,
            DAY,
            [[call("a"), call("b", currency="EUR"), call("c", cost="N/A"), unanswered("d")]],
        )
    set_pipeline_env(
        monkeypatch,
        {"start_date": DAY - timedelta(days=3), "duckdb_path": database, "max_flagged_share": 0.5},
    )
    result = (
        load_definitions()
        .resolve_job_def("laaffic_daily")
        .execute_in_process(
            partition_key=DAY.isoformat(),
            asset_selection=[CALL_FACTS_KEY, DAILY_COSTS_KEY],
            instance=DagsterInstance.ephemeral(),
        )
    )

    assert result.success
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    assert {name: check.passed for name, check in checks.items()} == {
        "voice_id_unique": True,
        "voice_id_not_null": True,
        "required_fields_present": False,  # c's cost
        "flagged_share_below_threshold": True,  # 1 of 4 <= 0.5
        "billing_reconciles": True,
        "totals_match_call_facts": True,
        "costs_within_trailing_band": True,  # not judged: no history
        "spend_rate_within_band": True,  # not judged: a final day
    }
    assert {check.partition for check in checks.values()} == {DAY.isoformat()}
    facts, costs = (
        {
            e.event_specific_data.materialization.asset_key: e.event_specific_data.materialization
            for e in result.get_asset_materialization_events()
        }[key]
        for key in (CALL_FACTS_KEY, DAILY_COSTS_KEY)
    )
    assert (facts.asset_key, costs.asset_key) == (CALL_FACTS_KEY, DAILY_COSTS_KEY)
    assert facts.metadata["dagster/row_count"].value == 4
    assert costs.metadata["dagster/row_count"].value == 2
    summary = costs.metadata["by_currency"].value
    assert summary.splitlines()[0].startswith("| currency | calls | answered_calls | asr |")
    assert "| USD | 3 | 2 | 0.6667 |" in summary


def test_the_flagged_share_threshold_comes_from_the_environment():
    assert PipelineSettings.from_env({}).marts.max_flagged_share == 0.05
    assert PipelineSettings.from_env({"LAAFFIC_MAX_FLAGGED_SHARE": "0.2"}).marts.max_flagged_share == 0.2
