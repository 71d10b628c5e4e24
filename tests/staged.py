"""Stage pages of records as the API client hands them to the warehouse (a test stand-in for pages)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from laaffic_pipeline.warehouse.staging import StagedNdjsonRead

_reads = itertools.count(1)


class Page(NamedTuple):
    """What the warehouse reads of an API page."""

    total: int
    pages: int
    records: list[dict[str, Any]]


def stage_pages(
    folder: Path,
    pages: Sequence[Sequence[dict[str, Any]]],
    fetched_at: datetime | Sequence[datetime],
    *,
    total: int | None = None,
) -> StagedNdjsonRead:
    """A closed staged read holding ``pages`` (each reporting ``total``, default the real total)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamps = [fetched_at] * len(pages) if isinstance(fetched_at, datetime) else list(fetched_at)
    total = sum(len(page) for page in pages) if total is None else total
    staged = StagedNdjsonRead(folder, next(_reads))
    for number, (records, stamp) in enumerate(zip(pages, stamps, strict=True), start=1):
        staged.write_page(number, stamp, Page(total, len(pages), list(records)))
    staged.close()
    return staged


def day_bounds(day: date, zone: str = "UTC") -> tuple[str, str]:
    """The API window strings of a local day, written out with zoneinfo (independent of the pipeline)."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    end_day = day + timedelta(days=1)
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=ZoneInfo(zone))
    return start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds")
