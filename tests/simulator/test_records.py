"""Synthetic records: deterministic per UTC day, fast, and internally consistent like real CDRs."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest

from laaffic_pipeline.simulator.records import (
    BILL_PERIODS,
    MAX_CALL_SPAN_S,
    billed_seconds,
    call_cost,
    day_rows,
    generate_day,
    late_row,
    parse_offset,
    to_api_record,
    utc_days,
    window_rows,
    window_slice,
)

DOC_FIELDS = [
    "voiceId", "sipGroupName", "phoneName", "callee", "displayNum", "code", "submitTime",
    "callTime", "ringingTime", "answerTime", "hangupTime", "callDuration", "chargedDuration",
    "terminationCode", "terminationReason", "cost", "billPeriod", "rate", "recordingFileId",
    "currency",
]  # fmt: skip
REASONS = {
    "200": "success",
    "404": "Not Found",
    "408": "Request Timeout",
    "480": "Temporarily Unavailable",
    "486": "Busy Here",
    "487": "Request Terminated",
    "503": "Service Unavailable",
    "603": "Decline",
}
DAYS = [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]


@pytest.mark.parametrize(
    ("duration", "period", "charged"),
    [
        (0, "20+20", 0),
        (5, "20+20", 20),
        (20, "20+20", 20),
        (21, "20+20", 40),
        (7, "1+1", 7),
        (7, "6+6", 12),
        (1, "30+6", 30),
        (31, "30+6", 36),
        (37, "30+6", 42),
        (60, "60+60", 60),
        (61, "60+60", 120),
    ],
)
def test_billing_rule_charges_first_period_then_whole_steps(duration, period, charged):
    assert billed_seconds(duration, period) == charged


@pytest.mark.parametrize(
    ("rate", "charged", "cost"),
    [
        ("0.0125", 60, "0.0125"),
        ("1.2", 20, "0.4"),
        ("0.0115", 43, "0.008242"),
        ("0.0001", 1, "0.000002"),
        ("0.006", 0, "0"),
        ("0.185", 3600, "11.1"),
    ],
)
def test_cost_is_rate_per_minute_rounded_to_six_decimals_without_exponent(rate, charged, cost):
    assert call_cost(rate, charged) == cost


def _rendered(days: list[date], seed: int = 7, per_day: int = 500) -> list[dict]:
    zone = parse_offset("+08:00")
    return [to_api_record(row, zone) for day in days for row in day_rows(seed, day, per_day)]


def test_records_have_every_documented_field_in_order():
    for record in _rendered(DAYS[:1]):
        assert list(record) == DOC_FIELDS


def test_records_are_internally_consistent():
    records = _rendered(DAYS)
    for r in records:
        times = [r[name] for name in ("submitTime", "callTime", "ringingTime", "answerTime")]
        times.append(r["hangupTime"])
        assert r["submitTime"] and r["callTime"] and r["hangupTime"]
        moments = [datetime.fromisoformat(t) for t in times if t]
        assert moments == sorted(moments), r
        assert all(t.endswith("+08:00") for t in times if t)
        answered = r["terminationCode"] == "200"
        assert r["terminationReason"] == REASONS[r["terminationCode"]]
        assert (r["answerTime"] != "") == answered
        assert (r["recordingFileId"] != "") == answered
        if answered:
            span = datetime.fromisoformat(r["hangupTime"]) - datetime.fromisoformat(r["answerTime"])
            assert r["callDuration"] == span.total_seconds() > 0
            assert re.fullmatch(r"1\d{8}[0-9a-f]{32}\.mp3", r["recordingFileId"])
        else:
            assert r["callDuration"] == r["chargedDuration"] == 0
            assert r["cost"] == "0"
        assert r["chargedDuration"] == billed_seconds(r["callDuration"], r["billPeriod"])
        expected = (Decimal(r["rate"]) * r["chargedDuration"] / 60).quantize(
            Decimal("0.000001"), ROUND_HALF_UP
        )
        assert Decimal(r["cost"]) == expected
        assert "E" not in r["cost"] and "E" not in r["rate"]
        assert re.fullmatch(r"[A-Za-z ]+(\([A-Za-z ]+\))?", r["code"])
        assert r["callee"].isdigit() and r["displayNum"].isdigit()
        assert r["voiceId"].isdigit()
        assert r["currency"] in {"USD", "EUR"}


def test_records_vary_like_real_traffic():
    records = _rendered(DAYS)
    phones_by_group: dict[str, set[str]] = {}
    for r in records:
        phones_by_group.setdefault(r["sipGroupName"], set()).add(r["phoneName"])
    assert len(phones_by_group) >= 3
    assert all(len(phones) >= 3 for phones in phones_by_group.values())
    assert {r["billPeriod"] for r in records} == set(BILL_PERIODS)
    assert set(REASONS) == {r["terminationCode"] for r in records}
    assert {r["currency"] for r in records} == {"USD", "EUR"}
    codes = Counter("(" in r["code"] for r in records)
    assert codes[True] > 0 and codes[False] > 0
    assert "Afghanistan(Kandahar)" in {r["code"] for r in records}
    assert len({r["callee"][:2] for r in records}) >= 8
    answered = sum(r["terminationCode"] == "200" for r in records) / len(records)
    assert 0.45 < answered < 0.7


def test_voice_ids_are_unique_across_days():
    ids = [r["voiceId"] for r in _rendered(DAYS)]
    assert len(ids) == len(set(ids)) == 3 * 500


def test_a_day_is_a_pure_function_of_seed_day_and_count():
    day = date(2026, 10, 20)
    first = day_rows(11, day, 300)
    assert generate_day(11, day, 300) == first
    assert day_rows(11, day, 300) is first  # cached
    assert day_rows(12, day, 300) != first
    assert len(day_rows(11, day, 301)) == 301
    start = datetime(2026, 10, 20, tzinfo=UTC).timestamp()
    assert all(start <= row.submit < start + 86_400 for row in first)
    assert [(r.submit, r.voice_id) for r in first] == sorted((r.submit, r.voice_id) for r in first)


def test_a_day_of_100k_records_is_generated_whole():
    """How fast is a benchmark figure (``bench_load`` reports ``generate_s`` for 1,000,000)."""
    rows = generate_day(424242, date(2026, 9, 30), 100_000)
    assert len(rows) == len({row.voice_id for row in rows}) == 100_000


def test_utc_days_of_a_dst_day_window():
    start = datetime.fromisoformat("2026-03-29T00:00:00+01:00")  # Europe/Berlin's 23-hour day
    end = datetime.fromisoformat("2026-03-30T00:00:00+02:00")
    assert end - start == timedelta(hours=23)
    assert utc_days(start, end) == [date(2026, 3, 28), date(2026, 3, 29)]
    midnight = datetime(2026, 3, 29, tzinfo=UTC)
    assert utc_days(midnight, midnight + timedelta(days=1)) == [date(2026, 3, 29)]


def test_window_rows_keep_exactly_the_instants_inside():
    window_start = datetime.fromisoformat("2026-10-25T00:00:00+02:00")  # Europe/Berlin's 25 hours
    window_end = datetime.fromisoformat("2026-10-26T00:00:00+01:00")
    rows = window_rows(7, 500, window_start, window_end)
    start, end = window_start.timestamp(), window_end.timestamp()
    around = [*day_rows(7, date(2026, 10, 24), 500), *day_rows(7, date(2026, 10, 25), 500)]
    assert rows == [row for row in around if start <= row.submit < end]
    assert len(rows) > 500


def test_late_rows_fall_inside_their_window_and_day():
    start = datetime(2026, 10, 25, 6, tzinfo=UTC)
    end = datetime(2026, 10, 25, 7, tzinfo=UTC)
    rows = [late_row(7, date(2026, 10, 25), n, start.timestamp(), end.timestamp()) for n in range(20)]
    assert all(row is not None and start.timestamp() <= row.submit < end.timestamp() for row in rows)
    assert len({row.voice_id for row in rows}) == 20
    assert late_row(7, date(2026, 10, 24), 0, start.timestamp(), end.timestamp()) is None


@pytest.mark.parametrize(
    ("first", "count"), [(0, 100), (37, 100), (480, 100), (499, 5), (650, 100), (0, 2000)]
)
def test_a_window_slice_is_the_same_slice_of_the_whole_window(first, count):
    from laaffic_pipeline.simulator.records import late_row, window_rows, window_slice

    # Three UTC days' worth of a +05:30 window, with late arrivals on two of them.
    zone = timezone(timedelta(hours=5, minutes=30))
    start, end = datetime(2026, 3, 7, 12, tzinfo=zone), datetime(2026, 3, 9, 6, tzinfo=zone)
    late = {
        day: tuple(row for n in range(4) if (row := late_row(7, day, n, start.timestamp(), end.timestamp())))
        for day in (date(2026, 3, 7), date(2026, 3, 8))
    }
    whole = window_rows(7, 300, start, end, late)
    assert sum(len(rows) for rows in late.values()) > 0
    assert window_slice(7, 300, start, end, late, first, count) == (len(whole), whole[first : first + count])


def test_every_call_ends_within_the_longest_span_after_its_submission():
    """The bound the live filter relies on: a call submitted ``MAX_CALL_SPAN_S`` ago has ended."""
    rows = [*day_rows(7, date(2026, 10, 25), 20_000), late_row(7, date(2026, 10, 25), 0, 0, 2e9)]
    spans = [row.hangup - row.submit for row in rows if row is not None]
    assert min(spans) >= 0 and max(spans) <= MAX_CALL_SPAN_S
    assert max(spans) > MAX_CALL_SPAN_S - 1800  # long calls exist, so the bound is not idle


# Instants on 25 October 2026 (UTC), when the day is partly over, and after it ended.
AS_OF = [
    datetime(2026, 10, 25, 0, 20, tzinfo=UTC),  # calls of the 24th still in progress
    datetime(2026, 10, 25, 10, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 10, 26, 0, 30, tzinfo=UTC),  # the 25th's last calls ending
    datetime(2026, 10, 26, 2, 0, tzinfo=UTC),  # the 25th complete
]


@pytest.mark.parametrize("as_of", AS_OF, ids=[moment.strftime("%dT%H:%M:%S") for moment in AS_OF])
def test_a_window_at_an_instant_serves_the_calls_submitted_inside_that_ended_by_then(as_of):
    start, end = datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, 12, tzinfo=UTC)
    rows = window_rows(7, 2000, start, end, as_of=as_of.timestamp())
    every = window_rows(7, 2000, start, end)
    assert rows == [row for row in every if row.hangup <= as_of.timestamp()]
    for first, count in [(0, 100), (1990, 100), (len(rows) - 5, 100)]:
        assert window_slice(7, 2000, start, end, {}, first, count, as_of.timestamp()) == (
            len(rows),
            rows[first : first + count],
        )


def test_a_call_is_served_from_the_second_it_ends():
    start, end = datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)
    every = window_rows(7, 2000, start, end)
    call = next(row for row in every if row.hangup - row.submit > 600)
    before = window_rows(7, 2000, start, end, as_of=call.hangup - 0.5)
    at = window_rows(7, 2000, start, end, as_of=call.hangup)
    assert call not in before and call in at
    assert window_rows(7, 2000, start, end, as_of=call.submit + 1) == [
        row for row in every if row.hangup <= call.submit + 1
    ]


def test_late_rows_are_served_once_ended_too():
    start, end = datetime(2026, 10, 25, 9, tzinfo=UTC), datetime(2026, 10, 25, 11, tzinfo=UTC)
    day = date(2026, 10, 25)
    late = {day: tuple(late_row(7, day, n, start.timestamp(), end.timestamp()) for n in range(30))}
    as_of = datetime(2026, 10, 25, 10, 50, tzinfo=UTC).timestamp()
    every = window_rows(7, 5000, start, end, late)
    rows = window_rows(7, 5000, start, end, late, as_of)
    assert rows == [row for row in every if row.hangup <= as_of]
    assert {row.voice_id for row in late[day] if row.hangup <= as_of} <= {row.voice_id for row in rows}
    assert any(row.hangup > as_of for row in late[day])  # some are still in progress
