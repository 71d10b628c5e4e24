"""A provisional refresh merges into the stored day; the final read replaces it and ends the
provisional state; the page check of a provisional day judges the window its latest refresh read."""

from datetime import UTC, date, datetime
from pathlib import Path

from laaffic_pipeline.warehouse.consistency import day_page_count_problems
from laaffic_pipeline.warehouse.landing import (
    WindowRead,
    merge_raw_partition,
    provisional_days_among,
    replace_raw_partition,
)
from laaffic_pipeline.warehouse.marts import rebuild_marts
from laaffic_pipeline.warehouse.sql import query_rows
from tests.staged import day_bounds, stage_pages

DAY = date(2026, 11, 1)
TEN = datetime(2026, 11, 1, 10, tzinfo=UTC)
THIRTEEN = datetime(2026, 11, 1, 13, tzinfo=UTC)


def record(voice_id: str, submitted: str, cost: str = "0.5") -> dict:
    return {
        "voiceId": voice_id,
        "submitTime": f"2026-11-01T{submitted}:00+00:00",
        "cost": cost,
        "currency": "USD",
        "sipGroupName": "group1",
    }


def refresh(
    conn, tmp_path: Path, name: str, start: str, end: datetime, records: list[dict], fetched: datetime
):
    staged = stage_pages(tmp_path / name, [records], fetched)
    window = WindowRead(staged, start, end.isoformat(timespec="seconds"), 1)
    return merge_raw_partition(conn, DAY, [window], end, refreshed_at=fetched)


def stored_ids(conn) -> list[str]:
    rows = conn.execute("SELECT voice_id FROM raw.call_records WHERE partition_date = ? ORDER BY 1", [DAY])
    return [voice_id for (voice_id,) in rows.fetchall()]


def page_problems(conn) -> list[str]:
    return day_page_count_problems(query_rows(conn, "page_count_consistency", {"partition_date": DAY}))


def test_a_refresh_merges_by_voice_id_keeping_what_was_landed(conn, tmp_path):
    start = day_bounds(DAY)[0]
    first = refresh(conn, tmp_path, "ten", start, TEN, [record("a", "08:00"), record("b", "09:30")], TEN)
    assert (first.rows_before, first.rows_after) == (0, 2)

    # 13:00 reads from 09:00 (the overlap): b again, c and d new; a, before the window, is kept.
    second = refresh(
        conn,
        tmp_path,
        "thirteen",
        "2026-11-01T09:00:00+00:00",
        THIRTEEN,
        [record("b", "09:30"), record("c", "11:00"), record("d", "12:59")],
        THIRTEEN,
    )

    assert (second.rows_before, second.rows_after) == (2, 4)
    assert stored_ids(conn) == ["a", "b", "c", "d"]
    state = provisional_days_among(conn, [DAY])[DAY]
    assert (state.read_until, state.refreshes) == (THIRTEEN, 2)
    # The page check judges the 09:00-13:00 read (3 records, total 3), not the 4 stored.
    assert page_problems(conn) == []
    pages = conn.execute("SELECT str_time, end_time FROM raw.call_record_pages").fetchall()
    assert pages == [("2026-11-01T09:00:00+00:00", "2026-11-01T13:00:00+00:00")]


def test_a_provisional_refresh_that_disagrees_with_its_own_total_fails_the_page_check(conn, tmp_path):
    start = day_bounds(DAY)[0]
    staged = stage_pages(tmp_path / "short", [[record("a", "08:00")]], TEN, total=2)
    merge_raw_partition(conn, DAY, [WindowRead(staged, start, TEN.isoformat(), 1)], TEN, refreshed_at=TEN)
    assert page_problems(conn) == ["records landed 1 != reported total 2"]


def test_the_final_read_replaces_the_day_and_makes_it_final_in_the_marts(conn, tmp_path):
    start = day_bounds(DAY)[0]
    refresh(conn, tmp_path, "ten", start, TEN, [record("a", "08:00")], TEN)
    rebuild_marts(conn, [DAY])
    assert conn.execute("SELECT is_final FROM marts.call_facts").fetchall() == [(False,)]
    assert conn.execute("SELECT DISTINCT is_final FROM marts.daily_costs").fetchall() == [(False,)]

    whole = stage_pages(tmp_path / "final", [[record("a", "08:00"), record("z", "23:59")]], THIRTEEN)
    replace_raw_partition(conn, DAY, whole, *day_bounds(DAY), reads=2)
    rebuild_marts(conn, [DAY])

    assert provisional_days_among(conn, [DAY]) == {}
    assert stored_ids(conn) == ["a", "z"]
    assert conn.execute("SELECT DISTINCT is_final FROM marts.call_facts").fetchall() == [(True,)]
    assert conn.execute("SELECT DISTINCT is_final FROM marts.daily_costs_by_currency").fetchall() == [(True,)]
