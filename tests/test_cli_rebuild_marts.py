"""``laaffic-pipeline rebuild-marts``: restate the marts and their exports from raw, no API call."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from laaffic_pipeline.cli import main
from tests.warehouse.mart_inputs import HISTORY, land
from tests.warehouse.mart_inputs import HISTORY_DAYS as DAYS
from tests.warehouse.mart_inputs import expected_by_currency as expected


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    path = tmp_path / "data" / "laaffic.duckdb"
    path.parent.mkdir()
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        for day, records in HISTORY.items():
            land(conn, tmp_path, day, [records])
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(path))
    return path


def marts(path) -> tuple[dict[tuple, tuple[int, Decimal]], list[tuple[str]]]:
    """The per-currency view's (calls, total) by (day, currency), and the rules the facts were read by."""
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT call_date, currency, calls, total_cost FROM marts.daily_costs_by_currency"
        ).fetchall()
        labels = conn.execute("SELECT DISTINCT cost_currency_rule FROM marts.call_facts").fetchall()
    return {(day, currency): (calls, total) for day, currency, calls, total in rows}, labels


def exported(path) -> dict[tuple, tuple[int, Decimal]]:
    """What the Parquet files say, read without the warehouse."""
    files = path.parent / "exports" / "daily_costs" / "*.parquet"
    rows = duckdb.sql(
        f"SELECT call_date, currency, sum(calls), sum(total_cost) FROM read_parquet('{files}') GROUP BY ALL"
    ).fetchall()
    return {(day, currency): (calls, total) for day, currency, calls, total in rows}


def test_restates_every_stored_day_under_each_setting_and_re_exports(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("LAAFFIC_COST_CURRENCY", "record")
    assert main(["rebuild-marts"]) == 0
    assert marts(warehouse) == (expected("record"), [("record",)])
    assert exported(warehouse) == expected("record")
    out = capsys.readouterr().out
    assert "Rebuilt 3 day(s) from raw with LAAFFIC_COST_CURRENCY=record: " + ", ".join(map(str, DAYS)) in out
    assert (
        "  (no currency): 1.000000 (1 calls)\n  EUR: 4.750000 (3 calls)\n"
        "  GBP: 4.000000 (2 calls)\n  USD: 2.125000 (2 calls)"
    ) in out

    monkeypatch.setenv("LAAFFIC_COST_CURRENCY", "USD")
    assert main(["rebuild-marts"]) == 0
    assert marts(warehouse) == (expected("USD"), [("USD",)])
    assert expected("USD") == {
        (DAYS[0], "USD"): (3, Decimal("7.5")),
        (DAYS[1], "USD"): (2, Decimal("0.25")),
        (DAYS[2], "USD"): (3, Decimal("4.125")),
    }
    assert exported(warehouse) == expected("USD")
    assert "  USD: 11.875000 (8 calls)" in capsys.readouterr().out


def test_a_range_restates_only_its_days(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("LAAFFIC_COST_CURRENCY", "record")
    assert main(["rebuild-marts"]) == 0
    monkeypatch.setenv("LAAFFIC_COST_CURRENCY", "USD")
    assert main(["rebuild-marts", "--from", "2026-03-11", "--to", "2026-03-11"]) == 0

    restated = {**expected("record", [DAYS[0], DAYS[2]]), **expected("USD", DAYS[1:2])}
    assert marts(warehouse)[0] == restated
    assert exported(warehouse) == restated
    assert "Rebuilt 1 day(s) from raw with LAAFFIC_COST_CURRENCY=USD: 2026-03-11" in capsys.readouterr().out

    monkeypatch.setenv("LAAFFIC_COST_CURRENCY", "EUR")
    assert main(["rebuild-marts", "--to", "2026-03-10"]) == 0
    restated = {**expected("EUR", DAYS[:1]), **expected("USD", DAYS[1:2]), **expected("record", DAYS[2:])}
    assert marts(warehouse)[0] == restated
    assert exported(warehouse) == restated


def test_a_range_without_stored_days_changes_nothing(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("LAAFFIC_COST_CURRENCY", "record")
    assert main(["rebuild-marts"]) == 0
    monkeypatch.setenv("LAAFFIC_COST_CURRENCY", "USD")
    assert main(["rebuild-marts", "--from", "2027-01-01"]) == 0
    assert "nothing rebuilt" in capsys.readouterr().out
    assert marts(warehouse) == (expected("record"), [("record",)])


def test_a_bad_setting_or_a_missing_warehouse_exits_1_saying_why(warehouse, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("LAAFFIC_COST_CURRENCY", "dollars")
    assert main(["rebuild-marts"]) == 1
    assert "LAAFFIC_COST_CURRENCY='dollars'" in capsys.readouterr().err

    monkeypatch.setenv("LAAFFIC_COST_CURRENCY", "USD")
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(tmp_path / "none.duckdb"))
    assert main(["rebuild-marts"]) == 1
    assert "no warehouse at" in capsys.readouterr().err
    assert not (tmp_path / "none.duckdb").exists()
