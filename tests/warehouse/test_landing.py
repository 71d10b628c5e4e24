from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from laaffic_pipeline.warehouse.landing import PartitionShrinkError, replace_raw_partition
from tests.staged import day_bounds, stage_pages

DAY = date(2026, 11, 1)
NEXT_DAY = date(2026, 11, 2)
FETCHED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def land(conn, tmp_path: Path, day: date, pages: list[list[dict]], **options):
    staged = stage_pages(tmp_path / f"{day}", pages, FETCHED)
    return replace_raw_partition(conn, day, staged, *day_bounds(day), reads=1, **options)


def stored(conn, day: date) -> list[tuple]:
    return conn.execute(
        "SELECT voice_id, record::VARCHAR, page, position FROM raw.call_records "
        "WHERE partition_date = ? ORDER BY page, position",
        [day],
    ).fetchall()


def test_records_land_exactly_as_received_with_their_page_and_position(conn, tmp_path):
    record = {"voiceId": "2203031113381000002", "cost": "2", "extra": {"a": [1]}, "phoneName": "电话"}
    land(conn, tmp_path, DAY, [[record, {"voiceId": "2"}], [{"voiceId": "3"}]])
    rows = stored(conn, DAY)
    assert [(voice_id, page, position) for voice_id, _, page, position in rows] == [
        ("2203031113381000002", 1, 0),
        ("2", 1, 1),
        ("3", 2, 0),
    ]
    assert conn.execute(
        "SELECT record FROM raw.call_records WHERE voice_id = ?", [record["voiceId"]]
    ).fetchone()[0] == ('{"voiceId":"2203031113381000002","cost":"2","extra":{"a":[1]},"phoneName":"电话"}')
    pages = conn.execute(
        "SELECT page, reported_total, reported_pages, records_on_page, str_time, end_time "
        "FROM raw.call_record_pages ORDER BY page"
    ).fetchall()
    assert pages == [
        (1, 3, 2, 2, "2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00"),
        (2, 3, 2, 1, "2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00"),
    ]


def test_relanding_replaces_the_partition_and_leaves_other_days_alone(conn, tmp_path):
    land(conn, tmp_path, NEXT_DAY, [[{"voiceId": "next"}]])
    land(conn, tmp_path, DAY, [[{"voiceId": "a"}, {"voiceId": "b"}]])
    result = land(conn, tmp_path, DAY, [[{"voiceId": "a"}, {"voiceId": "b"}, {"voiceId": "c"}]])
    assert (result.rows_before, result.rows_after) == (2, 3)
    assert [row[0] for row in stored(conn, DAY)] == ["a", "b", "c"]
    assert [row[0] for row in stored(conn, NEXT_DAY)] == ["next"]
    assert conn.execute(
        "SELECT count(*) FROM raw.call_record_pages WHERE partition_date = ?", [DAY]
    ).fetchone() == (1,)


def test_a_record_repeated_across_pages_lands_once(conn, tmp_path):
    land(conn, tmp_path, DAY, [[{"voiceId": "a"}, {"voiceId": "b"}], [{"voiceId": "b"}, {"voiceId": "c"}]])
    assert [(row[0], row[2]) for row in stored(conn, DAY)] == [("a", 1), ("b", 2), ("c", 2)]


def test_a_record_updated_between_pages_lands_once_as_its_latest_copy(conn, tmp_path):
    # Identity is the voice id, not the content: call "b" was re-sent with its final cost.
    first = {"voiceId": "b", "cost": "0.10", "terminationCode": ""}
    latest = {"voiceId": "b", "cost": "0.25", "terminationCode": "200"}
    land(conn, tmp_path, DAY, [[{"voiceId": "a"}, first], [latest, {"voiceId": "c"}]])
    assert [(row[0], row[2], row[3]) for row in stored(conn, DAY)] == [("a", 1, 0), ("b", 2, 0), ("c", 2, 1)]
    assert conn.execute("SELECT record ->> 'cost' FROM raw.call_records WHERE voice_id = 'b'").fetchall() == [
        ("0.25",)
    ]


def test_records_without_voice_id_are_kept(conn, tmp_path):
    land(conn, tmp_path, DAY, [[{"cost": "1"}, {"voiceId": ""}, {"cost": "2"}]])
    assert [row[0] for row in stored(conn, DAY)] == [None, None, None]


def test_a_failure_inside_the_write_leaves_the_stored_partition_intact(conn, tmp_path):
    land(conn, tmp_path, DAY, [[{"voiceId": "a"}, {"voiceId": "b"}]])
    before = stored(conn, DAY)
    broken = stage_pages(tmp_path / "broken", [[{"voiceId": "x"}]], FETCHED)
    with broken.records_path.open("a") as file:
        file.write("{this is not json\n")
    with pytest.raises(duckdb.Error):
        replace_raw_partition(conn, DAY, broken, *day_bounds(DAY), reads=1)
    assert stored(conn, DAY) == before
    assert conn.execute("SELECT count(*) FROM raw.call_record_pages").fetchone() == (1,)


def test_a_refetch_with_fewer_records_is_refused_unless_allowed(conn, tmp_path):
    land(conn, tmp_path, DAY, [[{"voiceId": "a"}, {"voiceId": "b"}, {"voiceId": "c"}]])
    with pytest.raises(PartitionShrinkError, match="would lose 2 rows"):
        land(conn, tmp_path, DAY, [[{"voiceId": "a"}]])
    assert [row[0] for row in stored(conn, DAY)] == ["a", "b", "c"]
    land(conn, tmp_path, DAY, [[{"voiceId": "a"}]], allow_fewer_rows=True)
    assert [row[0] for row in stored(conn, DAY)] == ["a"]


def test_a_refetch_one_record_short_is_refused_and_one_as_large_is_accepted(conn, tmp_path):
    land(conn, tmp_path, DAY, [[{"voiceId": "a"}, {"voiceId": "b"}, {"voiceId": "c"}]])
    with pytest.raises(PartitionShrinkError, match="would lose 1 rows"):
        land(conn, tmp_path, DAY, [[{"voiceId": "a"}, {"voiceId": "b"}]])
    assert [row[0] for row in stored(conn, DAY)] == ["a", "b", "c"]
    result = land(conn, tmp_path, DAY, [[{"voiceId": "a"}, {"voiceId": "b"}, {"voiceId": "d"}]])
    assert (result.rows_before, result.rows_after) == (3, 3)
    assert [row[0] for row in stored(conn, DAY)] == ["a", "b", "d"]


def test_values_the_fast_encoder_refuses_are_still_staged_exactly(conn, tmp_path):
    record = {"voiceId": "big", "callDuration": 2**70, "phoneName": "電話"}
    land(conn, tmp_path, DAY, [[record]])
    (stored_record,) = conn.execute("SELECT record FROM raw.call_records").fetchone()
    assert stored_record == '{"voiceId":"big","callDuration":1180591620717411303424,"phoneName":"電話"}'
