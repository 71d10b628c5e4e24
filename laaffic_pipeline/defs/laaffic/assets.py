"""``raw/call_records``: fetch one local day from Laaffic and land it raw in DuckDB.

This is where the API library and the warehouse meet: the client reads the day's window until
it holds still, each read staged on disk by the warehouse, and the accepted read replaces the
partition in one transaction.
"""

import asyncio
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from laaffic_pipeline.api.errors import LaafficError
from laaffic_pipeline.api.stable_read import StableRead, UnstableWindowError, read_stable_window
from laaffic_pipeline.api.window import QueryWindow, WindowError
from laaffic_pipeline.defs.column_docs import RAW_CALL_RECORDS_SCHEMA
from laaffic_pipeline.defs.partitions import daily_partitions, query_window
from laaffic_pipeline.defs.resources import LaafficApiResource, WarehouseResource
from laaffic_pipeline.settings import load_settings
from laaffic_pipeline.warehouse.connection import WarehouseLockedError
from laaffic_pipeline.warehouse.landing import PartitionShrinkError, replace_raw_partition
from laaffic_pipeline.warehouse.staging import StagedNdjsonRead
from laaffic_pipeline.warehouse.tables import RAW_CALL_RECORDS

RAW_CALL_RECORDS_KEY = dg.AssetKey(["raw", "call_records"])


class RawLandingConfig(dg.Config):
    allow_fewer_rows: bool = Field(
        default=False,
        description="Replace a stored day even if the re-fetch has fewer records (e.g. API purged it).",
    )


@dg.asset(
    key=RAW_CALL_RECORDS_KEY,
    partitions_def=daily_partitions,
    group_name="raw",
    kinds={"duckdb"},
    description=(
        "Every distinct call record Laaffic's recordSipQuery returns for the partition's local day "
        "(`raw.call_records`; every field kept as sent, a record repeated across pages kept once), "
        "plus one row per page fetched (`raw.call_record_pages`) so page-count consistency can be "
        "checked."
    ),
    metadata={"dagster/table_name": RAW_CALL_RECORDS, "dagster/column_schema": RAW_CALL_RECORDS_SCHEMA},
    # Re-runs the fetch when a failure outlived the client's own retries (e.g. an outage).
    retry_policy=dg.RetryPolicy(
        max_retries=load_settings().step_retries,
        delay=load_settings().step_retry_delay_s,
        backoff=dg.Backoff.EXPONENTIAL,
    ),
)
def raw_call_records(
    context: dg.AssetExecutionContext,
    config: RawLandingConfig,
    laaffic: LaafficApiResource,
    duckdb: WarehouseResource,
) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    window = query_window(context.partition_time_window)
    try:
        window.check_retention(datetime.now(UTC))
    except WindowError as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    context.log.info(f"Fetching {day} as window {window}: {laaffic.describe()}")

    database = Path(duckdb.database)
    database.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"staging-{day}-", dir=database.parent) as staging:
        read, requests = fetch_stable_read(laaffic, duckdb, context, window, Path(staging))
        # The warehouse is locked only from here: the whole day is fetched and verified first.
        try:
            with duckdb.get_connection() as conn:
                landed = replace_raw_partition(
                    conn,
                    day,
                    read.staged,
                    window.str_time,
                    window.end_time,
                    read.reads,
                    allow_fewer_rows=config.allow_fewer_rows,
                )
        except PartitionShrinkError as error:
            raise dg.Failure(str(error), allow_retries=False) from None
        except WarehouseLockedError as error:
            raise dg.Failure(str(error)) from None  # the RetryPolicy fetches and tries again later
        summary = read.staged.page_summary()

    return dg.MaterializeResult(
        metadata={
            "window": f"{window.str_time} .. {window.end_time}",
            **summary,
            "duplicates_dropped": summary["records_received"] - landed.rows_after,
            "reads": read.reads,
            **requests,
            "read_problems": dg.MetadataValue.json(read.history),
            "rows_replaced": landed.rows_before,
            "dagster/row_count": landed.rows_after,
        }
    )


def fetch_stable_read(
    laaffic: LaafficApiResource,
    duckdb: WarehouseResource,
    context: dg.AssetExecutionContext,
    window: QueryWindow,
    staging: Path,
) -> tuple[StableRead, dict[str, int]]:
    """Read the window until stable, each read staged in ``staging`` (an earlier read is deleted).

    Returns the accepted read and the request counts it took.
    """
    memory_limit = str(duckdb.connection_config.get("memory_limit", "1GB"))
    reads: list[StagedNdjsonRead] = []

    def new_read(number: int) -> StagedNdjsonRead:
        for old in reads[:-1]:  # keep the previous read: the new one is compared with it
            old.discard()
        reads.append(StagedNdjsonRead(staging, number, memory_limit))
        return reads[-1]

    async def run() -> tuple[StableRead, dict[str, int]]:
        async with laaffic.client(context.log) as client:
            read = await read_stable_window(
                client, window, new_read, max_reads=laaffic.client_settings.max_reads, log=context.log
            )
            counts = {
                "requests_sent": client.requests_sent,
                "request_retries": client.retries,
                "requests_throttled": client.throttled,
            }
            return read, counts

    try:
        return asyncio.run(run())
    except UnstableWindowError:
        raise  # transient by nature: the asset's RetryPolicy tries again later
    except LaafficError as error:
        raise dg.Failure(str(error), allow_retries=error.retryable) from None
