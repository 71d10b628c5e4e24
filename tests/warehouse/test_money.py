"""Money semantics the API document leaves open: which currency cost and rate are in.

The document labels ``cost`` "Consumption amount (USD)" and ``rate`` "Rate (USD)", yet every record
carries ``currency`` ("Quotation Currency"), and its own sample says ``"currency":"EUR"`` beside
``"cost": "2"``. ``LAAFFIC_COST_CURRENCY`` decides: ``record`` or a fixed code such as ``USD``.
"""

import json
from datetime import date
from decimal import Decimal

import pytest

from laaffic_pipeline.warehouse.marts import (
    check_cost_currency,
    rebuild_marts,
    stored_days,
)
from tests.warehouse.mart_inputs import (
    DAY,
    DOC_SAMPLE_JSON,
    DOC_SAMPLE_RECORD,
    HISTORY,
    call,
    expected_by_currency,
    fact,
    land,
)
from tests.warehouse.mart_inputs import HISTORY_DAYS as DAYS

SAMPLE_DAY = date(2022, 1, 18)


def rows(conn, sql: str, params=None) -> list[dict]:
    cursor = conn.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.mark.parametrize("value", ["record", "USD", "EUR", "XAU"])
def test_record_and_three_letter_upper_case_codes_are_accepted(value):
    assert check_cost_currency(value) == value


@pytest.mark.parametrize("value", ["usd", "US", "USDT", "", "Record", "RECORD", " USD", "US$", None])
def test_anything_else_is_refused_naming_the_setting_and_the_accepted_values(value):
    with pytest.raises(ValueError) as raised:
        check_cost_currency(value)
    message = str(raised.value)
    assert "LAAFFIC_COST_CURRENCY" in message
    assert "'record'" in message and "ISO 4217 three-letter upper-case code" in message
    assert repr(value) in message


def test_a_rebuild_with_an_invalid_setting_changes_nothing(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("a")]])
    rebuild_marts(conn, [DAY])
    before = rows(conn, "SELECT * FROM marts.call_facts")
    with pytest.raises(ValueError, match="LAAFFIC_COST_CURRENCY"):
        rebuild_marts(conn, [DAY], "dollars")
    assert rows(conn, "SELECT * FROM marts.call_facts") == before


def test_the_sample_is_the_documents_record():
    """Spot checks that the copy is the document's: the two fields the question is about."""
    assert '"cost": "2"' in DOC_SAMPLE_JSON and '"currency":"EUR"' in DOC_SAMPLE_JSON
    assert len(DOC_SAMPLE_RECORD) == 20  # every field the document's response table lists


# setting -> (quote_currency, cost_currency) of the document's sample
SAMPLE_READINGS = {"record": ("EUR", "EUR"), "USD": ("EUR", "USD")}


@pytest.mark.parametrize("setting", SAMPLE_READINGS)
def test_the_documents_sample_under_each_setting(conn, tmp_path, setting):
    land(conn, tmp_path, SAMPLE_DAY, [[json.loads(DOC_SAMPLE_JSON)]], zone="Asia/Shanghai")
    built = rebuild_marts(conn, [SAMPLE_DAY], setting)

    row = fact(conn, "2203031113381000002")
    quote, money = SAMPLE_READINGS[setting]
    assert (row["quote_currency"], row["cost_currency"], row["cost_currency_rule"]) == (quote, money, setting)
    # The amounts are read as sent, never converted: only their currency label depends on the rule.
    assert (row["cost"], row["rate"], row["expected_cost"]) == (Decimal(2), Decimal("1.2"), Decimal("0.4"))
    assert row["quality_flags"] == ["invalid_post_dial_delay_s"]  # the sample's own oddity only
    (summary,) = built.daily_costs[SAMPLE_DAY].by_currency
    assert (summary["currency"], summary["calls"], summary["total_cost"]) == (money, 1, Decimal(2))
    assert rows(conn, "SELECT currency, total_cost FROM marts.daily_costs") == [
        {"currency": money, "total_cost": Decimal(2)}
    ]


def test_a_fixed_currency_labels_records_that_sent_none(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("none", currency=""), call("odd", currency="US Dollar")]])
    rebuild_marts(conn, [DAY], "USD")
    for voice_id, flag in (("none", "missing_currency"), ("odd", "invalid_currency")):
        row = fact(conn, voice_id)
        assert (row["quote_currency"], row["cost_currency"]) == (None, "USD")
        assert row["quality_flags"] == [flag]  # the record is still flagged: it did not say


# (voice id, settlement fields sent, expected columns, expected flags)
SETTLEMENT_CASES = [
    ("none", {}, {"settle_rate": None, "quote_exchange": None, "settle_pay": None, "base_cost": None}, []),
    (
        "all",
        {"settleRate": "0.0113", "quoteExchange": "1.0856123456", "settlePay": "0.0226", "baseCost": "0.018"},
        {
            "settle_rate": Decimal("0.0113"),
            "quote_exchange": Decimal("1.0856123456"),
            "settle_pay": Decimal("0.0226"),
            "base_cost": Decimal("0.018"),
        },
        [],
    ),
    (
        "numbers",
        {"settlePay": 0.0226, "quoteExchange": 7},
        {
            "settle_rate": None,
            "quote_exchange": Decimal(7),
            "settle_pay": Decimal("0.0226"),
            "base_cost": None,
        },
        [],
    ),
    ("empty", {"baseCost": "", "settleRate": " "}, {"base_cost": None, "settle_rate": None}, []),
    (
        "bad",
        {"settleRate": "n/a", "quoteExchange": "1,08", "settlePay": "0.02", "baseCost": "cheap"},
        {"settle_rate": None, "quote_exchange": None, "settle_pay": Decimal("0.02"), "base_cost": None},
        ["invalid_settle_rate", "invalid_quote_exchange", "invalid_base_cost"],
    ),
]


def test_settlement_fields_are_exact_decimals_when_sent(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call(voice_id, **sent) for voice_id, sent, _, _ in SETTLEMENT_CASES]])
    rebuild_marts(conn, [DAY])
    for voice_id, _, columns, flags in SETTLEMENT_CASES:
        row = fact(conn, voice_id)
        assert {name: row[name] for name in columns} == columns, voice_id
        assert row["quality_flags"] == flags, voice_id
    types = dict(conn.execute("SELECT column_name, column_type FROM (DESCRIBE marts.call_facts)").fetchall())
    assert types["settle_rate"] == types["settle_pay"] == types["base_cost"] == "DECIMAL(18,6)"
    assert types["quote_exchange"] == "DECIMAL(18,10)"


def test_money_keeps_all_18_digits_from_the_sent_text_to_the_daily_total(conn, tmp_path):
    # 18 significant digits: a binary float keeps ~16, so any detour through DOUBLE shows here.
    land(conn, tmp_path, DAY, [[call("big", cost="987654321098.765432"), call("tiny", cost="0.000001")]])
    rebuild_marts(conn, [DAY], "USD")
    assert fact(conn, "big")["cost"] == Decimal("987654321098.765432")
    assert fact(conn, "tiny")["cost"] == Decimal("0.000001")
    assert conn.execute("SELECT total_cost FROM marts.daily_costs WHERE call_date = ?", [DAY]).fetchall() == [
        (Decimal("987654321098.765433"),)
    ]


def expected_totals(setting: str) -> dict[tuple[date, str | None], Decimal]:
    """Per day and money currency, summed in Python over the records as the API sent them."""
    return {key: total for key, (_, total) in expected_by_currency(setting).items()}


def stored_totals(conn) -> dict[tuple[date, str | None], Decimal]:
    return {
        (day, currency): total
        for day, currency, total in conn.execute(
            "SELECT call_date, currency, total_cost FROM marts.daily_costs_by_currency"
        ).fetchall()
    }


def test_rebuilding_from_raw_restates_every_stored_day_under_another_setting(conn, tmp_path):
    for day, records in HISTORY.items():
        land(conn, tmp_path, day, [records])
    assert stored_days(conn) == DAYS

    rebuild_marts(conn, stored_days(conn), "record")
    assert stored_totals(conn) == expected_totals("record")
    assert stored_totals(conn) == {
        (DAYS[0], "USD"): Decimal(2),
        (DAYS[0], "EUR"): Decimal("1.5"),
        (DAYS[0], "GBP"): Decimal(4),
        (DAYS[1], "EUR"): Decimal("0.25"),
        (DAYS[1], "GBP"): Decimal(0),
        (DAYS[2], "USD"): Decimal("0.125"),
        (DAYS[2], "EUR"): Decimal(3),
        (DAYS[2], None): Decimal(1),  # a record without a currency is never guessed into one
    }

    restated = rebuild_marts(conn, stored_days(conn), "USD")
    assert stored_totals(conn) == expected_totals("USD")
    assert stored_totals(conn) == {
        (DAYS[0], "USD"): Decimal("7.5"),
        (DAYS[1], "USD"): Decimal("0.25"),
        (DAYS[2], "USD"): Decimal("4.125"),
    }
    assert restated.days == DAYS
    assert {day: build.rows for day, build in restated.daily_costs.items()} == {
        day: 1
        for day in DAYS  # one group, phone and country per day; one currency now
    }
    assert conn.execute(
        "SELECT DISTINCT cost_currency_rule, cost_currency FROM marts.call_facts"
    ).fetchall() == [("USD", "USD")]
    # The records' own currency is kept beside it.
    assert conn.execute(
        "SELECT quote_currency, count(*) FROM marts.call_facts GROUP BY ALL ORDER BY ALL"
    ).fetchall() == [("EUR", 3), ("GBP", 2), ("USD", 2), (None, 1)]
