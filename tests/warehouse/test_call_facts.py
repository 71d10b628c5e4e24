from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from laaffic_pipeline.warehouse import marts
from laaffic_pipeline.warehouse.marts import rebuild_marts
from tests.warehouse.mart_inputs import (
    DAY,
    DOC_SAMPLE_RECORD,
    FETCHED_AT,
    MISSING,
    call,
    fact,
    facts,
    land,
    unanswered,
)


def test_the_doc_sample_record_is_typed_and_reconciled(conn, tmp_path):
    day = date(2022, 1, 18)
    land(conn, tmp_path, day, [[DOC_SAMPLE_RECORD]], zone="Asia/Shanghai")
    built = rebuild_marts(conn, [day]).call_facts

    assert built[day]["rows"] == 1
    row = fact(conn, "2203031113381000002")
    assert row == {
        "call_date": day,
        "voice_id": "2203031113381000002",
        "sip_group_name": "group1",
        "phone_name": "sipName8555",
        "callee": "91856321412",
        "display_num": "1008122211",
        "code": "Afghanistan(Kandahar)",
        "country": "Afghanistan",
        "region": "Kandahar",
        "submit_time": datetime(2022, 1, 18, 6, 42, 40, tzinfo=UTC),
        "call_time": datetime(2022, 1, 18, 6, 45, 42, tzinfo=UTC),
        "ringing_time": datetime(2022, 1, 18, 6, 42, 47, tzinfo=UTC),
        "answer_time": datetime(2022, 1, 18, 6, 42, 50, tzinfo=UTC),
        "hangup_time": datetime(2022, 1, 18, 6, 42, 55, tzinfo=UTC),
        "call_duration_s": 5,
        "charged_duration_s": 5,
        "termination_code": "200",
        "termination_reason": "success",
        "is_answered": True,
        "cost": Decimal("2.000000"),
        "rate": Decimal("1.200000"),
        "quote_currency": "EUR",
        "cost_currency": "EUR",  # LAAFFIC_COST_CURRENCY=record (the default): the record's currency
        "cost_currency_rule": "record",
        "settle_rate": None,  # the sample sends no settlement fields
        "quote_exchange": None,
        "settle_pay": None,
        "base_cost": None,
        "bill_period": "20+20",
        "bill_initial_s": 20,
        "bill_increment_s": 20,
        "recording_file_id": "12022022570cc2484c59d4f8b9745d34226285b1e.mp3",
        "ring_s": 3,
        # The sample's callTime (14:45:42) is after its ringingTime (14:42:47).
        "post_dial_delay_s": None,
        "talk_s": 5,
        "expected_charged_s": 20,  # 5 s under 20+20 is charged the first 20 s
        "expected_cost": Decimal("0.400000"),  # 1.2 / min x 20 s
        "charged_duration_mismatch": True,
        "cost_mismatch": True,
        "quality_flags": ["invalid_post_dial_delay_s"],
        "fetched_at": FETCHED_AT,
        "is_final": True,  # landed whole: no provisional refresh of the day
    }


def test_columns_have_real_types(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("a")]])
    rebuild_marts(conn, [DAY])
    types = dict(conn.execute("SELECT column_name, column_type FROM (DESCRIBE marts.call_facts)").fetchall())
    assert types["cost"] == types["rate"] == types["expected_cost"] == "DECIMAL(18,6)"
    for name in ("submit_time", "call_time", "ringing_time", "answer_time", "hangup_time", "fetched_at"):
        assert types[name] == "TIMESTAMP WITH TIME ZONE"
    for name in ("call_duration_s", "charged_duration_s", "ring_s", "post_dial_delay_s", "talk_s"):
        assert types[name] == "INTEGER"
    assert types["quality_flags"] == "VARCHAR[]"
    assert types["call_date"] == "DATE"


def test_a_clean_call_has_no_flags_and_reconciles(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("clean"), unanswered("busy")]])
    rebuild_marts(conn, [DAY])
    clean, busy = fact(conn, "clean"), fact(conn, "busy")
    assert clean["quality_flags"] == busy["quality_flags"] == []
    assert (clean["ring_s"], clean["post_dial_delay_s"], clean["talk_s"]) == (6, 3, 65)
    assert (clean["expected_charged_s"], clean["expected_cost"]) == (120, Decimal("0.025000"))
    assert (clean["charged_duration_mismatch"], clean["cost_mismatch"]) == (False, False)
    assert busy["is_answered"] is False
    assert (busy["ringing_time"], busy["answer_time"], busy["recording_file_id"]) == (None, None, None)
    assert (busy["ring_s"], busy["talk_s"], busy["expected_charged_s"], busy["expected_cost"]) == (
        None,
        None,
        0,
        Decimal("0"),
    )


# (voice id, record, expected quality_flags, columns expected NULL)
FLAG_CASES = [
    ("no-id", call(MISSING), ["missing_voice_id"], ["voice_id"]),
    ("cost-na", call("cost-na", cost="N/A"), ["invalid_cost"], ["cost", "cost_mismatch"]),
    ("cost-empty", call("cost-empty", cost=""), ["missing_cost"], ["cost"]),
    ("dur-str", call("dur-str", callDuration="65"), ["call_duration_as_string"], []),
    ("dur-bad", call("dur-bad", callDuration="1m5s"), ["invalid_call_duration"], ["call_duration_s"]),
    ("dur-frac", call("dur-frac", callDuration=6.5), ["invalid_call_duration"], ["call_duration_s"]),
    ("dur-neg", call("dur-neg", callDuration=-3), ["invalid_call_duration"], ["expected_charged_s"]),
    ("dur-none", call("dur-none", callDuration=None), ["missing_call_duration"], ["call_duration_s"]),
    ("chg-str", call("chg-str", chargedDuration="120"), ["charged_duration_as_string"], []),
    (
        "chg-gone",
        call("chg-gone", chargedDuration=MISSING),
        ["missing_charged_duration"],
        ["charged_duration_s"],
    ),
    (
        "no-times",
        call("no-times", submitTime="", callTime="", ringingTime="", answerTime="", hangupTime=""),
        [
            "missing_submit_time",
            "missing_call_time",
            "missing_ringing_time",
            "missing_answer_time",
            "missing_hangup_time",
        ],
        ["submit_time", "talk_s", "ring_s", "post_dial_delay_s"],
    ),
    (
        "naive-time",
        call("naive-time", submitTime="2026-03-10T10:00:00"),
        ["invalid_submit_time"],
        ["submit_time"],
    ),
    (
        "bad-time",
        call("bad-time", answerTime="yesterday"),
        ["invalid_answer_time"],
        ["answer_time", "talk_s"],
    ),
    ("bill-7x", call("bill-7x", billPeriod="7x"), ["invalid_bill_period"], ["bill_period", "expected_cost"]),
    ("bill-zero", call("bill-zero", billPeriod="60+0"), ["invalid_bill_period"], ["bill_increment_s"]),
    ("bill-gone", call("bill-gone", billPeriod=MISSING), ["missing_bill_period"], ["bill_initial_s"]),
    (
        "rate-bad",
        call("rate-bad", rate="cheap"),
        ["invalid_rate"],
        ["rate", "expected_cost", "cost_mismatch"],
    ),
    ("cur-empty", call("cur-empty", currency=""), ["missing_currency"], ["quote_currency", "cost_currency"]),
    (
        "cur-bad",
        call("cur-bad", currency="US Dollar"),
        ["invalid_currency"],
        ["quote_currency", "cost_currency"],
    ),
    ("no-group", call("no-group", sipGroupName=MISSING), ["missing_sip_group_name"], ["sip_group_name"]),
    ("no-phone", call("no-phone", phoneName=" "), ["missing_phone_name"], ["phone_name"]),
    ("no-callee", call("no-callee", callee=""), ["missing_callee"], ["callee"]),
    ("no-code", call("no-code", code=MISSING), ["missing_code"], ["country", "region"]),
    ("no-sip", call("no-sip", terminationCode=""), ["missing_termination_code"], ["is_answered"]),
    (
        "ans-no-ring",
        call("ans-no-ring", ringingTime=""),
        ["missing_ringing_time"],
        ["ring_s", "post_dial_delay_s"],
    ),
    ("ring-late", call("ring-late", ringingTime="2026-03-10T10:00:11+00:00"), ["invalid_ring_s"], ["ring_s"]),
    ("pdd-neg", call("pdd-neg", callTime="2026-03-10T10:00:05+00:00"), ["invalid_post_dial_delay_s"], []),
    ("talk-neg", call("talk-neg", hangupTime="2026-03-10T10:00:09+00:00"), ["invalid_talk_s"], ["talk_s"]),
    # Unusual but valid: kept as sent, no flag.
    ("extra", call("extra", carrierRoute="RT-17"), [], []),
    ("unicode", call("unicode", phoneName="sipName1001-Zürich-電話"), [], []),
    ("huge", call("huge", terminationReason="success " * 1300), [], []),
    ("cost-num", call("cost-num", cost=0.025, rate=0.0125), [], []),
]


@pytest.fixture(scope="module")
def flagged_day(tmp_path_factory):
    """One day holding every FLAG_CASES record, built once for the parametrized tests."""
    path = tmp_path_factory.mktemp("flags")
    connection = duckdb.connect(str(path / "warehouse.duckdb"))
    land(connection, path, DAY, [[record for _, record, _, _ in FLAG_CASES]])
    rebuild_marts(connection, [DAY])
    yield connection
    connection.close()


@pytest.mark.parametrize(("voice_id", "record", "flags", "nulls"), FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_each_problem_is_flagged_and_its_value_nulled(flagged_day, voice_id, record, flags, nulls):
    if voice_id == "no-id":
        (row,) = facts(flagged_day, "voice_id IS NULL")
    else:
        row = fact(flagged_day, voice_id)
    assert row["quality_flags"] == flags
    for column in nulls:
        assert row[column] is None, column


def test_no_record_is_dropped_and_parsed_strings_keep_their_value(flagged_day):
    assert len(facts(flagged_day)) == len(FLAG_CASES)
    assert fact(flagged_day, "dur-str")["call_duration_s"] == 65
    assert fact(flagged_day, "chg-str")["charged_duration_s"] == 120
    assert fact(flagged_day, "unicode")["phone_name"] == "sipName1001-Zürich-電話"
    assert len(fact(flagged_day, "huge")["termination_reason"]) == len(("success " * 1300).strip())
    assert fact(flagged_day, "cost-num")["cost"] == Decimal("0.025")


# (bill period, call duration, expected charged seconds)
BILLING_RULE = [
    ("20+20", 0, 0),
    ("20+20", 1, 20),
    ("20+20", 20, 20),  # exactly a
    ("20+20", 21, 40),  # a + 1
    ("20+20", 41, 60),
    ("60+60", 60, 60),
    ("60+60", 61, 120),
    ("60+60", 3600, 3600),
    ("1+1", 1, 1),
    ("1+1", 37, 37),
    ("6+6", 7, 12),
    ("6+6", 12, 12),
    ("30+6", 30, 30),
    ("30+6", 31, 36),
    ("30+6", 37, 42),
    ("0+60", 1, 60),
]


def test_expected_charged_seconds_follow_the_bill_period_rule(conn, tmp_path):
    records = [
        call(f"bill-{index}", billPeriod=period, callDuration=duration, chargedDuration=expected)
        for index, (period, duration, expected) in enumerate(BILLING_RULE)
    ]
    land(conn, tmp_path, DAY, [records])
    rebuild_marts(conn, [DAY])
    for index, (period, duration, expected) in enumerate(BILLING_RULE):
        row = fact(conn, f"bill-{index}")
        assert (row["expected_charged_s"], row["charged_duration_mismatch"]) == (expected, False), (
            period,
            duration,
        )
        initial, increment = (int(part) for part in period.split("+"))
        assert (row["bill_initial_s"], row["bill_increment_s"]) == (initial, increment)


# (rate per minute, charged seconds, Laaffic's cost, expected cost, cost_mismatch)
COST_CASES = [
    ("0.0125", 1, "0.000208", "0.000208", False),  # 0.000208333… rounds down
    ("0.000003", 10, "0.000001", "0.000001", False),  # exactly 0.0000005 rounds half up
    ("0.000003", 10, "0", "0.000001", False),  # a half-even API is within the tolerance
    ("0.0125", 120, "0.025001", "0.025", False),  # one micro-unit off: tolerated
    ("0.0125", 120, "0.025002", "0.025", True),
    ("0.0125", 120, "0.024", "0.025", True),
    ("1.2", 20, "0.4", "0.4", False),
    ("0.0850", 40, "0.056667", "0.056667", False),  # 0.0566666… rounds up
]


def test_expected_cost_is_exact_and_rounded_half_up(conn, tmp_path):
    records = [
        call(
            f"cost-{index}",
            billPeriod="1+1",
            callDuration=seconds,
            chargedDuration=seconds,
            rate=rate,
            cost=cost,
        )
        for index, (rate, seconds, cost, _, _) in enumerate(COST_CASES)
    ]
    land(conn, tmp_path, DAY, [records])
    rebuild_marts(conn, [DAY])
    for index, (rate, seconds, cost, expected, mismatch) in enumerate(COST_CASES):
        row = fact(conn, f"cost-{index}")
        assert (row["expected_cost"], row["cost_mismatch"]) == (Decimal(expected), mismatch), (
            rate,
            seconds,
            cost,
        )


def test_charged_duration_mismatch_when_laaffic_charges_otherwise(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("over", chargedDuration=180), call("ok")]])
    rebuild_marts(conn, [DAY])
    assert fact(conn, "over")["charged_duration_mismatch"] is True
    assert fact(conn, "ok")["charged_duration_mismatch"] is False


@pytest.mark.parametrize(
    ("code", "country", "region"),
    [
        ("Afghanistan(Kandahar)", "Afghanistan", "Kandahar"),
        ("United Kingdom", "United Kingdom", None),
        ("Saudi Arabia (Riyadh)", "Saudi Arabia", "Riyadh"),
        ("Vietnam(Ho Chi Minh City)", "Vietnam", "Ho Chi Minh City"),
        ("Afghanistan()", "Afghanistan", None),
    ],
)
def test_country_and_region_are_split_from_code(conn, tmp_path, code, country, region):
    land(conn, tmp_path, DAY, [[call("c", code=code)]])
    rebuild_marts(conn, [DAY])
    row = fact(conn, "c")
    assert (row["code"], row["country"], row["region"]) == (code, country, region)


def test_times_keep_their_instant_across_offsets_and_dst(conn, tmp_path):
    """Berlin springs forward on 2026-03-29 (the day is 23 h); each time's own offset is honoured."""
    day = date(2026, 3, 29)
    record = call(
        "dst",
        submitTime="2026-03-29T01:59:45+01:00",
        callTime="2026-03-29T01:59:50+01:00",  # 00:59:50Z
        ringingTime="2026-03-29T03:00:02+02:00",  # 01:00:02Z: 12 s later, not 1 h 12 s
        answerTime="2026-03-29T01:00:10Z",
        hangupTime="2026-03-29T09:00:40+08:00",  # 01:00:40Z
        callDuration=30,
        chargedDuration=60,
    )
    land(conn, tmp_path, day, [[record]], zone="Europe/Berlin")
    conn.execute("SET TimeZone = 'America/New_York'")  # the session's zone must not matter
    rebuild_marts(conn, [day])
    row = fact(conn, "dst")
    assert row["call_time"] == datetime(2026, 3, 29, 0, 59, 50, tzinfo=UTC)
    assert row["ringing_time"] == datetime(2026, 3, 29, 1, 0, 2, tzinfo=UTC)
    assert (row["post_dial_delay_s"], row["ring_s"], row["talk_s"]) == (12, 8, 30)
    assert row["quality_flags"] == []
    assert row["call_date"] == day


def test_a_voice_id_repeated_within_a_day_keeps_the_latest_fetched_copy(conn, tmp_path):
    early, late = FETCHED_AT, FETCHED_AT + timedelta(minutes=5)
    land(
        conn,
        tmp_path,
        DAY,
        [[call("dup", cost="0.1"), call("other")], [call("dup", cost="0.2")]],
        fetched_at=[late, early],  # page 1 was fetched last
    )
    rebuild_marts(conn, [DAY])
    assert [row["voice_id"] for row in facts(conn)] == ["dup", "other"]
    assert (fact(conn, "dup")["cost"], fact(conn, "dup")["fetched_at"]) == (Decimal("0.1"), late)


def test_records_without_voice_id_are_all_kept(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call(MISSING, callee="1"), call(MISSING, callee="2"), call("", callee="3")]])
    rebuild_marts(conn, [DAY])
    rows = facts(conn)
    assert sorted(row["callee"] for row in rows) == ["1", "2", "3"]
    assert all(row["quality_flags"] == ["missing_voice_id"] for row in rows)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["earlier-first", "later-first"])
def test_a_boundary_call_is_kept_once_in_the_earlier_day_whatever_the_build_order(conn, tmp_path, order):
    days = [DAY, DAY + timedelta(days=1)]
    land(conn, tmp_path, days[0], [[call("edge", cost="0.025"), call("first")]])
    land(conn, tmp_path, days[1], [[call("edge", cost="0.025"), call("second")]])
    for index in order:
        rebuild_marts(conn, [days[index]])
    assert [(row["call_date"], row["voice_id"]) for row in facts(conn)] == [
        (days[0], "edge"),
        (days[0], "first"),
        (days[1], "second"),
    ]
    built = rebuild_marts(conn, [days[1]]).call_facts[days[1]]
    assert (built["raw_records"], built["rows"], built["kept_in_previous_day"]) == (2, 1, 1)


def test_rebuilding_a_day_is_idempotent_and_leaves_other_days_alone(conn, tmp_path):
    other = DAY + timedelta(days=5)
    land(conn, tmp_path, other, [[call("other-day")]])
    rebuild_marts(conn, [other])
    land(conn, tmp_path, DAY, [[call("a"), call("b", cost="N/A")]])
    rebuild_marts(conn, [DAY])
    first = facts(conn)
    rebuild_marts(conn, [DAY])
    assert facts(conn) == first
    assert len(first) == 3

    land(conn, tmp_path, DAY, [[call("a"), call("c")]])  # a re-fetch changed the day
    rebuild_marts(conn, [DAY])
    assert [(row["call_date"], row["voice_id"]) for row in facts(conn)] == [
        (DAY, "a"),
        (DAY, "c"),
        (other, "other-day"),
    ]


def test_a_failed_rebuild_keeps_the_previous_rows(conn, tmp_path, monkeypatch):
    land(conn, tmp_path, DAY, [[call("a")]])
    rebuild_marts(conn, [DAY])
    real_run_sql = marts.run_sql

    def failing_insert(connection, name, params=None):
        real_run_sql(connection, name, params)  # the delete (and the insert) run for real...
        if name == "insert_call_facts":
            raise RuntimeError("disk full")  # ...then the step fails before commit

    monkeypatch.setattr(marts, "run_sql", failing_insert)
    land(conn, tmp_path, DAY, [[call("a"), call("b")]])
    with pytest.raises(RuntimeError, match="disk full"):
        rebuild_marts(conn, [DAY])
    assert [row["voice_id"] for row in facts(conn)] == ["a"]


def test_a_day_without_raw_rows_builds_empty(conn):
    assert rebuild_marts(conn, [DAY]).call_facts[DAY]["rows"] == 0
    assert facts(conn) == []
