"""The step's warehouse session: opened by the first write, prepared once, closed with the step."""

import duckdb

from laaffic_pipeline.defs.resources import WarehouseResource
from laaffic_pipeline.settings import WarehouseSettings


def test_the_file_is_opened_by_the_first_write_prepared_once_and_released_on_leaving(tmp_path):
    database = tmp_path / "laaffic.duckdb"
    resource = WarehouseResource.from_settings(WarehouseSettings(duckdb_path=str(database)))
    prepared: list[str] = []

    def prepare(conn: duckdb.DuckDBPyConnection) -> None:
        prepared.append("tables")
        conn.execute("CREATE TABLE days (day DATE)")

    with resource.session(prepare) as session:
        assert not database.exists()  # nothing opened (nor locked) before the first write
        for n in range(1, 5):
            session.conn.execute("INSERT INTO days VALUES (?)", [f"2026-11-{n:02d}"])
        assert prepared == ["tables"]

    # Released: another connection (here read-only, as an analyst's would be) opens the file.
    with duckdb.connect(str(database), read_only=True) as reader:
        assert reader.execute("SELECT count(DISTINCT day) FROM days").fetchone() == (4,)
