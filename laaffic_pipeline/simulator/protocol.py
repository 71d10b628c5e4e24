"""The simulator's own reading of the API document: signing, times, the 31-day and retention rules.

Written from ``laaffic-recordSipQuery-api.txt`` alone and sharing no code with the client
(``laaffic_pipeline.api``), so a test against the simulator is a second opinion on the client,
not the client checking itself.

- Headers: ``Sign = md5(apiKey + apiSecret + Timestamp)`` in lowercase hex, ``Timestamp`` the Unix
  time in seconds (the doc's Java and PHP samples), ``Content-Type: application/json;charset=UTF-8``.
- ``strTime``/``endTime``: "ISO8601 standard time format 2022-01-01T00:00:00+08:00": a date, ``T``,
  a time and a zone offset (``Z`` is ISO-8601 for ``+00:00``).
- "The maximum interval between the starting time and the ending time is 31 days".
- "for recent two months": the same wall-clock instant two calendar months ago, in UTC, the day
  clamped to the end of a shorter month (31 May -> 31 March, 30 April -> 28/29 February).
"""

from __future__ import annotations

import calendar
import hashlib
import re
from datetime import UTC, datetime, timedelta

CONTENT_TYPE = "application/json;charset=UTF-8"
MAX_WINDOW = timedelta(days=31)
RETENTION_MONTHS = 2

_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


def expected_sign(api_key: str, api_secret: str, timestamp: str) -> str:
    """The ``Sign`` a request must carry: ``md5(apiKey + apiSecret + Timestamp)``, lowercase hex."""
    return hashlib.md5(f"{api_key}{api_secret}{timestamp}".encode()).hexdigest()


def parse_time(text: str) -> datetime:
    """``2022-01-01T00:00:00+08:00`` (fractions and ``Z`` allowed); ``ValueError`` for anything else."""
    if not _ISO_TIME.fullmatch(text):
        raise ValueError(f"{text!r} is not like 2022-01-01T00:00:00+08:00")
    return datetime.fromisoformat(text)


def format_time(moment: datetime) -> str:
    """A zone-aware time written the way the doc writes it: seconds and ``+hh:mm``."""
    if moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no zone offset")
    return moment.isoformat(timespec="seconds")


def retention_floor(now: datetime) -> datetime:
    """The earliest ``strTime`` the API serves at ``now``: two calendar months back, in UTC."""
    utc = now.astimezone(UTC)
    months = utc.year * 12 + (utc.month - 1) - RETENTION_MONTHS
    year, month = months // 12, months % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return utc.replace(year=year, month=month, day=min(utc.day, last_day))
