"""Read a window until it holds still: the API pages a live table, so totals can drift mid-read.

The reads themselves are kept by the caller's ``StagedRead`` (the pipeline stages them on disk and
compares them in DuckDB), so no record is held in Python memory here, however large the day.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

from laaffic_pipeline.api.client import LaafficClient, PageSink, RequestCounts, describe_filter
from laaffic_pipeline.api.errors import LaafficError
from laaffic_pipeline.api.window import QueryWindow

logger = logging.getLogger(__name__)
T = TypeVar("T")
Judge = Callable[[Callable[[], T]], Awaitable[T]]


async def judge_here(judgment: Callable[[], T]) -> T:
    """Judge a read on the fetching loop itself (the default: judging is quick for small reads)."""
    return judgment()


class StagedRead(PageSink, Protocol):
    """One complete read of a window, kept somewhere the caller chose."""

    def close(self) -> None: ...

    def problems(self) -> list[str]:
        """Why this read cannot be trusted on its own (empty when its pages agree with each other)."""
        ...

    def same_records(self, other: Any) -> bool:
        """Whether ``other`` (the previous read) reported the same total and holds the same records."""
        ...


class UnstableWindowError(LaafficError):
    """Consecutive reads never agreed; nothing is landed so the stored partition stays intact."""

    retryable = True


@dataclass
class StableRead:
    """The read to land, how many reads it took, and what was wrong with each read."""

    staged: Any
    reads: int
    history: list[list[str]]


async def read_stable_window(
    client: LaafficClient,
    window: QueryWindow,
    new_read: Callable[[int], StagedRead],
    *,
    max_reads: int = 5,
    log: logging.Logger | Any = None,
    counts: RequestCounts | None = None,
    judge: Judge[Any] = judge_here,
    sip_group_name: str = "",
) -> StableRead:
    """Read the window; re-read while it is inconsistent, until two consecutive reads agree.

    A self-consistent read is accepted at once. An inconsistent one is accepted when the next
    read returns the same records and total (the API's own figures are off, which the page-count
    check then reports). If no two consecutive reads agree within ``max_reads``, raise.
    ``counts``, if given, counts the requests of every read of this window. ``judge`` runs each
    judgment of a read (``problems``, ``same_records``) and hands back its answer: the pipeline has
    them run on the thread that owns its DuckDB work, while this loop goes on fetching other windows.
    ``sip_group_name``: read only that phone group's records (every read carries the filter, so the
    window's total and pages are the group's own); empty, every record of the window.
    """
    previous: StagedRead | None = None
    history: list[list[str]] = []
    for read in range(1, max_reads + 1):
        staged = new_read(read)
        try:
            await client.fetch_window(window, staged, counts, sip_group_name=sip_group_name)
        finally:
            staged.close()
        problems = await judge(staged.problems)
        history.append(problems)
        if not problems or (previous is not None and await judge(partial(staged.same_records, previous))):
            return StableRead(staged, read, history)
        if read < max_reads:
            (log or logger).warning(
                f"Read {read} of window {window}{describe_filter(sip_group_name)} is inconsistent "
                f"({'; '.join(problems)}); reading it again ({max_reads - read} reads left)"
            )
        previous = staged
    raise UnstableWindowError(
        f"window {window} did not hold still over {max_reads} reads; last read: "
        f"{'; '.join(history[-1])}. Nothing was stored; retry later (calls may still be arriving)."
    )
