"""Cost anomalies over marts.daily_costs built from 30 simulated days, then one day spiked."""

from datetime import date, timedelta

import duckdb
import pytest

from laaffic_pipeline.warehouse.cost_anomalies import MIN_HISTORY_DAYS, cost_anomalies, flag
from laaffic_pipeline.warehouse.marts import rebuild_marts
from tests.warehouse.mart_inputs import land

FIRST = date(2026, 2, 1)
DAYS = [FIRST + timedelta(days=n) for n in range(30)]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """30 days of the simulator's records, landed and built as the pipeline builds them."""
    from laaffic_pipeline.simulator import LaafficSimulator

    folder = tmp_path_factory.mktemp("anomalies")
    simulator = LaafficSimulator("k", "s")  # only its records are used: never started
    path = folder / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        for day in DAYS:
            land(conn, folder, day, [simulator.records_for_local_day(day, "UTC")])
            rebuild_marts(conn, [day])
            rebuild_marts(conn, [day])
    return path


def test_thirty_normal_days_raise_no_alarm_and_the_first_week_is_not_judged(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        results = [cost_anomalies(conn, day) for day in DAYS]

    assert [r.judged for r in results] == [n >= MIN_HISTORY_DAYS for n in range(30)]
    assert [r.history_days for r in results] == [min(n, 14) for n in range(30)]
    assert all(r.groups for r in results)
    assert {str(r.day): r.flagged for r in results if r.flagged} == {}
    assert "not judged: 3 built days" in results[3].summary()


def test_a_spiked_group_is_flagged_and_nothing_else(warehouse, tmp_path):
    copy = tmp_path / "spiked.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    day = DAYS[-1]
    with duckdb.connect(str(copy)) as conn:
        currency, group, cost = conn.execute(
            "SELECT currency, sip_group_name, sum(total_cost)::DOUBLE FROM marts.daily_costs "
            "WHERE call_date = $d GROUP BY ALL ORDER BY 3 DESC LIMIT 1",
            {"d": day},
        ).fetchone()
        conn.execute(
            "UPDATE marts.daily_costs SET total_cost = total_cost * 10 "
            "WHERE call_date = $d AND currency = $c AND sip_group_name = $g",
            {"d": day, "c": currency, "g": group},
        )
        result = cost_anomalies(conn, day)

    [flagged] = result.flagged
    assert (flagged["currency"], flagged["sip_group_name"], flagged["metric"]) == (
        currency,
        group,
        "total_cost",
    )
    assert flagged["value"] == pytest.approx(cost * 10)
    assert f"{currency}/{group} total_cost" in result.summary()


def test_a_history_that_never_varied_does_not_flag_a_trivial_change():
    steady = {"currency": "USD", "sip_group_name": "g", "calls_median": 39.0, "calls_mad": 0.0}
    money = {"total_cost": 0.0, "cost_median": 0.0, "cost_mad": 0.0}
    assert flag([{**steady, **money, "calls": 40.0}], band=5) == []  # allowed: 5 x 5% x 39 = 9.75
    assert [f["metric"] for f in flag([{**steady, **money, "calls": 49.0}], band=5)] == ["calls"]
    assert flag([{**steady, **money, "calls": 44.0, "total_cost": 5.0}], band=5) == []  # floor of 1 unit
