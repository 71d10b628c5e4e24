import math
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pytest

from laaffic_pipeline.warehouse.marts import rebuild_marts
from tests.warehouse.mart_inputs import DAY, call, land, unanswered


def answered(voice_id: str, duration: int, **overrides: Any) -> dict[str, Any]:
    """An answered call whose talk time is its duration (answer at 10:00:10, 3 s post-dial delay)."""
    hangup = f"2026-03-10T10:{(10 + duration) // 60:02d}:{(10 + duration) % 60:02d}+00:00"
    return call(voice_id, callDuration=duration, hangupTime=hangup, **overrides)


def usd(group: str, phone: str, code: str) -> dict[str, str]:
    return {"sipGroupName": group, "phoneName": phone, "code": code, "currency": "USD"}


def eur(group: str, phone: str, code: str) -> dict[str, str]:
    return {"sipGroupName": group, "phoneName": phone, "code": code, "currency": "EUR"}


A = usd("group1", "sipName1001", "India(Mumbai)")
RECORDS = [
    answered("a1", 65, chargedDuration=120, cost="0.025", **A),
    answered("a2", 30, chargedDuration=60, cost="0.013", **A),  # 0.0005 over the rule
    unanswered("a3", **A),
    # Another region of the same country and phone: the same row.
    answered("a4", 1, chargedDuration=60, cost="0.0125", **usd("group1", "sipName1001", "India(Delhi)")),
    # The same phone and country priced in EUR: its own row, never summed with USD.
    answered(
        "a5", 59, chargedDuration=60, cost="0.0115", rate="0.0115", **eur("group1", "sipName1001", "India")
    ),
    # Unpriced (cost N/A), and a 6+6 call.
    answered(
        "b1",
        20,
        chargedDuration=60,
        cost="N/A",
        rate="0.1850",
        **eur("group2", "sipName2002", "Afghanistan(Kabul)"),
    ),
    answered(
        "b2",
        61,
        chargedDuration=66,
        cost="0.033",
        rate="0.03",
        billPeriod="6+6",
        **eur("group2", "sipName2002", "Afghanistan(Kandahar)"),
    ),
    unanswered("b3", **eur("group2", "sipName2002", "United Kingdom")),
    # USD ASR is 4/8 overall; the mean of its rows' ASRs (0.75, 1.0, 0.0) is not.
    answered(
        "c1",
        600,
        chargedDuration=600,
        cost="0.31",
        rate="0.0310",
        billPeriod="30+6",
        **usd("group3", "sipName3003", "Brazil(Sao Paulo)"),
    ),
    *[unanswered(f"c{n}", **usd("group3", "sipName3004", "Brazil(Sao Paulo)")) for n in range(2, 5)],
]


def billed(duration: int, period: str) -> int:
    first, step = (int(part) for part in period.split("+"))
    if duration == 0:
        return 0
    return first if duration <= first else first + math.ceil((duration - first) / step) * step


def money(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def expected_rows(records: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """The aggregates recomputed in Python straight from the API records."""
    rows: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {"calls": 0, "answered_calls": 0, "call_seconds": 0, "charged_seconds": 0, "total_cost": 0}
    )
    for record in records:
        key = (record["sipGroupName"], record["phoneName"], record["code"].split("(")[0], record["currency"])
        row = rows[key]
        row["calls"] += 1
        row["answered_calls"] += record["terminationCode"] == "200"
        row["call_seconds"] += record["callDuration"]
        row["charged_seconds"] += record["chargedDuration"]
        row["total_cost"] += money(record["cost"]) or 0
        expected = Decimal(record["rate"]) * billed(record["callDuration"], record["billPeriod"]) / 60
        row["expected_cost"] = row.get("expected_cost", 0) + expected.quantize(
            Decimal("0.000001"), ROUND_HALF_UP
        )
    return rows


def query(conn, sql: str) -> list[dict[str, Any]]:
    cursor = conn.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def built_day(conn, tmp_path):
    land(conn, tmp_path, DAY, [RECORDS])
    rebuild_marts(conn, [DAY])
    rebuild_marts(conn, [DAY])
    return conn


def test_daily_costs_equal_python_sums_at_their_grain(built_day):
    rows = query(built_day, "SELECT * FROM marts.daily_costs")
    by_key = {(r["sip_group_name"], r["phone_name"], r["country"], r["currency"]): r for r in rows}
    assert len(by_key) == len(rows)  # one row per grain
    expected = expected_rows(RECORDS)
    assert set(by_key) == set(expected)
    for key, figures in expected.items():
        row = by_key[key]
        assert row["call_date"] == DAY
        for name, value in figures.items():
            assert row[name] == value, (key, name)
        assert row["asr"] == pytest.approx(figures["answered_calls"] / figures["calls"])


def test_money_is_never_summed_across_currencies(built_day):
    rows = query(
        built_day,
        "SELECT currency, total_cost FROM marts.daily_costs "
        "WHERE phone_name = 'sipName1001' AND country = 'India' ORDER BY currency",
    )
    assert rows == [
        {"currency": "EUR", "total_cost": Decimal("0.0115")},
        {"currency": "USD", "total_cost": Decimal("0.0505")},
    ]


def test_timing_reconciliation_and_quality_measures(built_day):
    (india,) = query(
        built_day, "SELECT * FROM marts.daily_costs WHERE phone_name = 'sipName1001' AND currency = 'USD'"
    )
    assert (india["talk_seconds"], india["talk_timed_calls"]) == (96, 3)
    assert india["acd_s"] == pytest.approx(32.0)  # talk seconds per answered call
    assert (india["post_dial_delay_calls"], india["avg_post_dial_delay_s"]) == (3, pytest.approx(3.0))
    (afghanistan,) = query(built_day, "SELECT * FROM marts.daily_costs WHERE country = 'Afghanistan'")
    # b1 is unpriced (cost N/A); b2 is 61 s under 6+6 = 66 s, and 0.03 x 66 / 60 = 0.033.
    assert (afghanistan["unpriced_calls"], afghanistan["flagged_calls"]) == (1, 1)
    assert afghanistan["total_cost"] == Decimal("0.033")
    assert afghanistan["expected_cost"] == Decimal("0.185") + Decimal("0.033")
    assert afghanistan["cost_difference"] == 0  # over calls where both are known
    assert afghanistan["cost_mismatch_calls"] == 0
    assert (india["cost_mismatch_calls"], india["cost_difference"]) == (1, Decimal("0.0005"))


def test_the_currency_view_recomputes_ratios_from_sums(built_day):
    rows = {row["currency"]: row for row in query(built_day, "SELECT * FROM marts.daily_costs_by_currency")}
    assert set(rows) == {"USD", "EUR"}
    usd_records = [r for r in RECORDS if r["currency"] == "USD"]
    answered_usd = sum(r["terminationCode"] == "200" for r in usd_records)
    assert (rows["USD"]["calls"], rows["USD"]["answered_calls"]) == (len(usd_records), answered_usd)
    assert rows["USD"]["asr"] == pytest.approx(answered_usd / len(usd_records))  # 4/8, not a mean of ASRs
    mean_of_row_asrs = query(built_day, "SELECT avg(asr) AS a FROM marts.daily_costs WHERE currency = 'USD'")[
        0
    ]["a"]
    assert rows["USD"]["asr"] != pytest.approx(mean_of_row_asrs)
    for currency, row in rows.items():
        records = [r for r in RECORDS if r["currency"] == currency]
        assert row["total_cost"] == sum(money(r["cost"]) or 0 for r in records)
        assert row["call_seconds"] == sum(r["callDuration"] for r in records)
    assert rows["USD"]["acd_s"] == pytest.approx((65 + 30 + 1 + 600) / 4)


def test_rebuild_is_idempotent_and_other_days_stay(conn, tmp_path):
    other = DAY + timedelta(days=1)
    land(conn, tmp_path, other, [[call("other", code="Kenya(Nairobi)")]])
    land(conn, tmp_path, DAY, [RECORDS])
    for day in (DAY, other):
        rebuild_marts(conn, [day])
        rebuild_marts(conn, [day])
    snapshot = query(conn, "SELECT * FROM marts.daily_costs ORDER BY ALL")
    built = rebuild_marts(conn, [DAY]).daily_costs[DAY]
    assert query(conn, "SELECT * FROM marts.daily_costs ORDER BY ALL") == snapshot
    assert built.rows == len(expected_rows(RECORDS))
    assert [row["currency"] for row in built.by_currency] == ["EUR", "USD"]

    land(conn, tmp_path, DAY, [[call("only")]])
    rebuild_marts(conn, [DAY])
    rebuild_marts(conn, [DAY])
    assert query(conn, "SELECT call_date, country, calls FROM marts.daily_costs ORDER BY call_date") == [
        {"call_date": DAY, "country": "India", "calls": 1},
        {"call_date": other, "country": "Kenya", "calls": 1},
    ]


def test_money_columns_are_exact_decimals(built_day):
    types = dict(
        built_day.execute("SELECT column_name, column_type FROM (DESCRIBE marts.daily_costs)").fetchall()
    )
    assert types["total_cost"] == types["expected_cost"] == types["cost_difference"] == "DECIMAL(38,6)"
    view = dict(
        built_day.execute(
            "SELECT column_name, column_type FROM (DESCRIBE marts.daily_costs_by_currency)"
        ).fetchall()
    )
    assert view["total_cost"] == "DECIMAL(38,6)"
    assert view["calls"] == "BIGINT"
