"""The days' API reads, in one background thread: where the API library meets the staging files.

``DayReads`` starts one thread running an asyncio loop. It reads up to ``days_in_flight`` days at
once through one client (one in-flight bound, one rate limit, one flow control), each day its own
1-day window read until it holds still, every read staged on disk as it arrives. The step's own
thread iterates over ``DayReads`` and gets, in the order they happen:

- ``Judgment``: a staged read to judge in DuckDB. The step's thread runs it (it does all of the
  run's DuckDB work, one piece at a time) and the answer goes back to the read waiting for it;
- ``DayRead``: a day read whole and stable, staged in its folder, ready to land;
- ``DayUnread``: a day whose read failed (its error says why);
- ``LogLine``: a line of the client's (a retry, a re-read) for the run's log.

A queue is the one thing the two threads share; each item carries its own data. A day holds its
slot from its first request until the step has taken it off the queue, so at most
``days_in_flight`` days are being read or waiting to land. Leaving the ``with`` block cancels the
reads still under way and removes what they staged; nothing half-read is ever handed over.
"""

from __future__ import annotations

import asyncio
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from laaffic_pipeline.api.client import LaafficClient, RequestCounts
from laaffic_pipeline.api.errors import LaafficError
from laaffic_pipeline.api.stable_read import StableRead, read_stable_window
from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead


@dataclass(frozen=True)
class LogLine:
    level: str  # "debug", "info", "warning" or "error"
    message: str


@dataclass(frozen=True)
class DayRead:
    """A day read whole and stable; ``folder`` holds its staged reads until the step removes it."""

    key: str
    read: StableRead
    requests: RequestCounts
    seconds: float
    folder: Path

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class DayUnread:
    """A day whose read failed: nothing of it was staged for landing."""

    key: str
    error: LaafficError
    requests: RequestCounts


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
    settles. ``client`` makes the one client of the run (its ``log`` goes to the run's log)."""

    client: Callable[[Any], LaafficClient]
    windows: Mapping[str, QueryWindow]
    staging: Path
    days_in_flight: int
    max_reads: int
    memory_limit: str
    requests: RequestCounts = field(default_factory=RequestCounts)

    def __post_init__(self) -> None:
        self._items: queue.SimpleQueue[Item | _Ended] = queue.SimpleQueue()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="laaffic-fetch", daemon=True)
        self._task: asyncio.Task[None] | None = None  # set and used in the loop's thread only
        self._slots: asyncio.Semaphore | None = None
        self._client_counts = RequestCounts()
        self._ended = False

    def __enter__(self) -> DayReads:
        self.staging.mkdir(parents=True, exist_ok=True)
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
        if not self._ended:  # left early (a failure, an interrupt): stop the reads under way
            self._loop.call_soon_threadsafe(self._cancel)
            while not self._ended:
                item = self._items.get()
                if isinstance(item, _Ended):
                    self._ended = True
                elif isinstance(item, DayRead):
                    item.discard()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

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
        if isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]  # the TaskGroup's wrapping of the one read that failed
        self._items.put(_Ended(self._client_counts, error))

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
        folder = Path(tempfile.mkdtemp(prefix=f"staging-{key}-", dir=self.staging))
        counts = RequestCounts()
        started = self._loop.time()
        try:
            read = await read_stable_window(
                client,
                self.windows[key],
                lambda number: StagedNdjsonRead(folder, number, self.memory_limit),
                max_reads=self.max_reads,
                log=log,
                counts=counts,
                judge=self._judge,
            )
        except LaafficError as error:
            shutil.rmtree(folder, ignore_errors=True)
            self._items.put(DayUnread(key, error, counts))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            self._slots.release()
            raise
        else:
            self._items.put(DayRead(key, read, counts, self._loop.time() - started, folder))


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
