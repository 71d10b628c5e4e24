"""Hand-made call records and a way to land them through the real raw landing path."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from itertools import count
from pathlib import Path
from typing import Any

import duckdb

from laaffic_pipeline.warehouse.landing import replace_raw_partition
from tests.staged import day_bounds, stage_pages

# The record of the API document's response example (RESPONSEEXAMPLE), copied as printed there,
# spacing included ("currency":"EUR" and all).
DOC_SAMPLE_JSON = """
            {
                "voiceId": "2203031113381000002",
                "sipGroupName": "group1",
                "phoneName": "sipName8555",
                "callee": "91856321412",
                "displayNum": "1008122211",
                "code": "Afghanistan(Kandahar)",
                "submitTime": "2022-01-18T14:42:40+08:00",
                "callTime": "2022-01-18T14:45:42+08:00",
                "ringingTime": "2022-01-18T14:42:47+08:00",
                "answerTime": "2022-01-18T14:42:50+08:00",
                "hangupTime": "2022-01-18T14:42:55+08:00",
                "callDuration": 5,
                "chargedDuration": 5,
                "terminationCode": "200",
                "terminationReason": "success",
                "cost": "2",
                "billPeriod": "20+20",
                "rate": "1.2",
                "recordingFileId": "12022022570cc2484c59d4f8b9745d34226285b1e.mp3",
                "currency":"EUR"
            }
"""
DOC_SAMPLE_RECORD: dict[str, Any] = json.loads(DOC_SAMPLE_JSON)

DAY = date(2026, 3, 10)
FETCHED_AT = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)
MISSING = object()
"""An override value that removes the field from the record."""
_staging_files = count()


def call(voice_id: str, **overrides: Any) -> dict[str, Any]:
    """A clean answered call on ``DAY`` (65 s billed 60+60 at 0.0125/min: 120 s, 0.025 USD).

    Keyword names are the API's field names; ``MISSING`` removes a field.
    """
    record: dict[str, Any] = {
        "voiceId": voice_id,
        "sipGroupName": "group1",
        "phoneName": "sipName1001",
        "callee": "919876543210",
        "displayNum": "1008122211",
        "code": "India(Mumbai)",
        "submitTime": "2026-03-10T10:00:00+00:00",
        "callTime": "2026-03-10T10:00:01+00:00",
        "ringingTime": "2026-03-10T10:00:04+00:00",
        "answerTime": "2026-03-10T10:00:10+00:00",
        "hangupTime": "2026-03-10T10:01:15+00:00",
        "callDuration": 65,
        "chargedDuration": 120,
        "terminationCode": "200",
        "terminationReason": "success",
        "cost": "0.025",
        "billPeriod": "60+60",
        "rate": "0.0125",
        "recordingFileId": "120260310a1b2c3d4.mp3",
        "currency": "USD",
    }
    record.update(overrides)
    return {name: value for name, value in record.items() if value is not MISSING}


def unanswered(voice_id: str, **overrides: Any) -> dict[str, Any]:
    """A call refused before it rang: no ringing or answer time, nothing charged."""
    fields = {
        "ringingTime": "",
        "answerTime": "",
        "hangupTime": "2026-03-10T10:00:02+00:00",
        "callDuration": 0,
        "chargedDuration": 0,
        "terminationCode": "486",
        "terminationReason": "Busy Here",
        "cost": "0",
        "recordingFileId": "",
    }
    return call(voice_id, **{**fields, **overrides})


def land(
    conn: duckdb.DuckDBPyConnection,
    staging_dir: Path,
    day: date,
    pages: Sequence[Sequence[dict[str, Any]]],
    *,
    fetched_at: Sequence[datetime] | None = None,
    zone: str = "UTC",
) -> None:
    """Stage ``pages`` as the API client would and replace ``day``'s raw partition with them."""
    fetched = list(fetched_at or [FETCHED_AT] * len(pages))
    staged = stage_pages(staging_dir / f"raw-{day}-{next(_staging_files)}", pages, fetched)
    replace_raw_partition(conn, day, staged, *day_bounds(day, zone), reads=1, allow_fewer_rows=True)


def facts(conn: duckdb.DuckDBPyConnection, where: str = "true") -> list[dict[str, Any]]:
    """Rows of ``marts.call_facts`` as dicts, in a stable order."""
    cursor = conn.execute(
        f"SELECT * FROM marts.call_facts WHERE {where} ORDER BY call_date, voice_id NULLS LAST, fetched_at"
    )
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fact(conn: duckdb.DuckDBPyConnection, voice_id: str) -> dict[str, Any]:
    (row,) = facts(conn, f"voice_id = '{voice_id}'")
    return row
