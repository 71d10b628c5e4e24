"""``laaffic-pipeline restore``: a deleted warehouse's raw rebuilt from the archive alone, no API.

Days are the simulator's records landed through the real landing and archived by
``archive_day``; then the warehouse file is deleted and the command rebuilds it. No simulator
runs and ``LAAFFIC_BASE_URL`` points at a loopback port nobody listens on: nothing could answer
an API request. The marts step after the raw restore is Dagster's (``rebuild_marts_through_dagster``
in ``laaffic_pipeline/defs/runs.py``, run for real by ``tests/defs/test_restore.py``); here it is
handed in, to check what the command gives it, or left out with ``--raw-only``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from laaffic_pipeline.cli import build_parser, main, run_restore
from laaffic_pipeline.warehouse.archive import archive_day, default_archive_url
from tests.e2e.dagster_dev import free_port
from tests.s3 import S3Server, running_s3_server
from tests.warehouse.raw_days import land_day, raw_rows, truth

DAYS = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 5)]
FETCHED = datetime(2026, 11, 6, 2, 0, tzinfo=UTC)
LANDED = datetime(2026, 11, 6, 2, 3, 4, tzinfo=UTC)


@pytest.fixture
def landed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse holding DAYS, pointed at by LAAFFIC_DUCKDB_PATH; the API unreachable."""
    path = tmp_path / "data" / "laaffic.duckdb"
    path.parent.mkdir()
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        for day in DAYS:
            land_day(conn, tmp_path / "staging", day, truth(day), FETCHED)
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(path))
    monkeypatch.setenv("LAAFFIC_BASE_URL", f"http://127.0.0.1:{free_port()}/v3/voice")
    return path


def archive_all(warehouse: Path, url: str) -> dict[str, list[tuple]]:
    """Archive every day of ``warehouse`` to ``url``; returns its raw, to compare with a restore."""
    with duckdb.connect(str(warehouse)) as conn:
        for day in DAYS:
            archive_day(conn, day, url, run_id=f"run-{day}", landed_at=LANDED)
        return raw_rows(conn)


def stored(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return raw_rows(conn)


def delete_warehouse(warehouse: Path) -> None:
    warehouse.unlink()
    assert not warehouse.exists()


def test_a_deleted_warehouse_is_rebuilt_from_the_default_archive_beside_it(landed, capsys):
    before = archive_all(landed, default_archive_url(landed))
    delete_warehouse(landed)

    assert main(["restore", "--raw-only"]) == 0
    assert stored(landed) == before
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"Restored 3 day(s) of raw from {landed.parent / 'archive'} into {landed}, without any API request:"
    )
    assert out[1:] == [
        f"  {day}: {len(truth(day))} records, 3 pages, version 1 (landed 2026-11-06T02:03:04+00:00 by run "
        f"run-{day})"
        for day in DAYS
    ]


def test_a_range_restores_only_its_days(landed, tmp_path, capsys):
    url = str(tmp_path / "elsewhere" / "archive")
    before = archive_all(landed, url)
    delete_warehouse(landed)

    assert (
        main(["restore", "--raw-only", "--from-url", url, "--from", "2026-11-02", "--to", "2026-11-05"]) == 0
    )
    assert stored(landed) == {
        table: [row for row in rows if row[0] != DAYS[0]] for table, rows in before.items()
    }
    assert "Restored 2 day(s)" in capsys.readouterr().out


def test_a_warehouse_holding_any_of_the_days_is_refused_unless_forced(landed, tmp_path, capsys):
    url = str(tmp_path / "archive")
    before = archive_all(landed, url)
    with duckdb.connect(str(landed)) as conn:  # a day changed since it was archived
        conn.execute(
            "DELETE FROM raw.call_records WHERE partition_date = $day AND page = 3", {"day": DAYS[1]}
        )
    changed = stored(landed)

    assert main(["restore", "--raw-only", "--from-url", url, "--from", "2026-11-02"]) == 1
    err = capsys.readouterr().err
    assert "the warehouse already holds 2 of the days to restore (2026-11-02, 2026-11-05); nothing was" in err
    assert stored(landed) == changed

    assert main(["restore", "--raw-only", "--from-url", url, "--from", "2026-11-02", "--force"]) == 0
    assert stored(landed) == before
    out = capsys.readouterr().out
    assert f"  2026-11-02: {len(truth(DAYS[1]))} records, 3 pages, version 1" in out
    assert f"; replaced {len(truth(DAYS[1])) - 100} stored records" in out  # page 3 was gone


def test_the_marts_are_handed_each_run_of_consecutive_days_once_the_warehouse_is_closed(
    landed, tmp_path, capsys
):
    url = str(tmp_path / "archive")
    before = archive_all(landed, url)
    delete_warehouse(landed)
    spans = []

    def rebuild_marts(first: date, last: date) -> str:
        with duckdb.connect(str(landed)) as conn:  # a writer: the restore no longer holds the file
            spans.append((first, last, len(raw_rows(conn)["records"])))
        return f"marts of {first}..{last} built"

    args = build_parser().parse_args(["restore", "--from-url", url])
    assert run_restore(args, rebuild_marts) == 0
    total = len(before["records"])
    assert spans == [(DAYS[0], DAYS[1], total), (DAYS[2], DAYS[2], total)]
    out = capsys.readouterr().out
    assert out.endswith("marts of 2026-11-01..2026-11-02 built\nmarts of 2026-11-05..2026-11-05 built\n")


def test_an_empty_range_or_archive_restores_nothing(landed, tmp_path, capsys):
    url = str(tmp_path / "archive")
    archive_all(landed, url)
    assert main(["restore", "--raw-only", "--from-url", url, "--from", "2026-11-06"]) == 1
    assert f"{Path(url)} holds no archived day in that range" in capsys.readouterr().err
    assert main(["restore", "--raw-only", "--from-url", str(tmp_path / "nothing")]) == 1


@pytest.fixture
def bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[S3Server, str]]:
    """moto_server on 127.0.0.1 with a fresh bucket; the AWS variables set for this test only."""
    with running_s3_server(tmp_path / "moto_server.log") as server:
        for name, value in server.env(tmp_path).items():
            monkeypatch.setenv(name, value)
        name = f"laaffic-restore-{secrets.token_hex(4)}"
        server.create_bucket(name)
        yield server, name


def test_a_deleted_warehouse_is_rebuilt_from_a_bucket(landed, bucket, capsys):
    server, name = bucket
    url = f"s3://{name}/archive"
    before = archive_all(landed, url)
    assert len(server.keys(name, "archive/manifests/")) == 3
    delete_warehouse(landed)

    assert main(["restore", "--raw-only", "--from-url", url]) == 0
    assert stored(landed) == before
    out = capsys.readouterr().out
    assert f"Restored 3 day(s) of raw from {url} into {landed}" in out
    assert server.secret_access_key not in out


def test_the_day_options_are_checked():
    with pytest.raises(SystemExit):
        main(["restore", "--from", "2026-11-05", "--to", "2026-11-01"])
    with pytest.raises(SystemExit):
        main(["restore", "--from", "yesterday"])
