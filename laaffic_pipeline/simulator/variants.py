"""How a record is served under the current ``FaultConfig``: the one place records are rendered.

In order: the documented record (``records.to_api_record``), the cost spike (``rate`` and ``cost``
of ``rate_multiplier_day`` times ``rate_multiplier``; or the spend spike: ``rate_multiplier_hour``'s
rate times it, its cost priced from that rate), the settlement fields, a malformation
(``malformed_rate``), then schema drift (``extra_field``, ``changed_type_field``). Each step is a
pure function of the row and the configuration, so a record looks the same on every page, in every
request and in ``records_for_window``/``records_for_local_day``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from laaffic_pipeline.simulator.faults import (
    DIGITS_AS_NUMBER,
    INT_AS_STRING,
    TIME_AS_EPOCH,
    FaultConfig,
    malform,
)
from laaffic_pipeline.simulator.records import CallRow, call_cost, day_start_ts, to_api_record

_MICRO = Decimal("0.000001")
_RATE_PLACES = Decimal("0.0001")


def render_record(row: CallRow, zone: timezone, faults: FaultConfig) -> dict[str, Any]:
    """``row`` as the server sends it under ``faults``, record times written in ``zone``."""
    record = to_api_record(row, zone)
    if faults.rate_multiplier_day and _on_day(row, faults.rate_multiplier_day):
        multiply_rate(record, faults.rate_multiplier)
    elif _in_spiked_hour(row, faults):
        reprice(record, row, faults.rate_multiplier)
    if faults.settlement_fields:
        record.update(settlement(record["voiceId"], record["cost"], record["rate"]))
    record = malform(record, row.voice_id, faults.fault_seed, faults.malformed_rate)
    if faults.extra_field:
        record[faults.extra_field] = f"new-{row.voice_id[-7:]}"
    if faults.changed_type_field:
        change_type(record, faults.changed_type_field, row)
    return record


def _plain(value: Decimal) -> str:
    """A decimal as the API writes money: no exponent, no trailing zeros (``"2"``, ``"0.0125"``)."""
    return format(value.normalize(), "f")


def _on_day(row: CallRow, day: str) -> bool:
    start = day_start_ts(date.fromisoformat(day))
    return start <= row.submit < start + 86_400


def _in_spiked_hour(row: CallRow, faults: FaultConfig) -> bool:
    """Whether ``row`` was submitted in ``rate_multiplier_hour`` (by ``rate_multiplier_group``, when set)."""
    if not faults.rate_multiplier_hour or faults.rate_multiplier_group not in ("", row.sip_group_name):
        return False
    start = int(datetime.strptime(faults.rate_multiplier_hour, "%Y-%m-%dT%H").replace(tzinfo=UTC).timestamp())
    return start <= row.submit < start + 3_600


def reprice(record: dict[str, Any], row: CallRow, multiplier: float) -> None:
    """The spend spike: ``rate`` times ``multiplier`` and ``cost`` priced from it by the bill-period
    rule, as if the calls went to a dearer destination (so the bill still reconciles)."""
    rate = Decimal(record["rate"]) * Decimal(str(multiplier))
    record["rate"] = _plain(rate)
    record["cost"] = call_cost(_plain(rate), row.charged_duration)


def multiply_rate(record: dict[str, Any], multiplier: float) -> None:
    """The cost spike: ``rate`` and ``cost`` times ``multiplier``, exact (no rounding)."""
    factor = Decimal(str(multiplier))
    record["rate"] = _plain(Decimal(record["rate"]) * factor)
    record["cost"] = _plain(Decimal(record["cost"]) * factor)


def _fraction(voice_id: str, purpose: str) -> int:
    """A number 0..9999 that depends only on ``voice_id`` and ``purpose``."""
    digest = hashlib.blake2b(f"settlement:{purpose}:{voice_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000


def settlement(voice_id: str, cost: str, rate: str) -> dict[str, str]:
    """Settlement fields, deterministic per voiceId.

    ``quoteExchange`` is a rate from the quotation currency to the settlement currency between
    1.0500 and 1.1199 (four places, like ``"1.0850"``); ``settleRate = rate * quoteExchange`` and
    ``settlePay = cost * quoteExchange``, both rounded half-up to 6 places; ``baseCost`` is the
    carrier's cost, 60-85 % of ``cost``, rounded half-up to 6 places.
    """
    exchange = (Decimal("1.05") + Decimal(_fraction(voice_id, "exchange") % 700) / 10_000).quantize(
        _RATE_PLACES
    )
    share = Decimal(60 + _fraction(voice_id, "base") % 26) / 100
    cost_value = Decimal(cost)
    return {
        "settleRate": _plain((Decimal(rate) * exchange).quantize(_MICRO, ROUND_HALF_UP)),
        "quoteExchange": str(exchange),
        "settlePay": _plain((cost_value * exchange).quantize(_MICRO, ROUND_HALF_UP)),
        "baseCost": _plain((cost_value * share).quantize(_MICRO, ROUND_HALF_UP)),
    }


def change_type(record: dict[str, Any], name: str, row: CallRow) -> None:
    """Schema drift: send documented field ``name`` with another JSON type.

    Int fields become strings (``5`` -> ``"5"``); digit strings become numbers (``"200"`` -> ``200``,
    ``"0.0125"`` -> ``0.0125``); times become Unix seconds (``""`` -> ``null``). A value a
    malformation already changed is left alone.
    """
    value = record.get(name)
    if name in INT_AS_STRING and isinstance(value, int):
        record[name] = str(value)
    elif name in DIGITS_AS_NUMBER and isinstance(value, str):
        try:
            number = Decimal(value)
        except ArithmeticError:
            return
        record[name] = int(number) if number == number.to_integral_value() else float(number)
    elif name in TIME_AS_EPOCH and isinstance(value, str):
        seconds = {
            "submitTime": row.submit,
            "callTime": row.call,
            "ringingTime": row.ringing,
            "answerTime": row.answer,
            "hangupTime": row.hangup,
        }[name]
        record[name] = seconds if value else None
