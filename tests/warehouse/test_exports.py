from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from laaffic_pipeline.warehouse import exports
from laaffic_pipeline.warehouse.exports import export_partition, export_path, exports_dir
from laaffic_pipeline.warehouse.marts import rebuild_marts
from laaffic_pipeline.warehouse.tables import MARTS_CALL_FACTS, MARTS_DAILY_COSTS
from tests.warehouse.mart_inputs import DAY, call, land, unanswered

RECORDS = [call("a"), call("b", currency="EUR", cost="0.123457"), call("c", cost="N/A"), unanswered("d")]


@pytest.fixture
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "laaffic.duckdb"))
    land(connection, tmp_path, DAY, [RECORDS])
    land(connection, tmp_path, DAY + timedelta(days=1), [[call("next-day")]])
    rebuild_marts(connection, [DAY, DAY + timedelta(days=1)])
    rebuild_marts(connection, [DAY, DAY + timedelta(days=1)])
    yield connection
    connection.close()


def table_rows(conn, table: str) -> list[tuple]:
    return conn.execute(f"SELECT * FROM {table} WHERE call_date = ? ORDER BY ALL", [DAY]).fetchall()


def parquet_rows(conn, path: Path) -> list[tuple]:
    return conn.execute("SELECT * FROM read_parquet(?) ORDER BY ALL", [str(path)]).fetchall()


def columns(conn, relation: str) -> list[tuple[str, str]]:
    """Names and types (Parquet keeps both; NOT NULL is the table's alone)."""
    return [row[:2] for row in conn.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def test_exports_sit_beside_the_warehouse_one_file_per_table_and_day():
    assert exports_dir("data/laaffic.duckdb") == Path("data/exports")
    assert export_path(Path("data/exports"), MARTS_DAILY_COSTS, DAY) == Path(
        "data/exports/daily_costs/call_date=2026-03-10.parquet"
    )


@pytest.mark.parametrize("table", [MARTS_CALL_FACTS, MARTS_DAILY_COSTS])
def test_a_day_exports_exactly_its_rows_with_every_column_and_type(conn, tmp_path, table):
    path = export_partition(conn, table, DAY, tmp_path / "exports")

    assert path == export_path(tmp_path / "exports", table, DAY)
    assert parquet_rows(conn, path) == table_rows(conn, table)
    assert columns(conn, f"read_parquet('{path}')") == columns(conn, table)


def test_money_stays_decimal_for_any_parquet_reader(conn, tmp_path):
    facts = export_partition(conn, MARTS_CALL_FACTS, DAY, tmp_path / "exports")
    costs = export_partition(conn, MARTS_DAILY_COSTS, DAY, tmp_path / "exports")

    reader = duckdb.connect()  # a notebook's own DuckDB, not the warehouse's connection
    schema = dict(reader.execute(f"SELECT name, logical_type FROM parquet_schema('{facts}')").fetchall())
    assert schema["cost"] == schema["expected_cost"] == schema["rate"] == "DecimalType(scale=6, precision=18)"
    assert dict(reader.read_parquet(str(costs)).select("currency, total_cost").fetchall()) == {
        "EUR": Decimal("0.123457"),
        "USD": Decimal("0.025"),  # c's cost is unknown: the sum skips it
    }
    assert reader.read_parquet(str(costs)).select("total_cost").types == ["DECIMAL(38,6)"]


def test_re_exporting_replaces_the_file_whole_and_leaves_no_temporary_file(conn, tmp_path):
    path = export_partition(conn, MARTS_DAILY_COSTS, DAY, tmp_path / "exports")
    before = path.stat().st_ino
    with path.open("rb") as reader_of_the_old_file:
        land(conn, tmp_path, DAY, [[call("only")]])
        rebuild_marts(conn, [DAY])
        rebuild_marts(conn, [DAY])
        assert export_partition(conn, MARTS_DAILY_COSTS, DAY, tmp_path / "exports") == path
        old_bytes = reader_of_the_old_file.read()

    assert path.stat().st_ino != before  # a new file renamed over the old, not rewritten in place
    assert old_bytes[:4] == old_bytes[-4:] == b"PAR1"  # a reader of the old file still had all of it
    assert parquet_rows(conn, path) == table_rows(conn, MARTS_DAILY_COSTS)
    assert sorted(p.name for p in path.parent.iterdir()) == ["call_date=2026-03-10.parquet"]


def test_a_failed_export_keeps_the_previous_file_and_cleans_up(conn, tmp_path, monkeypatch):
    path = export_partition(conn, MARTS_CALL_FACTS, DAY, tmp_path / "exports")
    exported = path.read_bytes()

    def half_written(conn, name, params):
        Path(params["path"]).write_bytes(b"PAR1 truncated")
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(exports, "run_sql", half_written)
    with pytest.raises(duckdb.IOException):
        export_partition(conn, MARTS_CALL_FACTS, DAY, tmp_path / "exports")

    assert path.read_bytes() == exported
    assert list(path.parent.iterdir()) == [path]


def test_a_day_without_rows_gets_a_file_without_rows(conn, tmp_path):
    empty_day = DAY - timedelta(days=1)
    path = export_partition(conn, MARTS_DAILY_COSTS, empty_day, tmp_path / "exports")

    assert parquet_rows(conn, path) == []
    assert path.name == f"call_date={empty_day}.parquet"


def test_the_folder_reads_as_one_table(conn, tmp_path):
    for day in (DAY, DAY + timedelta(days=1)):
        export_partition(conn, MARTS_DAILY_COSTS, day, tmp_path / "exports")

    folder = tmp_path / "exports" / "daily_costs"
    everything = conn.execute("SELECT * FROM marts.daily_costs ORDER BY ALL").fetchall()
    assert conn.execute(f"SELECT * FROM read_parquet('{folder}/*.parquet') ORDER BY ALL").fetchall() == (
        everything
    )
    # The hive option the file names suggest is harmless: call_date is a column of every file.
    assert (
        conn.execute(
            f"SELECT * FROM read_parquet('{folder}/*.parquet', hive_partitioning = true) ORDER BY ALL"
        ).fetchall()
        == everything
    )
