"""The raw archive (``warehouse/archive.py``) in a folder and in a real S3-compatible bucket.

Days are the simulator's own records landed through the real landing into DuckDB files on disk;
the bucket is ``moto_server`` on 127.0.0.1 (``tests/s3.py``), reached through the usual AWS
variables, set for each test only. What the archive holds is read back independently: object keys
and bytes through the filesystem or boto3, Parquet through a plain DuckDB, manifests as JSON.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from laaffic_pipeline.warehouse.archive import (
    ArchiveError,
    DaysAlreadyStoredError,
    archive_day,
    archived_days,
    check_archive_url,
    default_archive_url,
    latest_manifest,
    list_versions,
    prune_archive,
    restore_days,
    verify_day,
)
from tests.s3 import S3Server, running_s3_server
from tests.warehouse.raw_days import land_day, raw_columns, raw_rows, truth

DAY = date(2026, 11, 1)
NEXT_DAY = date(2026, 11, 2)
FETCHED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
LANDED = datetime(2026, 11, 3, 2, 5, 7, 123456, tzinfo=UTC)
RELANDED = datetime(2026, 11, 4, 2, 5, 9, tzinfo=UTC)
RUN_ID = "0f1e2d3c-run-of-the-first-landing"
DUCKDB_CONFIG = {"storage_compatibility_version": "v1.0.0"}
V1 = "v=0001-20261103T020507Z"


@dataclass
class Space:
    """An archive location and an independent way to touch its objects (not the archive's code)."""

    url: str
    folder: Path | None = None
    s3: S3Server | None = None
    bucket: str = ""
    prefix: str = ""

    def objects(self) -> list[str]:
        if self.folder is not None:
            if not self.folder.exists():
                return []
            return sorted(
                str(path.relative_to(self.folder))
                for path in self.folder.rglob("*")
                if path.is_file() and ".incoming" not in path.parts
            )
        assert self.s3 is not None
        return [key.removeprefix(self.prefix) for key in self.s3.keys(self.bucket, self.prefix)]

    def read(self, key: str) -> bytes:
        if self.folder is not None:
            return (self.folder / key).read_bytes()
        assert self.s3 is not None
        return self.s3.client().get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()

    def write(self, key: str, data: bytes) -> None:
        if self.folder is not None:
            (self.folder / key).write_bytes(data)
        else:
            assert self.s3 is not None
            self.s3.client().put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def delete(self, key: str) -> None:
        if self.folder is not None:
            (self.folder / key).unlink()
        else:
            assert self.s3 is not None
            self.s3.client().delete_object(Bucket=self.bucket, Key=self.prefix + key)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_s3_server(tmp_path_factory.mktemp("moto") / "moto_server.log") as server:
        yield server


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Server:
    """The AWS variables for this test only (monkeypatch undoes them)."""
    for name, value in s3_server.env(tmp_path).items():
        monkeypatch.setenv(name, value)
    return s3_server


def bucket_space(server: S3Server) -> Space:
    """A fresh bucket, and the archive under a prefix of it."""
    bucket = f"laaffic-archive-{secrets.token_hex(4)}"
    server.create_bucket(bucket)
    return Space(f"s3://{bucket}/laaffic/raw", s3=server, bucket=bucket, prefix="laaffic/raw/")


@pytest.fixture(params=["folder", "s3"])
def space(request: pytest.FixtureRequest, tmp_path: Path) -> Space:
    """Each test runs against a folder and against a fresh bucket."""
    if request.param == "folder":
        folder = tmp_path / "data" / "archive"
        return Space(str(folder), folder=folder)
    return bucket_space(request.getfixturevalue("s3_env"))


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), config=DUCKDB_CONFIG)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse file holding DAY and NEXT_DAY, landed from the simulator's records."""
    conn = connect(tmp_path / "data" / "laaffic.duckdb")
    for day in (DAY, NEXT_DAY):
        assert land_day(conn, tmp_path / "staging", day, truth(day), FETCHED) == len(truth(day))
    yield conn
    conn.close()


def archive(conn: duckdb.DuckDBPyConnection, space: Space, day: date = DAY, landed_at: datetime = LANDED):
    return archive_day(conn, day, space.url, run_id=RUN_ID, landed_at=landed_at)


def keys_of(day: date, version: str) -> list[str]:
    return [
        f"call_record_pages/day={day}/{version}.parquet",
        f"call_records/day={day}/{version}.parquet",
        f"manifests/day={day}/{version}.json",
    ]


def parquet_rows(data: bytes, tmp_path: Path, columns: str = "*") -> list[tuple[Any, ...]]:
    path = tmp_path / f"read-{secrets.token_hex(4)}.parquet"
    path.write_bytes(data)
    with duckdb.connect() as plain:
        return plain.execute(f"SELECT {columns} FROM read_parquet($path)", {"path": str(path)}).fetchall()


def test_a_day_is_archived_as_parquet_beside_its_manifest(warehouse, space, tmp_path):
    archived = archive(warehouse, space)
    assert archived.written
    assert space.objects() == keys_of(DAY, V1)

    expected = truth(DAY)
    manifest = json.loads(space.read(f"manifests/day={DAY}/{V1}.json"))
    fields = ("day", "version", "landed_at", "run_id", "records", "reported_total")
    assert {name: manifest[name] for name in fields} == {
        "day": "2026-11-01",
        "version": 1,
        "landed_at": "2026-11-03T02:05:07.123456+00:00",
        "run_id": RUN_ID,
        "records": len(expected),
        "reported_total": len(expected),
    }
    assert manifest["pages"] == math.ceil(len(expected) / 100) == 3
    assert all(len(manifest[name]) == 64 for name in ("records_digest", "pages_digest"))
    for name in ("call_records", "call_record_pages"):
        data = space.read(manifest["files"][name]["key"])
        assert manifest["files"][name]["bytes"] == len(data)

    records = space.read(f"call_records/day={DAY}/{V1}.parquet")
    rows = parquet_rows(records, tmp_path, "partition_date, record::VARCHAR, page, position")
    assert [json.loads(record) for _, record, _, _ in rows] == expected  # the API's records, as served
    assert {(day, page, position) for day, _, page, position in rows} == {
        (DAY, 1 + n // 100, n % 100) for n in range(len(expected))
    }
    path = tmp_path / "records.parquet"
    path.write_bytes(records)
    compression = duckdb.sql(f"SELECT DISTINCT compression FROM parquet_metadata('{path}')").fetchall()
    assert compression == [("ZSTD",)]
    assert verify_day(warehouse, DAY, space.url) == []


def test_restore_into_a_new_warehouse_gives_raw_identical_row_for_row(warehouse, space, tmp_path):
    for day in (DAY, NEXT_DAY):
        archive(warehouse, space, day)
    assert archived_days(space.url) == [DAY, NEXT_DAY]

    with connect(tmp_path / "restored" / "laaffic.duckdb") as restored:
        result = restore_days(restored, space.url)
        assert [(r.day, r.version, r.records, r.pages, r.run_id, r.rows_replaced) for r in result] == [
            (DAY, 1, len(truth(DAY)), 3, RUN_ID, 0),
            (NEXT_DAY, 1, len(truth(NEXT_DAY)), 3, RUN_ID, 0),
        ]
        assert raw_rows(restored) == raw_rows(warehouse)
        assert raw_columns(restored) == raw_columns(warehouse)
        # The restored warehouse passes the same check as the original, in another session time zone.
        restored.execute("SET TimeZone = 'Asia/Shanghai'")
        assert verify_day(restored, DAY, space.url) == []
        assert verify_day(restored, NEXT_DAY, space.url) == []


def test_relanding_writes_version_2_and_keeps_version_1(warehouse, space, tmp_path):
    archive(warehouse, space)
    first = {key: space.read(key) for key in space.objects()}
    # The API later returned one call more (a late arrival): the day is landed again.
    late = {**truth(DAY)[0], "voiceId": "2611011200000000999"}
    land_day(warehouse, tmp_path / "again", DAY, [*truth(DAY), late], FETCHED + timedelta(days=1))

    second = archive(warehouse, space, landed_at=RELANDED)
    assert (second.written, second.manifest.version) == (True, 2)
    assert second.manifest.records == len(truth(DAY)) + 1
    assert space.objects() == sorted([*keys_of(DAY, V1), *keys_of(DAY, "v=0002-20261104T020509Z")])
    assert {key: space.read(key) for key in first} == first  # version 1 untouched
    assert [m.version for m in list_versions(space.url, DAY)] == [1, 2]
    assert latest_manifest(space.url, DAY) == second.manifest
    assert verify_day(warehouse, DAY, space.url) == []

    # Archiving the same rows again writes nothing: the latest version already holds them.
    again = archive(warehouse, space, landed_at=RELANDED + timedelta(hours=1))
    assert (again.written, again.manifest) == (False, second.manifest)
    assert len(space.objects()) == 6

    with connect(tmp_path / "restored.duckdb") as restored:
        [day] = restore_days(restored, space.url, [DAY])
        assert (day.version, day.records) == (2, len(truth(DAY)) + 1)
        assert raw_rows(restored)["records"] == [r for r in raw_rows(warehouse)["records"] if r[0] == DAY]


def test_verify_and_restore_fail_when_an_archived_file_is_altered(warehouse, space, tmp_path):
    archive(warehouse, space)
    key = f"call_records/day={DAY}/{V1}.parquet"
    # A valid Parquet file with the same rows but one call's cost changed.
    original = tmp_path / "original.parquet"
    original.write_bytes(space.read(key))
    altered = tmp_path / "altered.parquet"
    duckdb.sql(
        f"COPY (SELECT * REPLACE (CASE WHEN page = 1 AND position = 0 THEN json_merge_patch(record, "
        f"'{{\"cost\": \"999\"}}') ELSE record END AS record) FROM read_parquet('{original}') "
        f"ORDER BY page, position) TO '{altered}' (FORMAT parquet, COMPRESSION zstd)"
    )
    space.write(key, altered.read_bytes())

    problems = verify_day(warehouse, DAY, space.url)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{DAY} version 1: {key} was altered: it has ")
    with connect(tmp_path / "restored.duckdb") as restored, pytest.raises(ArchiveError, match="was altered"):
        restore_days(restored, space.url, [DAY])
    with connect(tmp_path / "restored.duckdb") as restored:
        assert raw_rows(restored) == {"records": [], "pages": []}  # nothing of it was written


def test_verify_fails_when_an_archived_file_or_the_whole_version_is_missing(warehouse, space):
    archive(warehouse, space)
    space.delete(f"call_record_pages/day={DAY}/{V1}.parquet")
    assert verify_day(warehouse, DAY, space.url) == [
        f"{DAY} version 1: call_record_pages/day={DAY}/{V1}.parquet is missing from {space_url(space)}"
    ]
    space.delete(f"manifests/day={DAY}/{V1}.json")
    assert verify_day(warehouse, DAY, space.url) == [f"{DAY} has no archived version in {space_url(space)}"]
    assert verify_day(warehouse, NEXT_DAY, space.url) == [
        f"{NEXT_DAY} has no archived version in {space_url(space)}"
    ]


def space_url(space: Space) -> str:
    """The archive URL as the archive names it in messages (a folder resolved, a bucket as given)."""
    return str(Path(space.url).resolve()) if space.folder is not None else space.url


def test_verify_fails_when_the_warehouse_no_longer_holds_what_was_archived(warehouse, space):
    archive(warehouse, space)
    warehouse.execute(
        'UPDATE raw.call_records SET record = json_merge_patch(record, \'{"cost": "0"}\') '
        "WHERE partition_date = $day AND page = 2 AND position = 7",
        {"day": DAY},
    )
    [problem] = verify_day(warehouse, DAY, space.url)
    assert problem.startswith(
        f"{DAY}: the warehouse's {len(truth(DAY))} records differ from archived {DAY} version 1's: digest "
    )
    warehouse.execute("DELETE FROM raw.call_records WHERE partition_date = $day AND page = 3", {"day": DAY})
    assert verify_day(warehouse, DAY, space.url) == [
        f"{DAY}: the warehouse holds 200 records, archived {DAY} version 1 holds {len(truth(DAY))}"
    ]


def test_restore_refuses_days_the_warehouse_holds_unless_told_to_overwrite(warehouse, space, tmp_path):
    archive(warehouse, space)
    before = raw_rows(warehouse)
    warehouse.execute("DELETE FROM raw.call_records WHERE partition_date = $day AND page = 1", {"day": DAY})
    with pytest.raises(DaysAlreadyStoredError) as refused:
        restore_days(warehouse, space.url, [DAY])
    assert refused.value.days == [DAY]
    assert len(raw_rows(warehouse)["records"]) == len(before["records"]) - 100  # untouched

    [day] = restore_days(warehouse, space.url, [DAY], overwrite=True)
    assert (day.rows_replaced, day.records) == (len(truth(DAY)) - 100, len(truth(DAY)))
    assert raw_rows(warehouse) == before
    with pytest.raises(ArchiveError, match=f"holds no version of 1 day\\(s\\): {NEXT_DAY}"):
        restore_days(warehouse, space.url, [DAY, NEXT_DAY], overwrite=True)


def test_prune_deletes_only_versions_superseded_longer_ago_than_the_retention(warehouse, space, tmp_path):
    archive(warehouse, space)
    land_day(warehouse, tmp_path / "again", DAY, truth(DAY), FETCHED + timedelta(days=1))
    archive(warehouse, space, landed_at=RELANDED)
    v2 = keys_of(DAY, "v=0002-20261104T020509Z")
    # An archive interrupted after its first upload left a data file that no manifest names.
    orphan = f"call_records/day={DAY}/v=0001-20261103T000000Z.parquet"
    space.write(orphan, b"not a finished version")

    keep = timedelta(days=30)
    kept = prune_archive(space.url, keep_superseded_for=keep, now=RELANDED + keep)
    assert ([m.version for m in kept.versions], kept.orphans) == ([], [orphan])
    assert space.objects() == sorted([*keys_of(DAY, V1), *v2])

    pruned = prune_archive(space.url, keep_superseded_for=keep, now=RELANDED + keep + timedelta(seconds=1))
    assert [m.version for m in pruned.versions] == [1]
    assert space.objects() == v2  # the latest version of a day is never pruned
    assert verify_day(warehouse, DAY, space.url) == []


def test_credentials_stay_out_of_the_archive_and_its_errors(warehouse, s3_env, tmp_path, caplog):
    space = bucket_space(s3_env)
    caplog.set_level("DEBUG")
    archive(warehouse, space)
    with connect(tmp_path / "restored.duckdb") as restored:
        restore_days(restored, space.url)
    missing_bucket = f"s3://no-such-bucket-{secrets.token_hex(4)}/raw"
    with pytest.raises(ArchiveError) as error:
        archive_day(warehouse, DAY, missing_bucket, run_id=RUN_ID, landed_at=LANDED)
    problems = verify_day(warehouse, DAY, missing_bucket)
    secret, key_id = s3_env.secret_access_key, s3_env.access_key_id
    stored = b"".join(space.read(key) for key in space.objects())
    assert secret.encode() not in stored and key_id.encode() not in stored
    for text in (str(error.value), *problems):
        assert secret not in text and key_id not in text
    assert secret not in caplog.text  # botocore's own DEBUG lines name the key id, never the secret
    assert key_id not in "\n".join(r.getMessage() for r in caplog.records if r.levelno >= 20)
    with pytest.raises(ArchiveError, match="carries credentials"):
        archive_day(warehouse, DAY, f"s3://{key_id}:{secret}@bucket/raw", run_id=RUN_ID, landed_at=LANDED)


def test_a_day_without_raw_is_not_archived_and_the_default_archive_is_beside_the_warehouse(
    warehouse, tmp_path
):
    url = default_archive_url(tmp_path / "data" / "laaffic.duckdb")
    assert Path(url) == tmp_path / "data" / "archive"
    with pytest.raises(ArchiveError, match="holds no raw rows of 2026-11-05"):
        archive_day(warehouse, date(2026, 11, 5), url, run_id=RUN_ID, landed_at=LANDED)
    with pytest.raises(ValueError, match="timezone-aware"):
        archive_day(warehouse, DAY, url, run_id=RUN_ID, landed_at=datetime(2026, 11, 3, 2, 5))
    assert not Path(url).exists() or not any(Path(url).rglob("*.parquet"))


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("", True),
        ("data/archive", True),
        ("file:///srv/laaffic/archive", True),
        ("s3://bucket", True),
        ("s3://bucket/laaffic/raw", True),
        ("s3://AKIDKEY:n0t-a-real-s3cret@bucket/raw", False),
        ("s3:///raw", False),
        ("gs://bucket/raw", False),
        ("https://bucket.example.com/raw", False),
    ],
)
def test_the_archive_url_setting_accepts_a_folder_or_a_bucket_without_credentials(url, accepted):
    if accepted:
        assert check_archive_url(url) == url
    else:
        with pytest.raises(ValueError) as refused:
            check_archive_url(url)
        assert "n0t-a-real-s3cret" not in str(refused.value)
