"""``raw/call_records``: fetch one local day from Laaffic and land it raw in DuckDB."""

import asyncio
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)
from dagster_duckdb import DuckDBResource
from pydantic import Field

from laaffic_pipeline.api.errors import LaafficError
from laaffic_pipeline.api.stable_read import StableRead, UnstableWindowError
from laaffic_pipeline.api.window import QueryWindow, WindowError
from laaffic_pipeline.defs.column_docs import RAW_CALL_RECORDS_SCHEMA
from laaffic_pipeline.defs.partitions import partition_window
from laaffic_pipeline.defs.resources import LaafficApiResource, WarehouseLockedError
from laaffic_pipeline.warehouse.landing import PartitionShrinkError, replace_raw_partition
from laaffic_pipeline.warehouse.staging import NdjsonStagingFile, stage_stable_window
from laaffic_pipeline.warehouse.tables import RAW_CALL_RECORDS

RAW_CALL_RECORDS_KEY = AssetKey(["raw", "call_records"])


class RawLandingConfig(Config):
    allow_fewer_rows: bool = Field(
        default=False,
        description="Replace a stored day even if the re-fetch has fewer records (e.g. API purged it).",
    )


def build_raw_call_records(partitions_def: DailyPartitionsDefinition, retry_policy: RetryPolicy) -> Any:
    @asset(
        key=RAW_CALL_RECORDS_KEY,
        partitions_def=partitions_def,
        group_name="raw",
        kinds={"duckdb"},
        description=(
            "Every call record Laaffic's recordSipQuery returns for the partition's local day, "
            "exactly as received (`raw.call_records`), plus one row per page fetched "
            "(`raw.call_record_pages`) so page-count consistency can be checked."
        ),
        metadata={"dagster/table_name": RAW_CALL_RECORDS, "dagster/column_schema": RAW_CALL_RECORDS_SCHEMA},
        retry_policy=retry_policy,
    )
    def raw_call_records(
        context: AssetExecutionContext,
        config: RawLandingConfig,
        laaffic: LaafficApiResource,
        duckdb: DuckDBResource,
    ) -> MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        window = partition_window(partitions_def, context.partition_key)
        try:
            window.check_retention(datetime.now(UTC))
        except WindowError as error:
            raise Failure(str(error), allow_retries=False) from None
        context.log.info(f"Fetching {day} as window {window}: {laaffic.describe()}")

        database = Path(duckdb.database)
        database.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"staging-{day}-", dir=database.parent) as staging:
            read, requests, retries = _fetch(laaffic, context, window, Path(staging))
            sink = read.sink
            assert isinstance(sink, NdjsonStagingFile)
            # The warehouse is locked only from here: the whole day is fetched and verified first.
            try:
                with duckdb.get_connection() as conn:
                    landed = replace_raw_partition(
                        conn,
                        day,
                        sink.path,
                        read.summary.pages,
                        window,
                        read.reads,
                        allow_fewer_rows=config.allow_fewer_rows,
                    )
            except PartitionShrinkError as error:
                raise Failure(str(error), allow_retries=False) from None
            except WarehouseLockedError as error:
                raise Failure(str(error)) from None  # the RetryPolicy fetches and tries again later

        summary = read.summary
        return MaterializeResult(
            metadata={
                "window": f"{window.str_time} .. {window.end_time}",
                "pages_fetched": len(summary.pages),
                "reported_total": summary.reported_total,
                "records_received": summary.records_received,
                "duplicates_dropped": summary.records_received - landed.rows_after,
                "reads": read.reads,
                "requests_sent": requests,
                "request_retries": retries,
                "read_problems": MetadataValue.json(read.history),
                "rows_replaced": landed.rows_before,
                "dagster/row_count": landed.rows_after,
            }
        )

    return raw_call_records


def _fetch(
    laaffic: LaafficApiResource, context: AssetExecutionContext, window: QueryWindow, staging: Path
) -> tuple[StableRead, int, int]:
    """Read the window until stable, staging each read on disk (an earlier read is discarded).

    Returns the read with the requests sent and retried to get it.
    """

    async def run() -> tuple[StableRead, int, int]:
        async with laaffic.client(context.log) as client:
            read = await stage_stable_window(
                client, window, staging, max_reads=laaffic.max_reads, log=context.log
            )
            return read, client.requests_sent, client.retries

    try:
        return asyncio.run(run())
    except UnstableWindowError:
        raise  # transient by nature: the asset's RetryPolicy tries again later
    except LaafficError as error:
        raise Failure(str(error), allow_retries=error.retryable) from None
