"""Fetch days from Laaffic and land each in the warehouse: where the API library and the warehouse meet.

Every day is its own 1-day API window (Dagster's time window for its partition), read until it
holds still with each read staged on disk, then landed in its own transaction. Several days are
read at once through one client, so they share its in-flight bound, its rate limit and its flow
control; landings take turns (DuckDB has one writer) in a worker thread while reads go on.

The reads run in a background thread and hand each day over as soon as it has landed, so the
step records it and builds the marts of finished weeks while later days are still being read.
"""

import asyncio
import contextlib
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from laaffic_pipeline.api.client import RequestCounts
from laaffic_pipeline.api.errors import LaafficError
from laaffic_pipeline.api.stable_read import StableRead, read_stable_window
from laaffic_pipeline.api.window import format_api_time, retention_floor
from laaffic_pipeline.defs.mailbox import DaySettled, LandingEnded, Mailbox
from laaffic_pipeline.defs.partitions import daily_partitions, query_window
from laaffic_pipeline.defs.resources import LaafficApiResource, WarehouseResource, WarehouseSession
from laaffic_pipeline.warehouse.connection import WarehouseLockedError
from laaffic_pipeline.warehouse.landing import LandedPartition, PartitionShrinkError, replace_raw_partition
from laaffic_pipeline.warehouse.schema_drift import SchemaDrift, schema_drift
from laaffic_pipeline.warehouse.sql import query_rows
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead
from laaffic_pipeline.warehouse.turns import DUCKDB_TURNS, SMALL_WAREHOUSE_RECORDS


@dataclass
class LandedDay:
    """What landing one day produced: the raw asset's metadata and the figures its checks judge."""

    metadata: dict[str, Any]
    page_figures: dict[str, Any]
    drift: SchemaDrift


def refuse_expired_days(keys: list[str], now: datetime) -> None:
    """One refusal, before any request, for a range reaching past the API's two months."""
    floor = retention_floor(now)
    expired = [
        key for key in keys if query_window(daily_partitions.time_window_for_partition_key(key)).start < floor
    ]
    if expired:
        raise dg.Failure(
            f"{len(expired)} of the {len(keys)} days asked for ({expired[0]} .. {expired[-1]}) start "
            f"before the API's retention limit {format_api_time(floor)}: the API keeps only the last "
            "two months, so they can no longer be fetched and the warehouse's copy is the only one. "
            f"Nothing was fetched; ask for days from {floor.date()} on.",
            allow_retries=False,
        )


@dataclass
class DayLanding:
    """Every day of a run, fetched and landed in a background thread; use as ``with``.

    Each day posts ``DaySettled`` to the ``mailbox`` once it has landed (``landed``) or failed
    (``failed``, and whether a retry could help in ``retryable``); ``LandingEnded`` follows the
    last. Leaving the ``with`` block early cancels the reads still under way; nothing half-read is
    landed.
    """

    context: dg.AssetExecutionContext
    laaffic: LaafficApiResource
    duckdb: WarehouseResource
    warehouse: WarehouseSession
    mailbox: Mailbox
    keys: list[str]
    allow_fewer_rows: bool
    days_in_flight: int
    landed: dict[str, LandedDay] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    retryable: bool = True
    requests: RequestCounts = field(default_factory=RequestCounts)

    def __post_init__(self) -> None:
        refuse_expired_days(self.keys, datetime.now(UTC))
        self._windows = {
            key: query_window(daily_partitions.time_window_for_partition_key(key)) for key in self.keys
        }
        self._database = Path(self.duckdb.database)
        self._database.parent.mkdir(parents=True, exist_ok=True)
        self._memory_limit = str(self.duckdb.connection_config.get("memory_limit", "1GB"))
        self._thread = threading.Thread(target=self._run, name="laaffic-landing", daemon=True)
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def __enter__(self) -> "DayLanding":
        self.context.log.info(
            f"Fetching {len(self.keys)} day(s), {self.days_in_flight} at a time: {self.laaffic.describe()}"
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(task.cancel)
        self._thread.join()

    def summary(self) -> str:
        """One line for the run log once every day has settled."""
        return (
            f"Landed {len(self.landed)} of {len(self.keys)} day(s) with {self.requests.sent} requests "
            f"({self.requests.retries} retried after an error, {self.requests.throttled} after HTTP 429)"
        )

    def _run(self) -> None:
        try:
            asyncio.run(self._fetch_all())
        except BaseException as error:  # handed to the step's thread, which raises it
            self.mailbox.post(LandingEnded(error))
        else:
            self.mailbox.post(LandingEnded())

    def _write(self, key: str, read: StableRead) -> LandedPartition:
        """Replace the day's raw rows with the read's: the only part that waits for the one writer."""
        window = self._windows[key]
        read.staged.figures()  # judged already (cached): no judging inside the landing's turn
        alone = read.staged.records > SMALL_WAREHOUSE_RECORDS
        with DUCKDB_TURNS.turn(alone=alone), self.warehouse.cursor() as conn:
            return replace_raw_partition(
                conn,
                date.fromisoformat(key),
                read.staged,
                window.str_time,
                window.end_time,
                read.reads,
                allow_fewer_rows=self.allow_fewer_rows,
                prepared=True,  # by the step's warehouse session, see defs/daily.py
            )

    def _inspect(
        self, key: str, read: StableRead, counts: RequestCounts, landed: LandedPartition
    ) -> LandedDay:
        """What the landed day holds (page figures, schema drift): beside the next day's landing."""
        window = self._windows[key]
        alone = read.staged.records > SMALL_WAREHOUSE_RECORDS
        with DUCKDB_TURNS.turn(alone=alone), self.warehouse.cursor() as conn:
            (figures,) = query_rows(conn, "page_count_consistency", {"partition_date": key})
            drift = schema_drift(conn, date.fromisoformat(key))
        summary = read.staged.page_summary()
        return LandedDay(
            metadata={
                "window": f"{window.str_time} .. {window.end_time}",
                **summary,
                "duplicates_dropped": summary["records_received"] - landed.rows_after,
                "reads": read.reads,
                "read_problems": dg.MetadataValue.json(read.history),
                "requests_sent": counts.sent,
                "request_retries": counts.retries,
                "requests_throttled": counts.throttled,
                "rows_replaced": landed.rows_before,
                "dagster/row_count": landed.rows_after,
            },
            page_figures=figures,
            drift=drift,
        )

    async def _fetch_all(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        if self._stop.is_set():
            return
        day_slots = asyncio.Semaphore(self.days_in_flight)
        one_writer = asyncio.Lock()
        log = self.mailbox.logger()
        async with self.laaffic.client(log) as client:

            async def one(key: str) -> None:
                async with day_slots:
                    folder = Path(tempfile.mkdtemp(prefix=f"staging-{key}-", dir=self._database.parent))
                    counts = RequestCounts()
                    try:
                        read = await read_stable_window(
                            client,
                            self._windows[key],
                            lambda number: StagedNdjsonRead(folder, number, self._memory_limit),
                            max_reads=self.laaffic.client_settings.max_reads,
                            log=log,
                            counts=counts,
                        )
                        # The warehouse is locked only now: the whole day is fetched and verified.
                        async with one_writer:
                            written = await asyncio.to_thread(self._write, key, read)
                        inspect = self._inspect
                        self.landed[key] = await asyncio.to_thread(inspect, key, read, counts, written)
                    except (LaafficError, WarehouseLockedError) as error:
                        self.failed[key] = str(error)
                        self.retryable &= getattr(error, "retryable", True)
                    except PartitionShrinkError as error:
                        self.failed[key] = str(error)
                        self.retryable = False
                    finally:
                        shutil.rmtree(folder, ignore_errors=True)
                    self.mailbox.post(DaySettled(key))

            try:
                await asyncio.gather(*(one(key) for key in self.keys))
            finally:
                self.requests = client.counts
