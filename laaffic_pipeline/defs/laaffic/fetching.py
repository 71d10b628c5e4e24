"""The days' API reads, in one background thread: where the API library meets the staging files.

``DayReads`` starts one thread running an asyncio loop. It reads up to ``days_in_flight`` days at
once through one client (one in-flight bound, one rate limit, one flow control), each day its own
1-day window read until it holds still, every read staged on disk as it arrives. With SIP groups
(``LAAFFIC_SIP_GROUPS``) a day is one such window per group (``sipGroupName`` = the group), read
side by side, each its own stable read; the day settles when all of them have. The step's own
thread iterates over ``DayReads`` and gets, in the order they happen:

- ``Judgment``: a staged read to judge in DuckDB. The step's thread runs it (it does all of the
  run's DuckDB work, one piece at a time; every judgment of the run in one in-memory DuckDB,
  opened once) and the answer goes back to the read waiting for it;
- ``DayRead``: a day read whole and stable (each of its windows), staged in its folder, ready to land;
- ``DayUnread``: a day one of whose windows could not be read (its error says why; the day's
  other windows are stopped, and nothing of the day is handed over);
- ``LogLine``: a line of the client's (a retry, a re-read) for the run's log.

A queue is the one thing the two threads share; each item carries its own data. A day holds its
slot (all its windows) from its first request until the step has taken it off the queue, so at
most ``days_in_flight`` days are being read or waiting to land. Leaving the ``with`` block
cancels the reads still under way and removes what they staged; nothing half-read is ever handed
over.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import shutil
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from laaffic_pipeline.api.client import LaafficClient, RequestCounts
from laaffic_pipeline.api.errors import LaafficError
from laaffic_pipeline.api.stable_read import StableRead, read_stable_window
from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.warehouse.consistency import naming_window
from laaffic_pipeline.warehouse.staging import JudgingDatabase, StagedNdjsonRead

logger = logging.getLogger(__name__)

STOP_WAIT_S = 30.0
"""How long leaving ``DayReads`` early waits for the cancelled reads to end before giving up on them."""


@dataclass(frozen=True)
class LogLine:
    level: str  # "debug", "info", "warning" or "error"
    message: str


@dataclass(frozen=True)
class DayRead:
    """A day read whole and stable: ``reads`` holds each window's stable read by its group ('' for
    one window of every group), in the order the groups are listed; ``requests`` each window's
    requests, by group too. ``folder`` holds the staged reads until the step removes it."""

    key: str
    reads: dict[str, StableRead]
    requests: dict[str, RequestCounts]
    seconds: float
    folder: Path

    @property
    def total_requests(self) -> RequestCounts:
        """The day's requests, every window's together."""
        return _sum_counts(self.requests.values())

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class DayUnread:
    """A day one of whose windows failed (``sip_group_name``'s, '' unfiltered): nothing of the day
    was staged for landing."""

    key: str
    error: LaafficError
    requests: RequestCounts
    sip_group_name: str = ""

    @property
    def reason(self) -> str:
        """The error, naming the window's group when the day is read per group."""
        return naming_window(self.sip_group_name, str(self.error))


def _sum_counts(counts: Iterable[RequestCounts]) -> RequestCounts:
    total = RequestCounts()
    for count in counts:
        total.sent += count.sent
        total.retries += count.retries
        total.throttled += count.throttled
    return total


@dataclass
class Judgment:
    """A judgment of a staged read (its figures, or its comparison with the previous read), asked
    by a read in the fetching loop and run by the step's thread, which owns DuckDB."""

    work: Callable[[], Any]
    _loop: asyncio.AbstractEventLoop
    _answer: asyncio.Future[Any]

    def run(self) -> None:
        """Judge on this thread and hand the answer (or the error) back to the waiting read."""
        try:
            result = self.work()
        except Exception as error:
            self._loop.call_soon_threadsafe(_settle, self._answer, None, error)
        else:
            self._loop.call_soon_threadsafe(_settle, self._answer, result, None)


def _settle(answer: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if answer.cancelled():  # the read was cancelled while its judgment ran
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)


@dataclass(frozen=True)
class _Ended:
    """Every read has settled (or the loop stopped on ``error``); the client's totals."""

    requests: RequestCounts
    error: BaseException | None


Item = LogLine | DayRead | DayUnread | Judgment


@dataclass
class DayReads:
    """Read ``windows`` (partition key -> API window) in a background thread; iterate for what
    settles. ``client`` makes the one client of the run (its ``log`` goes to the run's log).
    ``sip_groups``: read each day as one window per group, filtered to it; empty, one window of
    every group."""

    client: Callable[[Any], LaafficClient]
    windows: Mapping[str, QueryWindow]
    staging: Path
    days_in_flight: int
    max_reads: int
    memory_limit: str
    sip_groups: Sequence[str] = ()
    requests: RequestCounts = field(default_factory=RequestCounts)

    def __post_init__(self) -> None:
        self._items: queue.SimpleQueue[Item | _Ended] = queue.SimpleQueue()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="laaffic-fetch", daemon=True)
        self._task: asyncio.Task[None] | None = None  # set and used in the loop's thread only
        self._slots: asyncio.Semaphore | None = None
        self._client_counts = RequestCounts()
        self._ended = False
        self._finished = threading.Event()  # set by the loop once its task has ended, however
        # The staged reads' judge: opened, used and closed by the step's thread alone (Judgment.run,
        # __exit__); the loop's thread only hands it to each new read.
        self._judging = JudgingDatabase(self.staging, self.memory_limit)

    def __enter__(self) -> DayReads:
        self.staging.mkdir(parents=True, exist_ok=True)
        self._folder = Path(tempfile.mkdtemp(prefix="staging-", dir=self.staging))  # the days' folders
        # Removed by __exit__, or at interpreter exit when an abandoned step never reaches it.
        self._remove_staging = weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
        self._thread.start()
        self._loop.call_soon_threadsafe(self._start)
        return self

    def __iter__(self) -> Iterator[Item]:
        """What settles, in order, until every day has; raises what stopped the loop, if anything."""
        while not self._ended:
            item = self._items.get()
            if isinstance(item, _Ended):
                self._ended = True
                self.requests = item.requests
                if item.error is not None:
                    raise item.error
                return
            if isinstance(item, DayRead | DayUnread):
                self._loop.call_soon_threadsafe(self._release_slot)
            yield item

    def __exit__(self, *exc_info: object) -> None:
        if self._ended:  # every read settled and was handed over: the loop is idle
            self._stop_loop()
            self._remove_staging()
            return
        # Left early (a failure, an interrupt): stop the reads under way. When Dagster takes an
        # interrupt outside the step's code it abandons the step's generator, which is closed later
        # by the garbage collector: maybe in the loop's own thread, maybe at interpreter exit after
        # the loop's (daemon) thread was stopped. The loop's word is awaited only where it can come.
        self._ended = True
        self._loop.call_soon_threadsafe(self._cancel)
        here = threading.current_thread() is self._thread
        if not here and not sys.is_finalizing() and self._finished.wait(STOP_WAIT_S):
            self._stop_loop()
        else:
            logger.warning(
                "The API reads were cancelled but their thread did not end %s; their staged files "
                "are removed now without waiting for it.",
                "(closed from that thread)"
                if here
                else "(the interpreter is exiting)"
                if sys.is_finalizing()
                else f"within {STOP_WAIT_S:g}s",
            )
        # What was staged, handed over or not (a day handed over and never landed included).
        self._remove_staging()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._judging.close()

    # What follows runs in the loop's thread.

    def _start(self) -> None:
        self._slots = asyncio.Semaphore(self.days_in_flight)
        self._task = self._loop.create_task(self._read_all())
        self._task.add_done_callback(self._tell_ended)  # however it ends, even cancelled unstarted

    def _cancel(self) -> None:
        assert self._task is not None
        self._task.cancel()

    def _tell_ended(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]  # the TaskGroups' wrapping (days, a day's windows) of one failure
        self._items.put(_Ended(self._client_counts, error))
        self._finished.set()

    def _release_slot(self) -> None:
        assert self._slots is not None
        self._slots.release()

    async def _judge(self, work: Callable[[], Any]) -> Any:
        answer = self._loop.create_future()
        self._items.put(Judgment(work, self._loop, answer))
        return await answer

    async def _read_all(self) -> None:
        if not self.windows:
            return
        log = _QueuedLog(self._items)
        async with self.client(log) as client:
            try:
                async with asyncio.TaskGroup() as reads:  # one failing unexpectedly stops the others
                    for key in self.windows:
                        reads.create_task(self._read_day(client, key, log))
            finally:
                self._client_counts = client.counts

    async def _read_day(self, client: LaafficClient, key: str, log: _QueuedLog) -> None:
        assert self._slots is not None
        await self._slots.acquire()  # released when the step takes the day off the queue
        folder = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=self._folder))
        groups = tuple(self.sip_groups) or ("",)
        counts = {group: RequestCounts() for group in groups}
        started = self._loop.time()
        windows: dict[str, asyncio.Task[StableRead]] = {}
        try:
            async with asyncio.TaskGroup() as reads:  # a window failing stops the day's others
                for number, group in enumerate(groups):
                    windows[group] = reads.create_task(
                        self._read_window(client, key, group, folder / f"window-{number}", counts[group], log)
                    )
        except BaseException as error:
            shutil.rmtree(folder, ignore_errors=True)
            failed = _window_failure(error)
            if failed is None:  # cancelled, or an unexpected error: the run stops
                self._slots.release()
                raise
            group, laaffic_error = failed
            self._items.put(DayUnread(key, laaffic_error, _sum_counts(counts.values()), group))
        else:
            reads_by_group = {group: task.result() for group, task in windows.items()}
            self._items.put(DayRead(key, reads_by_group, counts, self._loop.time() - started, folder))

    async def _read_window(
        self,
        client: LaafficClient,
        key: str,
        group: str,
        folder: Path,
        counts: RequestCounts,
        log: _QueuedLog,
    ) -> StableRead:
        folder.mkdir()
        try:
            return await read_stable_window(
                client,
                self.windows[key],
                lambda number: StagedNdjsonRead(folder, number, self.memory_limit, self._judging),
                max_reads=self.max_reads,
                log=log,
                counts=counts,
                judge=self._judge,
                sip_group_name=group,
            )
        except LaafficError as error:
            raise _WindowUnread(group, error) from error


class _WindowUnread(Exception):
    """A window's read failed with an API error (the day is unread); carries its group."""

    def __init__(self, group: str, error: LaafficError) -> None:
        super().__init__(group, error)
        self.group = group
        self.error = error


def _window_failure(error: BaseException) -> tuple[str, LaafficError] | None:
    """The group and API error of the window whose read failed, when that is all that went wrong;
    ``None`` for anything else (a cancellation, an unexpected error), which must propagate."""
    if not isinstance(error, BaseExceptionGroup):
        return None
    unread, rest = error.split(_WindowUnread)
    if rest is not None or unread is None:
        return None
    first = unread.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    assert isinstance(first, _WindowUnread)
    return first.group, first.error


class _QueuedLog:
    """The client's logger in the fetching thread: its lines reach Dagster's log from the step's thread."""

    def __init__(self, items: queue.SimpleQueue[Any]) -> None:
        self._items = items

    def debug(self, message: str) -> None:
        self._items.put(LogLine("debug", message))

    def info(self, message: str) -> None:
        self._items.put(LogLine("info", message))

    def warning(self, message: str) -> None:
        self._items.put(LogLine("warning", message))

    def error(self, message: str) -> None:
        self._items.put(LogLine("error", message))


def staging_folder(database: str) -> Path:
    """Staged reads go beside the warehouse (same disk, removed after landing)."""
    return Path(database).parent
