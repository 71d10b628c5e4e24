"""Records on demand: settlement fields, schema drift and a one-day cost spike, over real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest

from laaffic_pipeline.simulator import FaultConfig

SETTLEMENT = ("settleRate", "quoteExchange", "settlePay", "baseCost")
DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
SIX_PLACES = Decimal("0.000001")


def _six(value: Decimal) -> Decimal:
    return value.quantize(SIX_PLACES, ROUND_HALF_UP)


def test_settlement_fields_are_absent_by_default(simulator, recent_window):
    assert not any(set(SETTLEMENT) & set(r) for r in simulator.records_for_window(*recent_window))


def test_settlement_fields_are_decimal_strings_derived_from_cost_and_rate(api, make_simulator, recent_window):
    simulator = make_simulator(settlement_fields=True)
    served = api.all_records(simulator, recent_window)
    assert served == simulator.records_for_window(*recent_window)
    plain = make_simulator().records_for_window(*recent_window)
    for record, base in zip(served, plain, strict=True):
        assert list(record) == [*base, *SETTLEMENT]
        assert {name: record[name] for name in base} == base
        assert all(isinstance(record[name], str) and DECIMAL.fullmatch(record[name]) for name in SETTLEMENT)
        exchange = Decimal(record["quoteExchange"])
        assert re.fullmatch(r"1\.[0-9]{4}", record["quoteExchange"])
        assert Decimal("1.05") <= exchange < Decimal("1.12")
        assert Decimal(record["settlePay"]) == _six(Decimal(record["cost"]) * exchange)
        assert Decimal(record["settleRate"]) == _six(Decimal(record["rate"]) * exchange)
        cost = Decimal(record["cost"])
        assert _six(cost * Decimal("0.6")) <= Decimal(record["baseCost"]) <= _six(cost * Decimal("0.85"))
    assert len({r["quoteExchange"] for r in served}) > 50  # varies per call


def test_settlement_fields_are_the_same_for_a_voice_id_everywhere(api, make_simulator, recent_window):
    first, second = make_simulator(settlement_fields=True), make_simulator(settlement_fields=True)
    by_pages_of_7 = api.all_records(first, recent_window, size=7)
    assert by_pages_of_7 == api.all_records(second, recent_window, size=100)


def test_settlement_fields_switch_on_at_runtime(api, simulator, recent_window):
    httpx.put(f"{simulator.root_url}/_simulator/faults", json={"settlement_fields": True}).raise_for_status()
    assert set(SETTLEMENT) <= set(api.page(simulator, recent_window, size=1)["data"]["records"][0])
    with pytest.raises(ValueError, match="settlement_fields"):
        FaultConfig(settlement_fields=1)


def test_an_extra_field_appears_in_every_record(api, make_simulator, recent_window):
    simulator = make_simulator(extra_field="newField")
    served = api.all_records(simulator, recent_window)
    assert served == simulator.records_for_window(*recent_window)
    assert all(isinstance(r["newField"], str) and r["newField"] for r in served)
    assert list(served[0])[-1] == "newField"
    with pytest.raises(ValueError, match="extra_field"):
        FaultConfig(extra_field="cost")


@pytest.mark.parametrize(
    ("name", "new_type"),
    [
        ("callDuration", str),  # documented Int
        ("chargedDuration", str),
        ("cost", (int, float)),  # documented String
        ("terminationCode", int),
        ("voiceId", int),
        ("submitTime", int),  # a time as Unix seconds
    ],
)
def test_a_documented_field_changes_its_json_type(api, make_simulator, recent_window, name, new_type):
    simulator = make_simulator(changed_type_field=name)
    served = api.all_records(simulator, recent_window)
    assert served == simulator.records_for_window(*recent_window)
    plain = make_simulator().records_for_window(*recent_window)
    for record, base in zip(served, plain, strict=True):
        assert isinstance(record[name], new_type) and not isinstance(record[name], bool)
        assert {k: v for k, v in record.items() if k != name} == {k: v for k, v in base.items() if k != name}
        if name == "submitTime":
            assert record[name] == datetime.fromisoformat(base[name]).timestamp()
        elif isinstance(record[name], str):
            assert record[name] == str(base[name])
        else:
            assert Decimal(str(record[name])) == Decimal(base[name])


def test_empty_times_become_null_when_times_change_type(make_simulator, recent_window):
    records = make_simulator(changed_type_field="answerTime").records_for_window(*recent_window)
    assert {type(r["answerTime"]) for r in records} == {int, type(None)}


def test_only_fields_with_an_obvious_other_type_can_change(simulator):
    with pytest.raises(ValueError, match="changed_type_field"):
        FaultConfig(changed_type_field="sipGroupName")
    refused = httpx.put(f"{simulator.root_url}/_simulator/faults", json={"changed_type_field": "nope"})
    assert refused.status_code == 400


def _two_utc_days() -> tuple[tuple[str, str], str]:
    """A window of two whole UTC days three and four days ago, and the first day."""
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=4)
    return (first.isoformat(), (first + timedelta(days=2)).isoformat()), first.date().isoformat()


def test_rate_multiplier_multiplies_one_utc_days_rate_and_cost_exactly(api, make_simulator):
    window, day = _two_utc_days()
    simulator = make_simulator(rate_multiplier_day=day, rate_multiplier=2.5)
    served = api.all_records(simulator, window)
    assert served == simulator.records_for_window(*window)
    plain = make_simulator().records_for_window(*window)
    spiked = 0
    for record, base in zip(served, plain, strict=True):
        on_day = datetime.fromisoformat(base["submitTime"]).astimezone(UTC).date().isoformat() == day
        factor = Decimal("2.5") if on_day else Decimal(1)
        assert Decimal(record["rate"]) == Decimal(base["rate"]) * factor
        assert Decimal(record["cost"]) == Decimal(base["cost"]) * factor
        assert "E" not in record["cost"] and "E" not in record["rate"]
        assert {k: v for k, v in record.items() if k not in ("rate", "cost")} == {
            k: v for k, v in base.items() if k not in ("rate", "cost")
        }
        spiked += on_day
    assert 400 < spiked < len(served) - 400


def test_rate_multiplier_hour_reprices_one_groups_calls_of_one_utc_hour(make_simulator):
    window, day = _two_utc_days()
    simulator = make_simulator(
        rate_multiplier_hour=f"{day}T13", rate_multiplier_group="support", rate_multiplier=10
    )
    served = simulator.records_for_window(*window)
    plain = make_simulator().records_for_window(*window)
    hour = datetime.fromisoformat(f"{day}T13:00:00+00:00")
    spiked = 0
    for record, base in zip(served, plain, strict=True):
        submitted = datetime.fromisoformat(base["submitTime"])
        in_spike = base["sipGroupName"] == "support" and hour <= submitted < hour + timedelta(hours=1)
        assert Decimal(record["rate"]) == Decimal(base["rate"]) * (10 if in_spike else 1)
        assert Decimal(record["cost"]) == _six(Decimal(record["rate"]) * base["chargedDuration"] / 60)
        spiked += in_spike
    assert spiked > 0


def test_settle_pay_follows_the_spiked_cost(make_simulator):
    window, day = _two_utc_days()
    simulator = make_simulator(rate_multiplier_day=day, rate_multiplier=3, settlement_fields=True)
    for record in simulator.records_for_window(*window):
        exchange = Decimal(record["quoteExchange"])
        assert Decimal(record["settlePay"]) == _six(Decimal(record["cost"]) * exchange)


@pytest.mark.parametrize(
    "changes",
    [
        {"rate_multiplier_day": "2026-02-30"},
        {"rate_multiplier_day": "26-02-01"},
        {"rate_multiplier_hour": "2026-02-01"},
        {"rate_multiplier": 0},
        {"rate_multiplier": -1.5},
    ],
)
def test_bad_spike_settings_are_refused(changes):
    with pytest.raises(ValueError, match="rate_multiplier"):
        FaultConfig(**changes)
