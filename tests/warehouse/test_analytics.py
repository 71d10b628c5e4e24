"""The analysts' file: views over the Parquet exports that an open connection never lets block a run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb

from laaffic_pipeline.warehouse.analytics import (
    PIPELINE_VIEWS,
    Refresh,
    default_analytics_path,
    ensure_analytics_file,
    stored_digest,
)
from laaffic_pipeline.warehouse.columns import table_columns, table_comment
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
conn = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read-only")
print("ready", flush=True)
for line in sys.stdin:
    print(json.dumps(conn.execute(line).fetchall(), default=str), flush=True)
"""


class Analyst:
    """Another process holding a connection to a DuckDB file (read-only unless told), querying on request."""

    def __init__(self, path: Path, *, read_only: bool = True) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ANALYST, str(path), "read-only" if read_only else "read-write"],
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
    export_one_day(warehouse, tmp_path)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        warehouse_types = {t: describe(conn, t) for t in PIPELINE_VIEWS}
    written.append(ensure_analytics_file(warehouse, analytics))  # first exports: Parquet views now
    written.append(ensure_analytics_file(warehouse, analytics))

    assert [refresh.outcome for refresh in written] == [
        Refresh.CREATED,
        Refresh.UNCHANGED,
        Refresh.UPDATED,
        Refresh.UNCHANGED,
    ]
    assert [bool(refresh) for refresh in written] == [True, False, True, False]
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
    first, second = pipeline.complete_days[-2:]
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


def export_one_day(warehouse: Path, tmp_path: Path) -> None:
    """Build and export ``DAY`` (two calls, USD and EUR) from a warehouse file of its own."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as conn:
        land(conn, tmp_path, DAY, [[call("v1"), call("v2", currency="EUR")]])
        rebuild_marts(conn, [DAY])
        for table in (MARTS_CALL_FACTS, MARTS_DAILY_COSTS):
            export_partition(conn, table, DAY, exports_dir(warehouse))


ANALYSTS_WORK = [
    "CREATE TABLE main.my_notes AS SELECT 'keep me' AS note",
    "CREATE SCHEMA scratch",
    f"CREATE VIEW scratch.eur_calls AS SELECT count(*) AS calls FROM {MARTS_CALL_FACTS} "
    "WHERE cost_currency = 'EUR'",
    "CREATE MACRO doubled(x) AS 2 * x",
]


def test_what_an_analyst_saved_in_the_file_survives_a_refresh_that_changes_the_views(tmp_path):
    warehouse = tmp_path / "data" / "laaffic.duckdb"
    analytics = default_analytics_path(warehouse)
    assert ensure_analytics_file(warehouse, analytics).outcome is Refresh.CREATED  # empty views
    analyst = Analyst(analytics, read_only=False)  # DuckDB's default: read-write
    for statement in ANALYSTS_WORK:
        analyst.query(statement)
    analyst.close()
    inode = analytics.stat().st_ino

    export_one_day(warehouse, tmp_path)  # the first exports: the views must change
    refresh = ensure_analytics_file(warehouse, analytics)

    assert refresh.outcome is Refresh.UPDATED
    assert analytics.stat().st_ino == inode  # updated in place, not replaced by another file
    with duckdb.connect(str(analytics), read_only=True) as conn:
        assert conn.execute("SELECT note FROM main.my_notes").fetchall() == [("keep me",)]
        assert conn.execute("SELECT calls, doubled(calls) FROM scratch.eur_calls").fetchall() == [(1, 2)]
        assert conn.execute(f"SELECT count(*) FROM {MARTS_CALL_FACTS}").fetchone() == (2,)
    assert sorted(p.name for p in analytics.parent.iterdir() if "analytics" in p.name) == ["analytics.duckdb"]


def test_a_file_an_analyst_holds_read_write_is_left_alone_with_a_message_and_keeps_their_table(
    tmp_path, caplog
):
    """The case that lost work before: the run found the file locked, took it for unreadable and
    renamed a new file over it, so the table the analyst saved went into a file no longer there."""
    warehouse = tmp_path / "data" / "laaffic.duckdb"
    analytics = default_analytics_path(warehouse)
    ensure_analytics_file(warehouse, analytics)
    export_one_day(warehouse, tmp_path)
    analyst = Analyst(analytics, read_only=False)
    try:
        analyst.query(ANALYSTS_WORK[0])
        with caplog.at_level("WARNING", logger="laaffic_pipeline.warehouse.analytics"):
            held = ensure_analytics_file(warehouse, analytics)
        analyst.query("INSERT INTO main.my_notes VALUES ('written after the refresh')")
    finally:
        analyst.close()
    later = ensure_analytics_file(warehouse, analytics)  # the analyst has closed it: refreshed now

    assert held.outcome is Refresh.LOCKED and not held
    assert held.message.startswith(f"The analysts' file {analytics} is open in another process")
    assert "views were not refreshed this time" in held.message
    assert f"PID {analyst.process.pid}" in held.message  # who holds it, from DuckDB's lock error
    assert [record.getMessage() for record in caplog.records] == [held.message]
    assert later.outcome is Refresh.UPDATED
    with duckdb.connect(str(analytics), read_only=True) as conn:
        assert conn.execute("SELECT note FROM main.my_notes ORDER BY note").fetchall() == [
            ("keep me",),
            ("written after the refresh",),
        ]
        assert conn.execute(f"SELECT count(*) FROM {MARTS_CALL_FACTS}").fetchone() == (2,)


def test_a_file_held_read_only_is_not_written_when_the_views_must_change_and_is_read_as_before(tmp_path):
    warehouse = tmp_path / "data" / "laaffic.duckdb"
    analytics = default_analytics_path(warehouse)
    ensure_analytics_file(warehouse, analytics)
    before = analytics.read_bytes()
    export_one_day(warehouse, tmp_path)
    analyst = Analyst(analytics)
    try:
        refresh = ensure_analytics_file(warehouse, analytics)
        seen = analyst.query(f"SELECT count(*) FROM {MARTS_CALL_FACTS}")
    finally:
        analyst.close()

    assert refresh.outcome is Refresh.LOCKED
    assert analytics.read_bytes() == before
    assert seen == [[0]]  # the views it had (no export yet when they were written) still answer


def test_a_file_that_is_not_a_database_is_moved_aside_never_deleted(tmp_path, caplog):
    warehouse = tmp_path / "data" / "laaffic.duckdb"
    analytics = default_analytics_path(warehouse)
    analytics.parent.mkdir(parents=True)
    analytics.write_text("an analyst's notes, saved under the wrong name\n")

    with caplog.at_level("WARNING", logger="laaffic_pipeline.warehouse.analytics"):
        refresh = ensure_analytics_file(warehouse, analytics)

    (aside,) = [p for p in analytics.parent.iterdir() if p.name.startswith("analytics.duckdb.unreadable-")]
    assert aside.read_text() == "an analyst's notes, saved under the wrong name\n"
    assert refresh.outcome is Refresh.REPLACED_UNREADABLE
    assert f"moved to {aside}, untouched" in refresh.message
    assert "not a valid DuckDB database file" in refresh.message
    assert [record.getMessage() for record in caplog.records] == [refresh.message]
    assert stored_digest(analytics) is not None


# The pipeline's views only: the warehouse's marts schema also holds the spend-rate check's log.
COLUMN_COMMENTS = (
    "SELECT schema_name || '.' || table_name, column_name, comment FROM duckdb_columns() "
    f"WHERE schema_name || '.' || table_name IN {tuple(PIPELINE_VIEWS)} ORDER BY 1, column_index"
)
VIEW_COMMENTS = (
    "SELECT schema_name || '.' || view_name, comment FROM duckdb_views() WHERE schema_name = 'marts'"
)


def test_the_views_carry_the_warehouses_table_and_column_comments(tmp_path):
    """``duckdb_columns()`` / ``duckdb_views()`` in the analysts' file show the DDL's COMMENT ON
    texts, also in the DuckDB 1.x CLI analysts install (``.venv/bin/duckdb``, 1.5.6)."""
    warehouse = tmp_path / "data" / "laaffic.duckdb"
    analytics = default_analytics_path(warehouse)
    export_one_day(warehouse, tmp_path)
    ensure_analytics_file(warehouse, analytics)
    with duckdb.connect(str(warehouse), read_only=True) as conn:  # what the warehouse itself says
        expected_columns = conn.execute(COLUMN_COMMENTS).fetchall()
    cli = Path(sys.executable).with_name("duckdb")
    listed = subprocess.run(
        [str(cli), "-readonly", "-csv", "-noheader", str(analytics), "-c", COLUMN_COMMENTS],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with duckdb.connect(str(analytics), read_only=True) as conn:
        columns = conn.execute(COLUMN_COMMENTS).fetchall()
        view_comments = dict(conn.execute(VIEW_COMMENTS).fetchall())

    assert columns == expected_columns
    assert all(comment for *_, comment in columns)
    assert {name for name, *_ in columns} == set(PIPELINE_VIEWS)
    assert columns == [
        (view, name, comment) for view in sorted(PIPELINE_VIEWS) for name, _, comment in table_columns(view)
    ]
    assert view_comments == {view: table_comment(view) for view in PIPELINE_VIEWS}
    assert 'marts.call_facts,cost,"cost: what Laaffic billed, in cost_currency (exact decimal)."' in listed
