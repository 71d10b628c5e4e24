"""Hand-made call records and a way to land them through the real raw landing path."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
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


# Three stored days; the edge call was returned by day 1's and day 2's windows (stays in day 1).
HISTORY_DAYS = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
HISTORY = {
    HISTORY_DAYS[0]: [
        call("a", cost="2"),
        call("b", currency="EUR", cost="1.5"),
        call("edge", currency="GBP", cost="4"),
    ],
    HISTORY_DAYS[1]: [
        call("edge", currency="GBP", cost="4"),
        call("c", currency="EUR", cost="0.25"),
        unanswered("d", currency="GBP"),
    ],
    HISTORY_DAYS[2]: [
        call("e", cost="0.125"),
        call("f", currency="EUR", cost="3"),
        call("g", currency="", cost="1"),
    ],
}


def expected_by_currency(
    setting: str, days: Sequence[date] = HISTORY_DAYS
) -> dict[tuple[date, str | None], tuple[int, Decimal]]:
    """(calls, total cost) per day of ``days`` and money currency, summed in Python over ``HISTORY``
    as the API sent it, under ``LAAFFIC_COST_CURRENCY=setting``."""
    totals: dict[tuple[date, str | None], list] = defaultdict(lambda: [0, Decimal(0)])
    for day in days:
        seen_the_day_before = {record["voiceId"] for record in HISTORY.get(day - timedelta(days=1), [])}
        for record in HISTORY[day]:
            if record["voiceId"] in seen_the_day_before:
                continue  # the boundary call stays in the earlier day
            currency = (record["currency"] or None) if setting == "record" else setting
            totals[day, currency][0] += 1
            totals[day, currency][1] += Decimal(record["cost"])
    return {key: (calls, total) for key, (calls, total) in totals.items()}
