"""The analysts' file: views over the Parquet exports that an open connection never lets block a run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb

from laaffic_pipeline.warehouse.analytics import default_analytics_path, ensure_analytics_file, stored_digest
from laaffic_pipeline.warehouse.exports import export_partition, exports_dir
from laaffic_pipeline.warehouse.marts import rebuild_marts
from laaffic_pipeline.warehouse.tables import (
    MARTS_CALL_FACTS,
    MARTS_DAILY_COSTS,
    MARTS_DAILY_COSTS_BY_CURRENCY,
)
from tests.defs.pipeline import make_pipeline
from tests.warehouse.mart_inputs import DAY, call, land

ANALYST = """
import duckdb, json, sys
conn = duckdb.connect(sys.argv[1], read_only=True)
print("ready", flush=True)
for line in sys.stdin:
    print(json.dumps(conn.execute(line).fetchall(), default=str), flush=True)
"""


class Analyst:
    """Another process holding a read-only connection to a DuckDB file, querying on request."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ANALYST, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def query(self, sql: str) -> list:
        self.process.stdin.write(sql.replace("\n", " ") + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def describe(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind, *_ in conn.execute(f"DESCRIBE {table}").fetchall()]


def test_views_exist_before_any_export_and_the_file_is_rewritten_only_when_definitions_change(tmp_path):
    warehouse = tmp_path / "data" / "laaffic.duckdb"
    analytics = default_analytics_path(warehouse)
    assert analytics == tmp_path / "data" / "analytics.duckdb"

    written = [ensure_analytics_file(warehouse, analytics)]  # nothing exported yet
    with duckdb.connect(str(analytics), read_only=True) as conn:
        empty = conn.execute(f"SELECT count(*) FROM {MARTS_CALL_FACTS}").fetchone()
        empty_types = describe(conn, MARTS_CALL_FACTS)
    written.append(ensure_analytics_file(warehouse, analytics))
    digest = stored_digest(analytics)
    with duckdb.connect(str(warehouse)) as conn:
        land(conn, tmp_path, DAY, [[call("v1"), call("v2", currency="EUR")]])
        rebuild_marts(conn, [DAY])
        rebuild_marts(conn, [DAY])
        for table in (MARTS_CALL_FACTS, MARTS_DAILY_COSTS):
            export_partition(conn, table, DAY, exports_dir(warehouse))
        warehouse_types = {
            t: describe(conn, t) for t in (MARTS_CALL_FACTS, MARTS_DAILY_COSTS, MARTS_DAILY_COSTS_BY_CURRENCY)
        }
    written.append(ensure_analytics_file(warehouse, analytics))  # first exports: Parquet views now
    written.append(ensure_analytics_file(warehouse, analytics))

    assert written == [True, False, True, False]
    assert empty == (0,) and empty_types == warehouse_types[MARTS_CALL_FACTS]
    assert stored_digest(analytics) != digest
    with duckdb.connect(str(analytics), read_only=True) as conn:
        assert {t: describe(conn, t) for t in warehouse_types} == warehouse_types
        assert conn.execute(
            f"SELECT currency, calls FROM {MARTS_DAILY_COSTS_BY_CURRENCY} ORDER BY currency"
        ).fetchall() == [("EUR", 1), ("USD", 1)]
    assert sorted(p.name for p in analytics.parent.iterdir() if "analytics" in p.name) == ["analytics.duckdb"]


def test_an_analyst_holding_the_file_open_never_blocks_a_run_and_sees_the_new_day(
    monkeypatch, tmp_path, make_simulator
):
    # Lock timeout 0: a run that met any lock on the warehouse would fail at once instead of waiting.
    pipeline = make_pipeline(
        monkeypatch, tmp_path, make_simulator(records_per_day=200), duckdb_lock_timeout_s=0
    )
    warehouse = Path(pipeline.duckdb_path)
    analytics = default_analytics_path(warehouse)
    first, second = pipeline.defs.resolve_job_def("laaffic_daily").partitions_def.get_partition_keys()[-2:]
    assert pipeline.run(first).success
    assert analytics.is_file()  # the run wrote it after its first exports
    analyst = Analyst(analytics)
    try:
        days_query = f"SELECT DISTINCT call_date FROM {MARTS_DAILY_COSTS_BY_CURRENCY} ORDER BY 1"
        before = analyst.query(days_query)

        result = pipeline.run(second)
        rewritten = ensure_analytics_file(warehouse, analytics)
        after = analyst.query(days_query)  # the same connection, held throughout
        facts = analyst.query(f"SELECT count(*) FROM {MARTS_CALL_FACTS} WHERE call_date = '{second}'")
    finally:
        analyst.close()

    assert result.success, pipeline.failure_message(result)
    assert not rewritten  # same definitions: the file the analyst holds was left alone
    assert before == [[first]] and after == [[first], [second]]
    assert [tuple(row) for row in facts] == pipeline.query(
        f"SELECT count(*) FROM {MARTS_CALL_FACTS} WHERE call_date = ?", [second]
    )
    assert facts[0][0] > 0
