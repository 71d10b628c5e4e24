"""Read a window until it holds still: the API pages a live table, so totals can drift mid-read."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from laaffic_pipeline.api.client import NO_FILTERS, LaafficClient, PageSink, QueryFilters
from laaffic_pipeline.api.errors import LaafficError
from laaffic_pipeline.api.models import CallRecord, PageLog
from laaffic_pipeline.api.window import QueryWindow

logger = logging.getLogger(__name__)


def record_identity(record: CallRecord) -> str:
    """A record's identity: its voiceId, or its whole JSON when the API sent none."""
    voice_id = record.get("voiceId")
    if isinstance(voice_id, str) and voice_id:
        return voice_id
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


@dataclass
class ReadSummary:
    """The figures of one complete read of a window."""

    pages: list[PageLog]
    identities: Counter[str] = field(default_factory=Counter)

    @property
    def reported_total(self) -> int:
        return self.pages[0].reported_total

    @property
    def reported_pages(self) -> int:
        return self.pages[0].reported_pages

    @property
    def records_received(self) -> int:
        return sum(log.records for log in self.pages)

    @property
    def distinct_records(self) -> int:
        return len(self.identities)

    def problems(self) -> list[str]:
        """Why this read cannot be trusted on its own (empty when it is self-consistent)."""
        found = []
        totals = {log.reported_total for log in self.pages}
        if len(totals) > 1:
            found.append(f"reported total changed while paging: {sorted(totals)}")
        if len(self.pages) != max(self.reported_pages, 1):
            found.append(f"fetched {len(self.pages)} pages, page 1 reported {self.reported_pages}")
        if self.records_received != self.reported_total:
            found.append(f"received {self.records_received} records, reported total {self.reported_total}")
        if self.distinct_records != self.records_received:
            found.append(f"{self.records_received - self.distinct_records} duplicate records across pages")
        return found

    def same_content(self, other: ReadSummary) -> bool:
        return (
            self.reported_total == other.reported_total and self.identities.keys() == other.identities.keys()
        )


class UnstableWindowError(LaafficError):
    """Consecutive reads never agreed; nothing is landed so the stored partition stays intact."""


class _CountingSink:
    def __init__(self, inner: PageSink, identities: Counter[str]):
        self._inner = inner
        self._identities = identities

    def write_page(self, page: int, fetched_at: datetime, records: list[CallRecord]) -> None:
        self._identities.update(record_identity(record) for record in records)
        self._inner.write_page(page, fetched_at, records)


@dataclass
class StableRead:
    """The read to land, and how many reads it took to get there."""

    summary: ReadSummary
    reads: int
    sink: PageSink
    history: list[list[str]]


async def read_stable_window(
    client: LaafficClient,
    window: QueryWindow,
    new_sink: Callable[[int], PageSink],
    *,
    max_reads: int = 5,
    filters: QueryFilters = NO_FILTERS,
    log: logging.Logger | Any = None,
) -> StableRead:
    """Read the window; re-read while it is inconsistent, until two consecutive reads agree.

    A self-consistent read is accepted at once. An inconsistent one is accepted when the next
    read returns the same records and total (the API's own figures are off, which the page-count
    check then reports). If no two consecutive reads agree within ``max_reads``, raise.
    """
    previous: ReadSummary | None = None
    history: list[list[str]] = []
    for read in range(1, max_reads + 1):
        identities: Counter[str] = Counter()
        sink = new_sink(read)
        pages = await client.fetch_window(window, _CountingSink(sink, identities), filters)
        summary = ReadSummary(pages, identities)
        problems = summary.problems()
        history.append(problems)
        if not problems or (previous is not None and summary.same_content(previous)):
            return StableRead(summary, read, sink, history)
        if read < max_reads:
            (log or logger).warning(
                f"Read {read} of window {window} is inconsistent ({'; '.join(problems)}); "
                f"reading it again ({max_reads - read} reads left)"
            )
        previous = summary
    raise UnstableWindowError(
        f"window {window} did not hold still over {max_reads} reads; last read: "
        f"{'; '.join(history[-1])}. Nothing was stored; retry later (calls may still be arriving)."
    )
