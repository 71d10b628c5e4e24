"""Rebuilding many days at once: one transaction, set-based SQL, the same rows as day by day."""

from datetime import timedelta
from decimal import Decimal

import duckdb
import pytest

from laaffic_pipeline.warehouse import marts
from laaffic_pipeline.warehouse.columns import live_table_columns, table_columns
from laaffic_pipeline.warehouse.marts import rebuild_marts
from tests.warehouse.mart_inputs import DAY, call, land, unanswered

DAYS = [DAY + timedelta(days=offset) for offset in range(4)]
# Day 1 and day 2 both returned "edge-1"; day 2 and day 3 both returned "edge-2".
RAW = {
    DAYS[0]: [call("a0"), call("b0", currency="EUR")],
    DAYS[1]: [call("a1"), call("edge-1", cost="0.5"), unanswered("busy-1")],
    DAYS[2]: [call("edge-1", cost="0.5"), call("a2"), call("edge-2", currency="EUR", cost="0.75")],
    DAYS[3]: [call("edge-2", currency="EUR", cost="0.75"), call("a3", cost="N/A")],
}
# Where each voice id must end up: the earlier day of a boundary call.
EXPECTED_FACTS = [
    (DAYS[0], "a0"),
    (DAYS[0], "b0"),
    (DAYS[1], "a1"),
    (DAYS[1], "busy-1"),
    (DAYS[1], "edge-1"),
    (DAYS[2], "a2"),
    (DAYS[2], "edge-2"),
    (DAYS[3], "a3"),
]


@pytest.fixture
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    for day, records in RAW.items():
        land(connection, tmp_path, day, [records])
    yield connection
    connection.close()


def snapshot(conn) -> tuple[list, list]:
    return (
        conn.execute("SELECT * FROM marts.call_facts ORDER BY ALL").fetchall(),
        conn.execute("SELECT * FROM marts.daily_costs ORDER BY ALL").fetchall(),
    )


def placed(conn) -> list[tuple]:
    return conn.execute("SELECT call_date, voice_id FROM marts.call_facts ORDER BY ALL").fetchall()


def test_a_range_keeps_boundary_calls_in_the_earlier_day(conn):
    rebuild_marts(conn, DAYS)
    assert placed(conn) == EXPECTED_FACTS


def test_a_range_starting_after_a_stored_day_still_reads_that_day(conn):
    """Day 1 is not in the range, but its raw voice ids keep edge-1 out of day 2."""
    rebuild_marts(conn, DAYS[2:])
    assert placed(conn) == [row for row in EXPECTED_FACTS if row[0] in DAYS[2:]]


def test_a_range_builds_the_same_rows_as_one_day_at_a_time(conn, tmp_path):
    for day in reversed(DAYS):
        rebuild_marts(conn, [day])
        rebuild_marts(conn, [day])
    one_by_one = snapshot(conn)
    conn.execute("DELETE FROM marts.call_facts; DELETE FROM marts.daily_costs")

    rebuild_marts(conn, DAYS)
    rebuild_marts(conn, DAYS)

    assert snapshot(conn) == one_by_one
    assert len(one_by_one[0]) == len(EXPECTED_FACTS)


def test_each_day_of_a_range_gets_its_own_figures(conn):
    figures = rebuild_marts(conn, [DAYS[3], DAYS[1], DAYS[2], DAYS[1]]).call_facts  # any order, repeats

    assert list(figures) == DAYS[1:]
    assert {day: (f["raw_records"], f["rows"], f["kept_in_previous_day"]) for day, f in figures.items()} == {
        DAYS[1]: (3, 3, 0),
        DAYS[2]: (3, 2, 1),
        DAYS[3]: (2, 1, 1),
    }
    assert figures[DAYS[3]]["flagged_rows"] == 1  # a3's cost is N/A

    costs = rebuild_marts(conn, DAYS[1:]).daily_costs
    assert {day: build.rows for day, build in costs.items()} == {DAYS[1]: 1, DAYS[2]: 2, DAYS[3]: 1}
    assert [(row["currency"], row["calls"], row["total_cost"]) for row in costs[DAYS[2]].by_currency] == [
        ("EUR", 1, Decimal("0.75")),
        ("USD", 1, Decimal("0.025")),
    ]


def test_a_day_without_raw_rows_in_a_range_is_emptied_with_zero_figures(conn):
    rebuild_marts(conn, DAYS)
    conn.execute("DELETE FROM raw.call_records WHERE partition_date = ?", [DAYS[3]])
    figures = rebuild_marts(conn, DAYS[2:]).call_facts
    assert (figures[DAYS[3]]["raw_records"], figures[DAYS[3]]["rows"]) == (0, 0)
    assert placed(conn)[-1] == (DAYS[2], "edge-2")


def test_no_days_is_a_no_op(conn):
    rebuild_marts(conn, DAYS)
    before = snapshot(conn)
    assert rebuild_marts(conn, []).call_facts == {}
    assert rebuild_marts(conn, []).days == []
    assert snapshot(conn)[0] == before[0]


def test_one_failing_statement_keeps_every_day_of_the_range_as_it_was(conn, monkeypatch):
    rebuild_marts(conn, DAYS)
    before = snapshot(conn)
    real_run_sql = marts.run_sql

    def failing(connection, name, params=None):
        real_run_sql(connection, name, params)
        if name == "insert_daily_costs":
            raise RuntimeError("disk full")

    monkeypatch.setattr(marts, "run_sql", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        rebuild_marts(conn, DAYS, "USD")  # would have relabelled every day
    assert snapshot(conn) == before


def test_marts_of_an_older_schema_are_replaced_and_every_stored_day_restated(conn):
    conn.execute(
        """
        CREATE SCHEMA marts;
        CREATE TABLE marts.call_facts (call_date DATE NOT NULL, voice_id VARCHAR, currency VARCHAR);
        INSERT INTO marts.call_facts VALUES ('2026-03-10', 'stale', 'USD');
        CREATE TABLE marts.daily_costs (call_date DATE NOT NULL, currency VARCHAR, total_cost DECIMAL(38, 6));
        """
    )
    figures = rebuild_marts(conn, [DAYS[1]], "USD").call_facts

    assert list(figures) == DAYS  # every day of raw, not only the one asked for
    assert placed(conn) == EXPECTED_FACTS
    for table in ("marts.call_facts", "marts.daily_costs"):
        assert live_table_columns(conn, table) == [(name, kind) for name, kind, _ in table_columns(table)]
    assert conn.execute(
        "SELECT DISTINCT call_date, currency FROM marts.daily_costs ORDER BY 1"
    ).fetchall() == [(day, "USD") for day in DAYS]
