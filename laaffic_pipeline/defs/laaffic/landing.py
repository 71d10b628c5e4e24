"""Fetch days from Laaffic and land each in the warehouse: where the API library and the warehouse meet.

Every day is its own 1-day API window (Dagster's time window for its partition), read until it
holds still with each read staged on disk, then landed in its own transaction. Several days are
read at once through one client, so they share its in-flight bound, its rate limit and its flow
control; landings take turns (DuckDB has one writer) in a worker thread while reads go on.
"""

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from laaffic_pipeline.api.errors import LaafficError
from laaffic_pipeline.api.stable_read import StableRead, read_stable_window
from laaffic_pipeline.api.window import format_api_time, retention_floor
from laaffic_pipeline.defs.partitions import daily_partitions, query_window
from laaffic_pipeline.defs.resources import LaafficApiResource, WarehouseResource
from laaffic_pipeline.warehouse.connection import WarehouseLockedError
from laaffic_pipeline.warehouse.landing import PartitionShrinkError, replace_raw_partition
from laaffic_pipeline.warehouse.schema_drift import SchemaDrift, schema_drift
from laaffic_pipeline.warehouse.sql import query_rows
from laaffic_pipeline.warehouse.staging import ONE_DUCKDB_AT_A_TIME, StagedNdjsonRead


@dataclass
class LandedDay:
    """What landing one day produced: the raw asset's metadata and the figures its checks judge."""

    metadata: dict[str, Any]
    page_figures: dict[str, Any]
    drift: SchemaDrift


@dataclass
class Landing:
    """Every day of a run: landed, or failed with a message (and whether a retry could help)."""

    landed: dict[str, LandedDay] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    retryable: bool = True
    requests: dict[str, int] = field(default_factory=dict)


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


def land_days(
    context: dg.AssetExecutionContext,
    laaffic: LaafficApiResource,
    duckdb: WarehouseResource,
    keys: list[str],
    *,
    allow_fewer_rows: bool,
    days_in_flight: int,
) -> Landing:
    """Fetch and land every day of ``keys``; a failed day never stops the others."""
    refuse_expired_days(keys, datetime.now(UTC))
    windows = {key: query_window(daily_partitions.time_window_for_partition_key(key)) for key in keys}
    database = Path(duckdb.database)
    database.parent.mkdir(parents=True, exist_ok=True)
    memory_limit = str(duckdb.connection_config.get("memory_limit", "1GB"))
    landing = Landing()
    context.log.info(f"Fetching {len(keys)} day(s), {days_in_flight} at a time: {laaffic.describe()}")

    def land(key: str, read: StableRead) -> LandedDay:
        window = windows[key]
        read.staged.figures()  # judged already (cached): the turn below is the landing's alone
        with ONE_DUCKDB_AT_A_TIME, duckdb.get_connection() as conn:
            landed = replace_raw_partition(
                conn,
                date.fromisoformat(key),
                read.staged,
                window.str_time,
                window.end_time,
                read.reads,
                allow_fewer_rows=allow_fewer_rows,
            )
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
                "rows_replaced": landed.rows_before,
                "dagster/row_count": landed.rows_after,
            },
            page_figures=figures,
            drift=drift,
        )

    async def fetch_all() -> None:
        day_slots = asyncio.Semaphore(days_in_flight)
        one_writer = asyncio.Lock()
        async with laaffic.client(context.log) as client:

            async def one(key: str) -> None:
                async with day_slots:
                    folder = Path(tempfile.mkdtemp(prefix=f"staging-{key}-", dir=database.parent))
                    try:
                        read = await read_stable_window(
                            client,
                            windows[key],
                            lambda number: StagedNdjsonRead(folder, number, memory_limit),
                            max_reads=laaffic.client_settings.max_reads,
                            log=context.log,
                        )
                        # The warehouse is locked only now: the whole day is fetched and verified.
                        async with one_writer:
                            landing.landed[key] = await asyncio.to_thread(land, key, read)
                    except (LaafficError, WarehouseLockedError) as error:
                        landing.failed[key] = str(error)
                        landing.retryable &= getattr(error, "retryable", True)
                    except PartitionShrinkError as error:
                        landing.failed[key] = str(error)
                        landing.retryable = False
                    finally:
                        shutil.rmtree(folder, ignore_errors=True)

            await asyncio.gather(*(one(key) for key in keys))
            landing.requests = {
                # The run's, shared by its days (one client fetches them all).
                "run_requests_sent": client.requests_sent,
                "run_request_retries": client.retries,
                "run_requests_throttled": client.throttled,
            }

    asyncio.run(fetch_all())
    context.log.info(
        f"Landed {len(landing.landed)} of {len(keys)} day(s) with {landing.requests['run_requests_sent']} "
        f"requests ({landing.requests['run_request_retries']} retried after an error, "
        f"{landing.requests['run_requests_throttled']} after HTTP 429)"
    )
    return landing
