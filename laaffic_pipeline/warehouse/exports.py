"""Parquet copies of the marts, one file per table and day, for readers who must not open the warehouse.

DuckDB lets one process hold the warehouse file, and even an analyst's read-only connection keeps
the pipeline's writes out. BI tools and notebooks read these files instead:
``<warehouse directory>/exports/<table>/call_date=YYYY-MM-DD.parquet`` (``data/exports/`` by
default). Each file is written whole under a temporary name beside it, then renamed over the old
one (``os.replace``, atomic within a filesystem), so a reader sees the previous file or the new one,
never part of one. Every file carries its ``call_date`` column: a folder of them reads as one table.
"""

from __future__ import annotations

import os
import uuid
from datetime import date
from pathlib import Path

import duckdb

from laaffic_pipeline.warehouse.sql import run_sql
from laaffic_pipeline.warehouse.tables import MARTS_CALL_FACTS, MARTS_DAILY_COSTS

EXPORT_STATEMENTS = {
    MARTS_CALL_FACTS: "export_call_facts_partition",
    MARTS_DAILY_COSTS: "export_daily_costs_partition",
}


def exports_dir(database: str | os.PathLike[str]) -> Path:
    """Where the exports of the warehouse file ``database`` go: ``exports/`` beside it."""
    return Path(database).parent / "exports"


def export_path(exports: Path, table: str, day: date) -> Path:
    """``<exports>/<table without schema>/call_date=YYYY-MM-DD.parquet``."""
    return exports / table.split(".")[-1] / f"call_date={day.isoformat()}.parquet"


def export_partition(conn: duckdb.DuckDBPyConnection, table: str, day: date, exports: Path) -> Path:
    """Replace ``day``'s Parquet file of ``table`` with the rows committed now; returns its path.

    A day without rows still gets a file (with the table's columns and no rows), so a rebuild that
    emptied a day never leaves its old rows readable.
    """
    final = export_path(exports, table, day)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Ends in .tmp, not .parquet: a reader's `*.parquet` glob never picks up a file being written.
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        run_sql(conn, EXPORT_STATEMENTS[table], {"call_date": day, "path": str(temporary)})
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return final
