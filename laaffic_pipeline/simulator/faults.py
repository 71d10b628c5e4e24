"""Fault modes and on-demand variants the simulator can inject, so the client meets a misbehaving API.

One frozen dataclass is the single description of them: Python code builds it directly (or passes
its fields to ``LaafficSimulator(...)``), the CLI derives its flags from its fields, and
``PUT /_simulator/faults`` merges JSON into it. Everything is off by default; the simulator then
answers like a healthy API. Besides faults proper it switches documented-but-rare behaviour
(status ``-2`` for an IP outside ``allowed_ips``) and changes to the records (settlement fields,
schema drift, a one-day cost spike or a one-hour spend spike), which ``variants.py`` applies.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

RATE_FIELDS = (
    "http_5xx_rate",
    "status_18_rate",
    "non_json_rate",
    "duplicate_rate",
    "malformed_rate",
)
NON_NEGATIVE_FIELDS = ("latency_ms", "rate_limit_per_s", "late_arrivals", "late_arrivals_max")
# The record fields the API document lists, with the JSON type it gives each ("Int" or "String").
DOC_RECORD_FIELDS = {
    "voiceId": "String", "sipGroupName": "String", "phoneName": "String", "callee": "String",
    "displayNum": "String", "code": "String", "submitTime": "String", "callTime": "String",
    "ringingTime": "String", "answerTime": "String", "hangupTime": "String", "callDuration": "Int",
    "chargedDuration": "Int", "terminationCode": "String", "terminationReason": "String",
    "cost": "String", "billPeriod": "String", "rate": "String", "recordingFileId": "String",
    "currency": "String",
}  # fmt: skip
SETTLEMENT_FIELDS = ("settleRate", "quoteExchange", "settlePay", "baseCost")
# ``changed_type_field`` choices: the documented fields whose value has an obvious other JSON type.
INT_AS_STRING = ("callDuration", "chargedDuration")
DIGITS_AS_NUMBER = ("voiceId", "callee", "displayNum", "terminationCode", "cost", "rate")
TIME_AS_EPOCH = ("submitTime", "callTime", "ringingTime", "answerTime", "hangupTime")
TYPE_CHANGES = (*INT_AS_STRING, *DIGITS_AS_NUMBER, *TIME_AS_EPOCH)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# What each annotation (a string under ``from __future__ import annotations``) accepts.
_ACCEPTED: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "tuple[str, ...]": (tuple, list),
}


def _doc(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class FaultConfig:
    """Which faults to inject; ``*_rate`` fields are probabilities in ``[0, 1]``."""

    latency_ms: float = field(default=0.0, metadata=_doc("sleep this long before every answer"))
    http_5xx_rate: float = field(
        default=0.0, metadata=_doc("probability of an HTTP 500/502/503 with an HTML body")
    )
    status_18_rate: float = field(
        default=0.0, metadata=_doc('probability of status "-18" (Port program unusual)')
    )
    non_json_rate: float = field(
        default=0.0, metadata=_doc("probability of an HTTP 200 whose body is HTML, not JSON")
    )
    rate_limit_per_s: int = field(
        default=0, metadata=_doc("answer HTTP 429 beyond this many requests a second (0 = off)")
    )
    late_arrivals: int = field(
        default=0,
        metadata=_doc("new records per UTC day of the window after each successful page"),
    )
    late_arrivals_max: int = field(
        default=50, metadata=_doc("stop late arrivals after this many per UTC day")
    )
    total_delta: int = field(
        default=0, metadata=_doc("add this to the reported total (pages use the real total)")
    )
    total_delta_day: str = field(
        default="",
        metadata=_doc(
            "apply total_delta only to windows starting on this day (YYYY-MM-DD in strTime's offset)"
        ),
    )
    duplicate_rate: float = field(
        default=0.0,
        metadata=_doc("probability a page starts with the previous page's last record again"),
    )
    malformed_rate: float = field(
        default=0.0, metadata=_doc("fraction of records served malformed (chosen per voiceId)")
    )
    fault_seed: int = field(default=0, metadata=_doc("seed of the random faults, so a run can be repeated"))

    allowed_ips: tuple[str, ...] = field(
        default=(),
        metadata=_doc('answer status "-2" (Restricted IP access) to any other client address (empty = any)'),
    )
    settlement_fields: bool = field(
        default=False,
        metadata=_doc("add settleRate, quoteExchange, settlePay and baseCost (decimal strings) to records"),
    )
    extra_field: str = field(
        default="", metadata=_doc("add an undocumented key of this name, a string, to every record")
    )
    changed_type_field: str = field(
        default="",
        metadata=_doc(f"send this documented field with another JSON type, one of {', '.join(TYPE_CHANGES)}"),
    )
    rate_multiplier_day: str = field(
        default="", metadata=_doc("UTC day YYYY-MM-DD whose rate and cost are multiplied (a cost spike)")
    )
    rate_multiplier: float = field(
        default=1.0,
        metadata=_doc("multiply rate_multiplier_day's (or _hour's) rate and cost by this (exact decimals)"),
    )
    rate_multiplier_hour: str = field(
        default="",
        metadata=_doc(
            "UTC hour YYYY-MM-DDTHH whose calls (by submit time) have rate and cost multiplied "
            "(a spend spike)"
        ),
    )
    rate_multiplier_group: str = field(
        default="", metadata=_doc("limit rate_multiplier_hour to this sipGroupName (empty: every group)")
    )

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            wanted = _ACCEPTED[spec.type]
            if (isinstance(value, bool) and bool not in wanted) or not isinstance(value, wanted):
                raise ValueError(f"fault {spec.name} must be {spec.type}, got {value!r}")
        for name in RATE_FIELDS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"fault {name} is a probability: it must be between 0 and 1")
        for name in NON_NEGATIVE_FIELDS:
            if getattr(self, name) < 0:
                raise ValueError(f"fault {name} must not be negative")
        try:  # written the way the server sees a client's address: "::1", not "0:0:0:0:0:0:0:1"
            allowed = tuple(str(ipaddress.ip_address(str(address))) for address in self.allowed_ips)
        except ValueError as error:
            raise ValueError(f"fault allowed_ips: {error}") from None
        object.__setattr__(self, "allowed_ips", allowed)
        if self.extra_field in DOC_RECORD_FIELDS or self.extra_field in SETTLEMENT_FIELDS:
            raise ValueError(f"fault extra_field {self.extra_field!r} is a field the records already have")
        if self.changed_type_field and self.changed_type_field not in TYPE_CHANGES:
            raise ValueError(
                f"fault changed_type_field must be one of {TYPE_CHANGES}, got {self.changed_type_field!r}"
            )
        for name in ("rate_multiplier_day", "total_delta_day"):
            _check_day(name, getattr(self, name))
        _check_hour("rate_multiplier_hour", self.rate_multiplier_hour)
        if not self.rate_multiplier > 0:
            raise ValueError("fault rate_multiplier must be positive")

    def reported_total_delta(self, window_start: datetime) -> int:
        """What to add to a window's reported total."""
        if self.total_delta_day and window_start.date().isoformat() != self.total_delta_day:
            return 0
        return self.total_delta

    def merged(self, changes: dict[str, Any]) -> FaultConfig:
        """A copy with ``changes`` applied; unknown names are refused rather than ignored."""
        known = {spec.name for spec in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Malformed records: each way a record can be broken, chosen per voiceId so a record is
# malformed the same way on every page, in every request and in ``records_for_window``.
HUGE_STRING_CHARS = 10_240


def _missing_voice_id(record: dict[str, Any]) -> None:
    del record["voiceId"]


def _cost_not_a_number(record: dict[str, Any]) -> None:
    record["cost"] = "N/A"


def _durations_as_strings(record: dict[str, Any]) -> None:
    record["callDuration"] = str(record["callDuration"])
    record["chargedDuration"] = str(record["chargedDuration"])


def _empty_times(record: dict[str, Any]) -> None:
    for name in ("submitTime", "callTime", "ringingTime", "answerTime", "hangupTime"):
        record[name] = ""


def _unknown_bill_period(record: dict[str, Any]) -> None:
    record["billPeriod"] = "7x"


def _extra_field(record: dict[str, Any]) -> None:
    record["carrierRoute"] = "RT-17"


def _non_ascii_phone_name(record: dict[str, Any]) -> None:
    record["phoneName"] = f"{record['phoneName']}-Zürich-電話"


def _huge_string(record: dict[str, Any]) -> None:
    reason = f"{record['terminationReason']} "
    record["terminationReason"] = (reason * (HUGE_STRING_CHARS // len(reason) + 1))[:HUGE_STRING_CHARS]


MALFORMATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "missing_voice_id": _missing_voice_id,
    "cost_not_a_number": _cost_not_a_number,
    "durations_as_strings": _durations_as_strings,
    "empty_times": _empty_times,
    "unknown_bill_period": _unknown_bill_period,
    "extra_field": _extra_field,
    "non_ascii_phone_name": _non_ascii_phone_name,
    "huge_string": _huge_string,
}
_MALFORMATION_NAMES = tuple(MALFORMATIONS)


def malformation_for(voice_id: str, fault_seed: int, rate: float) -> str | None:
    """Which malformation (a key of ``MALFORMATIONS``) the record gets, or ``None``.

    A hash of ``(fault_seed, voiceId)`` decides, so the choice is repeatable and does not depend on
    which page or request serves the record.
    """
    if rate <= 0:
        return None
    digest = hashlib.blake2b(f"{fault_seed}:{voice_id}".encode(), digest_size=16).digest()
    if int.from_bytes(digest[:8], "big") / 2**64 >= rate:
        return None
    return _MALFORMATION_NAMES[int.from_bytes(digest[8:], "big") % len(_MALFORMATION_NAMES)]


def malform(record: dict[str, Any], voice_id: str, fault_seed: int, rate: float) -> dict[str, Any]:
    """``record`` as it is served under ``malformed_rate``: unchanged, or a broken copy."""
    name = malformation_for(voice_id, fault_seed, rate)
    if name is None:
        return record
    broken = dict(record)
    MALFORMATIONS[name](broken)
    return broken


def _check_day(name: str, value: str) -> None:
    if not value:
        return
    try:
        if not _DAY.fullmatch(value):
            raise ValueError("not YYYY-MM-DD")
        date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"fault {name} must be a day YYYY-MM-DD, got {value!r}: {error}") from None


def _check_hour(name: str, value: str) -> None:
    if not value:
        return
    try:
        datetime.strptime(value, "%Y-%m-%dT%H")
    except ValueError as error:
        raise ValueError(f"fault {name} must be a UTC hour YYYY-MM-DDTHH, got {value!r}: {error}") from None
