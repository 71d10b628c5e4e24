"""A day read as one window per SIP group: landed together in one transaction, judged window by
window; and a warehouse made before ``sip_group_name`` existed, brought up to date in place."""

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from laaffic_pipeline.warehouse.consistency import day_page_count_problems
from laaffic_pipeline.warehouse.landing import (
    PartitionShrinkError,
    WindowRead,
    ensure_raw_tables,
    replace_raw_partition,
)
from laaffic_pipeline.warehouse.sql import query_rows
from tests.staged import day_bounds, stage_pages
from tests.warehouse.test_storage_compatibility import duckdb_cli

DAY = date(2026, 11, 1)
NEXT_DAY = date(2026, 11, 2)
FETCHED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 3, 2, 5, tzinfo=UTC)
OLD_DDL = (Path(__file__).parent / "raw_tables_before_sip_groups.sql").read_text(encoding="utf-8")


def window(folder: Path, group: str, pages: list[list[dict]], *, total=None, fetched=FETCHED, reads=1):
    staged = stage_pages(folder / (group or "unfiltered"), pages, fetched, total=total)
    return WindowRead(staged, *day_bounds(DAY), reads=reads, sip_group_name=group)


def records(conn, day: date = DAY) -> list[tuple]:
    return conn.execute(
        "SELECT voice_id, sip_group_name, page, position, record::VARCHAR, fetched_at FROM raw.call_records "
        "WHERE partition_date = ? ORDER BY sip_group_name, page, position",
        [day],
    ).fetchall()


def pages(conn, day: date = DAY) -> list[tuple]:
    return conn.execute(
        "SELECT sip_group_name, page, reported_total, reported_pages, records_on_page, fetched_at, str_time, "
        "end_time, reads FROM raw.call_record_pages WHERE partition_date = ? ORDER BY sip_group_name, page",
        [day],
    ).fetchall()


def test_each_windows_records_and_pages_land_with_their_group(conn, tmp_path):
    sales = window(tmp_path, "sales", [[{"voiceId": "s1"}, {"voiceId": "s2"}], [{"voiceId": "s3"}]], reads=2)
    support = window(tmp_path, "support", [[{"voiceId": "t1"}]])

    landed = replace_raw_partition(conn, DAY, [sales, support])

    assert (landed.rows_before, landed.rows_after) == (0, 4)
    assert [row[:4] for row in records(conn)] == [
        ("s1", "sales", 1, 0),
        ("s2", "sales", 1, 1),
        ("s3", "sales", 2, 0),
        ("t1", "support", 1, 0),
    ]
    start, end = day_bounds(DAY)
    assert pages(conn) == [
        ("sales", 1, 3, 2, 2, FETCHED, start, end, 2),
        ("sales", 2, 3, 2, 1, FETCHED, start, end, 2),
        ("support", 1, 1, 1, 1, FETCHED, start, end, 1),
    ]
    windows = query_rows(conn, "page_count_consistency", {"partition_date": DAY})
    assert [(w["sip_group_name"], w["pages_fetched"], w["records_landed"]) for w in windows] == [
        ("sales", 2, 3),
        ("support", 1, 1),
    ]
    assert day_page_count_problems(windows) == []


def test_one_staged_read_without_a_group_lands_as_before(conn, tmp_path):
    staged = stage_pages(tmp_path / "one", [[{"voiceId": "a"}, {"voiceId": "b"}]], FETCHED)
    replace_raw_partition(conn, DAY, staged, *day_bounds(DAY), reads=1)
    assert [row[:2] for row in records(conn)] == [("a", ""), ("b", "")]
    (only,) = query_rows(conn, "page_count_consistency", {"partition_date": DAY})
    assert (only["sip_group_name"], only["records_landed"], only["reported_total"]) == ("", 2, 2)


def test_a_record_returned_by_two_windows_is_kept_once_as_its_latest_copy(conn, tmp_path):
    # A live table: call "x" moved from sales to support between the two windows' reads.
    sales = window(tmp_path, "sales", [[{"voiceId": "a"}, {"voiceId": "x", "sipGroupName": "sales"}]])
    support = window(tmp_path, "support", [[{"voiceId": "x", "sipGroupName": "support"}]], fetched=LATER)

    landed = replace_raw_partition(conn, DAY, [sales, support])

    assert landed.rows_after == 2
    assert [(row[0], row[1]) for row in records(conn)] == [("a", "sales"), ("x", "support")]
    # Each window is judged on what was kept from it: sales reported 2 and kept 1.
    windows = query_rows(conn, "page_count_consistency", {"partition_date": DAY})
    assert day_page_count_problems(windows) == ["sipGroupName 'sales': records landed 1 != reported total 2"]


def test_the_page_check_names_only_the_window_whose_total_is_off(conn, tmp_path):
    sales = window(tmp_path, "sales", [[{"voiceId": "s1"}, {"voiceId": "s2"}]])
    support = window(tmp_path, "support", [[{"voiceId": "t1"}, {"voiceId": "t2"}]], total=5)
    replace_raw_partition(conn, DAY, [sales, support])

    windows = query_rows(conn, "page_count_consistency", {"partition_date": DAY})

    assert day_page_count_problems(windows) == [
        "sipGroupName 'support': records landed 2 != reported total 5"
    ]


def test_a_window_with_no_records_still_answers_its_page_one(conn, tmp_path):
    sales = window(tmp_path, "sales", [[{"voiceId": "s1"}]])
    quiet = window(tmp_path, "night-shift", [[]])
    replace_raw_partition(conn, DAY, [sales, quiet])
    windows = query_rows(conn, "page_count_consistency", {"partition_date": DAY})
    assert [(w["sip_group_name"], w["pages_fetched"], w["records_landed"]) for w in windows] == [
        ("night-shift", 1, 0),
        ("sales", 1, 1),
    ]
    assert day_page_count_problems(windows) == []


def test_a_day_with_nothing_stored_is_not_landed():
    assert day_page_count_problems([]) == ["the partition has not been landed: no pages are stored for it"]


@pytest.mark.parametrize("broken", ["records", "pages"])
def test_a_broken_second_window_leaves_the_stored_day_byte_identical(conn, tmp_path, broken):
    replace_raw_partition(conn, NEXT_DAY, [window(tmp_path / "next", "sales", [[{"voiceId": "n"}]])])
    replace_raw_partition(
        conn,
        DAY,
        [
            window(tmp_path / "first", "sales", [[{"voiceId": "s1"}, {"voiceId": "电话"}]]),
            window(tmp_path / "first", "support", [[{"voiceId": "t1", "cost": "0.1"}]]),
        ],
    )
    before = (records(conn), pages(conn), records(conn, NEXT_DAY), pages(conn, NEXT_DAY))

    good = window(tmp_path / "second", "sales", [[{"voiceId": "s1"}, {"voiceId": "s9"}, {"voiceId": "s10"}]])
    bad = window(tmp_path / "second", "support", [[{"voiceId": "t1", "cost": "0.2"}]])
    path = bad.staged.records_path if broken == "records" else bad.staged.pages_path
    with path.open("a") as file:
        file.write("{this is not json\n")
    with pytest.raises(duckdb.Error):
        replace_raw_partition(conn, DAY, [good, bad])

    assert (records(conn), pages(conn), records(conn, NEXT_DAY), pages(conn, NEXT_DAY)) == before


def test_a_day_stored_whole_is_not_replaced_by_fewer_groups_records_unless_allowed(conn, tmp_path):
    whole = stage_pages(
        tmp_path / "whole", [[{"voiceId": "s1"}, {"voiceId": "t1"}, {"voiceId": "u1"}]], FETCHED
    )
    replace_raw_partition(conn, DAY, whole, *day_bounds(DAY), reads=1)
    before = records(conn)
    groups = [
        window(tmp_path, "sales", [[{"voiceId": "s1"}]]),
        window(tmp_path, "support", [[{"voiceId": "t1"}]]),
    ]

    with pytest.raises(PartitionShrinkError, match="would lose 1 rows"):
        replace_raw_partition(conn, DAY, groups)
    assert records(conn) == before

    replace_raw_partition(conn, DAY, groups, allow_fewer_rows=True)
    assert [row[:2] for row in records(conn)] == [("s1", "sales"), ("t1", "support")]


def test_a_group_listed_twice_is_refused_before_anything_is_written(conn, tmp_path):
    twice = [window(tmp_path / "a", "sales", [[{"voiceId": "a"}]]), window(tmp_path / "b", "sales", [[]])]
    with pytest.raises(ValueError, match="each group once"):
        replace_raw_partition(conn, DAY, twice)


# -- a warehouse made before sip_group_name ---------------------------------------------------------

OLD_RECORDS = [
    (DAY, "v1", '{"voiceId":"v1","cost":"0.25","phoneName":"電話"}', 1, 0, "2026-11-02 01:00:00+00"),
    (DAY, None, '{"cost":"1"}', 1, 1, "2026-11-02 01:00:00+00"),
    (DAY, "v3", '{"voiceId":"v3","callDuration":1180591620717411303424}', 2, 0, "2026-11-02 01:00:01+00"),
    (NEXT_DAY, "w1", '{"voiceId":"w1"}', 1, 0, "2026-11-03 01:00:00+00"),
]
OLD_PAGES = [
    (DAY, 1, 3, 2, 2, "2026-11-02 01:00:00+00", *day_bounds(DAY), 1),
    (DAY, 2, 3, 2, 1, "2026-11-02 01:00:01+00", *day_bounds(DAY), 1),
    (NEXT_DAY, 1, 1, 1, 1, "2026-11-03 01:00:00+00", *day_bounds(NEXT_DAY), 2),
]


def old_warehouse(path: Path) -> None:
    """A warehouse as the pipeline made it before this change: today's DDL on main, v1.0.0 storage,
    two days stored (rows written as main's landing wrote them)."""
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        for statement in conn.extract_statements(OLD_DDL):
            conn.execute(statement)
        conn.executemany("INSERT INTO raw.call_records VALUES (?, ?, ?, ?, ?, ?)", OLD_RECORDS)
        conn.executemany("INSERT INTO raw.call_record_pages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", OLD_PAGES)


def stored(conn) -> tuple[list[tuple], list[tuple]]:
    """Every stored row of both tables, every column of main's (record as its exact text)."""
    return (
        conn.execute(
            "SELECT partition_date, voice_id, record::VARCHAR, page, position, fetched_at "
            "FROM raw.call_records ORDER BY ALL"
        ).fetchall(),
        conn.execute(
            "SELECT partition_date, page, reported_total, reported_pages, records_on_page, fetched_at, "
            "str_time, end_time, reads FROM raw.call_record_pages ORDER BY ALL"
        ).fetchall(),
    )


def catalog(conn, table: str) -> list[tuple]:
    """Each column's name, type, nullability, default and comment, in order."""
    schema, name = table.split(".")
    return conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default, comment FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, name],
    ).fetchall()


def test_an_old_warehouse_is_migrated_in_place_and_keeps_everything_stored(tmp_path):
    old = tmp_path / "old.duckdb"
    old_warehouse(old)
    with duckdb.connect(str(old)) as conn:
        kept = stored(conn)
        old_columns = [row[0] for row in catalog(conn, "raw.call_records")]
    assert "sip_group_name" not in old_columns and len(kept[0]) == 4

    with duckdb.connect(str(old)) as conn:
        ensure_raw_tables(conn)
        ensure_raw_tables(conn)  # every run does it again: a no-op once migrated
    with duckdb.connect(str(tmp_path / "new.duckdb")) as fresh:
        ensure_raw_tables(fresh)
        made_new = {table: catalog(fresh, table) for table in ("raw.call_records", "raw.call_record_pages")}

    with duckdb.connect(str(old)) as conn:
        assert stored(conn) == kept
        assert conn.execute("SELECT DISTINCT sip_group_name FROM raw.call_records").fetchall() == [("",)]
        assert conn.execute("SELECT DISTINCT sip_group_name FROM raw.call_record_pages").fetchall() == [("",)]
        # The same columns, order, constraints, defaults and comments as a warehouse made new.
        for table, columns in made_new.items():
            assert catalog(conn, table) == columns
            assert columns[-1][:4] == ("sip_group_name", "VARCHAR", False, "''")
            assert "SIP_GROUPS" in columns[-1][4]
        # The old days are one unfiltered window each, and still pass their page check.
        windows = query_rows(conn, "page_count_consistency", {"partition_date": DAY})
        assert [(w["sip_group_name"], w["records_landed"], w["reported_total"]) for w in windows] == [
            ("", 3, 3)
        ]
        assert day_page_count_problems(windows) == []
        with pytest.raises(duckdb.ConstraintException):
            conn.execute("UPDATE raw.call_records SET sip_group_name = NULL")
        # A new day lands beside the old ones, per group.
        replace_raw_partition(
            conn, NEXT_DAY, [window(tmp_path, "sales", [[{"voiceId": "w1"}, {"voiceId": "w2"}]])]
        )
        assert [row[:2] for row in records(conn, NEXT_DAY)] == [("w1", "sales"), ("w2", "sales")]
        assert stored(conn)[0][:3] == kept[0][:3]

    # The migrated file still opens in the DuckDB 1.x CLI analysts install.
    answered = duckdb_cli(old, "SELECT count(*), count(DISTINCT sip_group_name) FROM raw.call_records;")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == "5,2"
