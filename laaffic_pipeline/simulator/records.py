"""Deterministic synthetic call records (CDRs) shaped exactly like the API's ``records`` items.

Records are generated per UTC calendar day as a pure function of ``(seed, day, records_per_day)``
and cached, so every simulator with the same seed serves the same data and a window in any time
zone (23 h and 25 h DST days included) is just the UTC days it overlaps, filtered by instant.

Rows are kept compact (epoch seconds, shared catalog strings) and rendered to the API's JSON shape
only when served, which keeps a day of 100,000 records cheap to generate and to hold.

A call is served once it has ended: ``window_rows``/``window_slice`` take ``as_of`` (Unix seconds)
and keep the rows whose ``hangupTime`` is at or before it, while window membership stays by
``submitTime``. Every call ends within ``MAX_CALL_SPAN_S`` of its submission, so only the rows
submitted in the last ``MAX_CALL_SPAN_S`` before ``as_of`` are looked at one by one (once per clock
second, cached); a past day costs two more bisections.

Unanswered calls: ``answerTime`` is ``""``, ``callDuration``/``chargedDuration`` are 0, ``cost`` is
``"0"`` and ``recordingFileId`` is ``""``. Calls refused before the phone rang (404, 486, 503)
also carry ``ringingTime`` ``""``. ``submitTime``, ``callTime`` and ``hangupTime`` are always set,
and the non-empty times are ordered submit <= call <= ringing <= answer <= hangup.
"""

from __future__ import annotations

import math
import random
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from itertools import accumulate
from operator import attrgetter
from typing import Any, NamedTuple

SECONDS_PER_DAY = 86_400
# voiceId suffixes from here on belong to late arrivals, so they never collide with a day's own.
LATE_INDEX_BASE = 9_000_000
MAX_RECORDS_PER_DAY = LATE_INDEX_BASE
MAX_CALL_DURATION_S = 3600
# The longest a call lasts from submit to hangup, by ``_build_row``'s bounds: up to 3 s to dial,
# 6 s to ring, 25 s to answer, then the talk; a call submitted earlier than this has ended.
MAX_CALL_SPAN_S = 3 + 6 + 25 + MAX_CALL_DURATION_S
BILL_PERIODS = ("1+1", "6+6", "20+20", "30+6", "60+60")
_MICRO = Decimal("0.000001")
_EUR_PER_USD = Decimal("0.92")


class CallRow(NamedTuple):
    """One call in compact form: times are epoch seconds, ``None`` where the API sends ``""``."""

    submit: int
    voice_id: str
    sip_group_name: str
    phone_name: str
    callee: str
    display_num: str
    code: str
    call: int
    ringing: int | None
    answer: int | None
    hangup: int
    call_duration: int
    charged_duration: int
    termination_code: str
    termination_reason: str
    cost: str
    bill_period: str
    rate: str
    recording_file_id: str
    currency: str


class _Destination(NamedTuple):
    country: str
    region: str | None
    dial_code: str
    national_digits: int
    usd_per_minute: str
    bill_period: str
    weight: int


DESTINATIONS = (
    _Destination("Afghanistan", "Kandahar", "93", 9, "0.1850", "60+60", 3),
    _Destination("Afghanistan", "Kabul", "93", 9, "0.1720", "60+60", 3),
    _Destination("India", "Mumbai", "91", 10, "0.0125", "1+1", 12),
    _Destination("India", "Delhi", "91", 10, "0.0125", "1+1", 10),
    _Destination("Philippines", "Manila", "63", 10, "0.0980", "60+60", 8),
    _Destination("Indonesia", "Jakarta", "62", 10, "0.0720", "20+20", 8),
    _Destination("Brazil", "Sao Paulo", "55", 11, "0.0310", "30+6", 6),
    _Destination("Mexico", "Mexico City", "52", 10, "0.0190", "60+60", 5),
    _Destination("Nigeria", "Lagos", "234", 10, "0.1260", "60+60", 4),
    _Destination("Pakistan", "Karachi", "92", 10, "0.0850", "20+20", 4),
    _Destination("Vietnam", "Ho Chi Minh City", "84", 9, "0.0560", "30+6", 4),
    _Destination("Kenya", "Nairobi", "254", 9, "0.1100", "60+60", 2),
    _Destination("Saudi Arabia", "Riyadh", "966", 9, "0.0930", "30+6", 2),
    _Destination("Germany", "Berlin", "49", 10, "0.0160", "60+60", 3),
    _Destination("United Kingdom", None, "44", 10, "0.0095", "1+1", 4),
    _Destination("United States", None, "1", 10, "0.0060", "6+6", 6),
    _Destination("Singapore", None, "65", 8, "0.0210", "6+6", 3),
    _Destination("Hong Kong", None, "852", 8, "0.0230", "6+6", 2),
)
_DESTINATION_CUMULATIVE = tuple(accumulate(d.weight for d in DESTINATIONS))


class _Outcome(NamedTuple):
    code: str
    reason: str
    rang: bool
    answered: bool
    weight: int


OUTCOMES = (
    _Outcome("200", "success", True, True, 58),
    _Outcome("486", "Busy Here", False, False, 9),
    _Outcome("487", "Request Terminated", True, False, 8),
    _Outcome("480", "Temporarily Unavailable", True, False, 8),
    _Outcome("408", "Request Timeout", True, False, 4),
    _Outcome("603", "Decline", True, False, 5),
    _Outcome("404", "Not Found", False, False, 4),
    _Outcome("503", "Service Unavailable", False, False, 4),
)
_OUTCOME_CUMULATIVE = tuple(accumulate(o.weight for o in OUTCOMES))

# Groups are an account's departments; each bills in one currency.
GROUPS = (("group1", "USD"), ("group2", "EUR"), ("group3", "USD"), ("sales", "EUR"), ("support", "USD"))


class _Phone(NamedTuple):
    group: str
    name: str
    display_num: str
    currency: str


def billed_seconds(duration: int, bill_period: str) -> int:
    """Charged seconds under ``a+b`` billing: first ``a`` seconds, then whole ``b``-second steps."""
    if duration <= 0:
        return 0
    first, step = (int(part) for part in bill_period.split("+"))
    if duration <= first:
        return first
    return first + math.ceil((duration - first) / step) * step


@lru_cache(maxsize=65_536)
def call_cost(rate_per_minute: str, charged_seconds: int) -> str:
    """``rate * charged / 60`` rounded half-up to 6 decimals, as a plain string (no exponent)."""
    cost = (Decimal(rate_per_minute) * charged_seconds / 60).quantize(_MICRO, ROUND_HALF_UP)
    return format(cost.normalize(), "f")


def parse_offset(text: str) -> timezone:
    """The fixed ``+hh:mm`` offset records are written in (``Z`` means UTC)."""
    moment = datetime.fromisoformat(f"2000-01-01T00:00:00{text}")
    if moment.utcoffset() is None:
        raise ValueError(f"record offset {text!r} is not like +08:00")
    return timezone(moment.utcoffset())  # type: ignore[arg-type]


@lru_cache(maxsize=16)
def _phones(seed: int) -> tuple[_Phone, ...]:
    """The account's phones: a few per group, stable for a seed so every day reuses them."""
    rng = random.Random(f"laaffic-simulator:phones:{seed}")
    numbers = rng.sample(range(1000, 10000), 5 * len(GROUPS))
    phones = []
    for group, currency in GROUPS:
        for _ in range(rng.randint(3, 5)):
            display = str(rng.randrange(1_000_000_000, 10_000_000_000))
            phones.append(_Phone(group, f"sipName{numbers.pop()}", display, currency))
    return tuple(phones)


@cache
def _rate(destination: _Destination, currency: str) -> str:
    usd = Decimal(destination.usd_per_minute)
    rate = usd if currency == "USD" else (usd * _EUR_PER_USD).quantize(Decimal("0.0001"))
    return format(rate.normalize(), "f")


def _pick(rng: random.Random, items: Sequence[Any], cumulative: Sequence[int]) -> Any:
    return items[bisect_right(cumulative, rng.random() * cumulative[-1])]


class _DayParts(NamedTuple):
    start: int
    short_date: str
    long_date: str


def day_start_ts(day: date) -> int:
    """Epoch seconds of the UTC midnight that starts ``day``."""
    return int(datetime.combine(day, datetime.min.time(), UTC).timestamp())


@lru_cache(maxsize=1024)
def _day_parts(day: date) -> _DayParts:
    return _DayParts(day_start_ts(day), f"{day:%y%m%d}", f"{day:%Y%m%d}")


def _between(rng: random.Random, low: int, high: int) -> int:
    """``rng.randint`` without its overhead (generation of big days is dominated by it)."""
    return low + int(rng.random() * (high - low + 1))


def _voice_id(day_prefix: str, second_of_day: int, index: int) -> str:
    """``yyMMddHHmmss`` of the UTC submit second plus a 7-digit index: digits, unique, sortable."""
    hours, rest = divmod(second_of_day, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{day_prefix}{hours:02d}{minutes:02d}{seconds:02d}{index:07d}"


def _build_row(rng: random.Random, phones: Sequence[_Phone], day: date, submit: int, index: int) -> CallRow:
    """One plausible call submitted at ``submit``; ``rng`` decides everything else."""
    parts = _day_parts(day)
    phone = phones[int(rng.random() * len(phones))]
    dest: _Destination = _pick(rng, DESTINATIONS, _DESTINATION_CUMULATIVE)
    outcome: _Outcome = _pick(rng, OUTCOMES, _OUTCOME_CUMULATIVE)
    low = 10 ** (dest.national_digits - 1)
    callee = dest.dial_code + str(low + int(rng.random() * 9 * low))
    call = submit + _between(rng, 0, 3)
    ringing = answer = None
    duration = 0
    recording = ""
    if outcome.answered:
        ringing = call + _between(rng, 1, 6)
        answer = ringing + _between(rng, 2, 25)
        duration = min(MAX_CALL_DURATION_S, max(1, int(rng.lognormvariate(4.0, 1.1))))
        hangup = answer + duration
        recording = f"1{parts.long_date}{rng.getrandbits(128):032x}.mp3"
    elif outcome.rang:
        ringing = call + _between(rng, 1, 6)
        hangup = ringing + _between(rng, 3, 60)
    else:
        hangup = call + _between(rng, 0, 3)
    charged = billed_seconds(duration, dest.bill_period)
    rate = _rate(dest, phone.currency)
    return CallRow(
        submit=submit,
        voice_id=_voice_id(parts.short_date, submit - parts.start, index),
        sip_group_name=phone.group,
        phone_name=phone.name,
        callee=callee,
        display_num=phone.display_num,
        code=f"{dest.country}({dest.region})" if dest.region else dest.country,
        call=call,
        ringing=ringing,
        answer=answer,
        hangup=hangup,
        call_duration=duration,
        charged_duration=charged,
        termination_code=outcome.code,
        termination_reason=outcome.reason,
        cost=call_cost(rate, charged),
        bill_period=dest.bill_period,
        rate=rate,
        recording_file_id=recording,
        currency=phone.currency,
    )


def generate_day(seed: int, day: date, records_per_day: int) -> tuple[CallRow, ...]:
    """All calls submitted on one UTC day, sorted by (submit instant, voiceId). Pure; uncached."""
    if not 0 <= records_per_day <= MAX_RECORDS_PER_DAY:
        raise ValueError(f"records_per_day must be between 0 and {MAX_RECORDS_PER_DAY}")
    rng = random.Random(f"laaffic-simulator:day:{seed}:{day.isoformat()}:{records_per_day}")
    start = day_start_ts(day)
    submits = sorted(start + int(rng.random() * SECONDS_PER_DAY) for _ in range(records_per_day))
    phones = _phones(seed)
    return tuple(_build_row(rng, phones, day, submit, i) for i, submit in enumerate(submits))


_cached_day = lru_cache(maxsize=64)(generate_day)
# Concurrent first requests for a day would each generate it (CPU-bound, so no faster in parallel);
# the lock makes the second caller wait for the first one's cached result instead.
_generation_lock = threading.Lock()


def day_rows(seed: int, day: date, records_per_day: int) -> tuple[CallRow, ...]:
    """``generate_day`` cached (64 days): every request to a day's windows reuses one copy."""
    with _generation_lock:
        return _cached_day(seed, day, records_per_day)


def late_row(seed: int, day: date, number: int, start_ts: float, end_ts: float) -> CallRow | None:
    """The ``number``-th late arrival of ``day``, submitted inside ``[start_ts, end_ts)``.

    ``None`` when the window covers less than a whole second of the day. Pure, like ``day_rows``.
    """
    low = max(math.ceil(start_ts), day_start_ts(day))
    high = min(math.ceil(end_ts), day_start_ts(day) + SECONDS_PER_DAY)
    if low >= high:
        return None
    rng = random.Random(f"laaffic-simulator:late:{seed}:{day.isoformat()}:{number}")
    submit = low + int(rng.random() * (high - low))
    return _build_row(rng, _phones(seed), day, submit, LATE_INDEX_BASE + number)


def utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC calendar days ``[start, end)`` touches."""
    first = start.astimezone(UTC).date()
    end_ts = end.timestamp()
    days = []
    day = first
    while day_start_ts(day) < end_ts:
        days.append(day)
        day += timedelta(days=1)
    return days


_SUBMIT = attrgetter("submit")


def sort_key(row: CallRow) -> tuple[int, str]:
    return row.submit, row.voice_id


class _Run(NamedTuple):
    """``rows[low:high]``, a run of served rows named without copying them."""

    rows: Sequence[CallRow]
    low: int
    high: int


@lru_cache(maxsize=16)
def _recently_ended(seed: int, day: date, records_per_day: int, second: int) -> tuple[CallRow, ...]:
    """The day's calls submitted in the ``MAX_CALL_SPAN_S`` up to ``second`` that ended by then,
    in serving order. Cached per clock second: the pages a client asks for within one second (or
    at one instant of a test's clock) filter the day's last hour once, not once a page."""
    base = day_rows(seed, day, records_per_day)
    low = bisect_right(base, second - MAX_CALL_SPAN_S, key=_SUBMIT)
    high = bisect_right(base, second, key=_SUBMIT)
    return tuple(row for row in base[low:high] if row.hangup <= second)


def _day_runs(
    seed: int,
    records_per_day: int,
    day: date,
    start_ts: float,
    end_ts: float,
    late: Sequence[CallRow],
    as_of: float,
) -> tuple[_Run, ...]:
    """One UTC day's rows submitted in ``[start_ts, end_ts)`` and ended by ``as_of``, in serving
    order: the calls that surely ended (a slice of the cached day, not copied), then those
    submitted in the last ``MAX_CALL_SPAN_S`` before ``as_of`` that did."""
    base = day_rows(seed, day, records_per_day)
    low = bisect_left(base, start_ts, key=_SUBMIT)
    high = bisect_left(base, end_ts, key=_SUBMIT)
    extra = [row for row in late if start_ts <= row.submit < end_ts and row.hangup <= as_of]
    if extra:
        merged = sorted([*base[low:high], *extra], key=sort_key)
        ended = [row for row in merged if row.hangup <= as_of]
        return (_Run(ended, 0, len(ended)),)
    # The rows before ``settled`` have ended; on a past day, all of them.
    settled_by = as_of - MAX_CALL_SPAN_S
    settled = (
        len(base)
        if not base or base[-1].submit <= settled_by
        else bisect_right(base, settled_by, key=_SUBMIT)
    )
    if high <= settled:
        return (_Run(base, low, high),)  # a past day: no row to look at
    # Times are whole seconds, so "ended by as_of" is "ended by its second".
    recent = _recently_ended(seed, day, records_per_day, math.floor(as_of))
    return (
        _Run(base, low, max(low, settled)),
        _Run(recent, bisect_left(recent, start_ts, key=_SUBMIT), bisect_left(recent, end_ts, key=_SUBMIT)),
    )


def _window_runs(
    seed: int,
    records_per_day: int,
    start: datetime,
    end: datetime,
    late: Mapping[date, Sequence[CallRow]] | None,
    as_of: float,
) -> list[_Run]:
    start_ts, end_ts = start.timestamp(), end.timestamp()
    return [
        run
        for day in utc_days(start, end)
        for run in _day_runs(seed, records_per_day, day, start_ts, end_ts, (late or {}).get(day, ()), as_of)
    ]


def window_rows(
    seed: int,
    records_per_day: int,
    start: datetime,
    end: datetime,
    late: Mapping[date, Sequence[CallRow]] | None = None,
    as_of: float = math.inf,
) -> list[CallRow]:
    """Rows whose submit instant is in ``[start, end)`` and whose call has ended by ``as_of`` (Unix
    seconds; every call by default), in serving order, late arrivals merged."""
    rows: list[CallRow] = []
    for run in _window_runs(seed, records_per_day, start, end, late, as_of):
        rows.extend(run.rows[run.low : run.high])
    return rows


def window_slice(
    seed: int,
    records_per_day: int,
    start: datetime,
    end: datetime,
    late: Mapping[date, Sequence[CallRow]] | None,
    first: int,
    count: int,
    as_of: float = math.inf,
) -> tuple[int, list[CallRow]]:
    """``window_rows(...)[first:first + count]`` and the window's length, without copying the
    whole window: a page of a large day costs its own rows (and the last hour's before ``as_of``),
    not the day's."""
    total = 0
    rows: list[CallRow] = []
    for run in _window_runs(seed, records_per_day, start, end, late, as_of):
        length = run.high - run.low
        wanted_low, wanted_high = max(first - total, 0), min(first + count - total, length)
        if wanted_low < wanted_high:
            rows.extend(run.rows[run.low + wanted_low : run.low + wanted_high])
        total += length
    return total, rows


def _iso(ts: int | None, zone: timezone) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, zone).isoformat()


def to_api_record(row: CallRow, zone: timezone) -> dict[str, Any]:
    """The row as the API's JSON record (fields in the documented order, times in ``zone``)."""
    return {
        "voiceId": row.voice_id,
        "sipGroupName": row.sip_group_name,
        "phoneName": row.phone_name,
        "callee": row.callee,
        "displayNum": row.display_num,
        "code": row.code,
        "submitTime": _iso(row.submit, zone),
        "callTime": _iso(row.call, zone),
        "ringingTime": _iso(row.ringing, zone),
        "answerTime": _iso(row.answer, zone),
        "hangupTime": _iso(row.hangup, zone),
        "callDuration": row.call_duration,
        "chargedDuration": row.charged_duration,
        "terminationCode": row.termination_code,
        "terminationReason": row.termination_reason,
        "cost": row.cost,
        "billPeriod": row.bill_period,
        "rate": row.rate,
        "recordingFileId": row.recording_file_id,
        "currency": row.currency,
    }
