"""Stage a read of a window on disk as NDJSON, and judge it in DuckDB without holding it in Python.

Each read is two files in a staging folder: ``records-<n>.ndjson`` (one line per record:
``{"page", "position", "fetched_at", "record"}``) and ``pages-<n>.ndjson`` (one line per page:
what the API reported on it). DuckDB bulk-reads both in the landing transaction. Before that, the
read's figures and its comparison with the previous read are computed by an in-memory DuckDB
over the same files, so memory stays flat however large the day.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import duckdb
import orjson

from laaffic_pipeline.warehouse.consistency import page_count_problems
from laaffic_pipeline.warehouse.sql import query_rows, run_sql

DEFAULT_MEMORY_LIMIT = "256MB"
"""DuckDB's memory cap for the pipeline's work unless LAAFFIC_DUCKDB_MEMORY_LIMIT says otherwise."""


class Page(Protocol):
    """What a page of the API carries (the API client's page satisfies it)."""

    total: int
    pages: int
    records: list[dict[str, Any]]


def _json_line(value: dict[str, Any]) -> bytes:
    """One UTF-8 JSON line. orjson is ~7x faster than ``json``, which stays as the fallback for
    what orjson refuses (integers beyond 64 bits, which the API could send in a malformed record)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class StagedNdjsonRead:
    """One read of a window written to ``folder`` as it arrives; a page sink for the API client."""

    def __init__(self, folder: Path, read: int, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> None:
        self.records_path = folder / f"records-{read}.ndjson"
        self.pages_path = folder / f"pages-{read}.ndjson"
        self.records = 0
        self._memory_limit = memory_limit
        self._records: IO[bytes] | None = self.records_path.open("wb")
        self._pages: IO[bytes] | None = self.pages_path.open("wb")
        self._figures: dict[str, Any] | None = None

    def write_page(self, number: int, fetched_at: datetime, page: Page) -> None:
        assert self._records is not None and self._pages is not None, "staged read already closed"
        stamp = fetched_at.isoformat()
        self._records.writelines(
            _json_line({"page": number, "position": position, "fetched_at": stamp, "record": record})
            for position, record in enumerate(page.records)
        )
        self._pages.write(
            _json_line(
                {
                    "page": number,
                    "reported_total": page.total,
                    "reported_pages": page.pages,
                    "records_on_page": len(page.records),
                    "fetched_at": stamp,
                }
            )
        )
        self.records += len(page.records)

    def close(self) -> None:
        for handle in (self._records, self._pages):
            if handle is not None:
                handle.close()
        self._records = self._pages = None

    def discard(self) -> None:
        self.close()
        self.records_path.unlink(missing_ok=True)
        self.pages_path.unlink(missing_ok=True)

    def figures(self) -> dict[str, Any]:
        """The read's page-count figures (see ``sql/staged_read_figures.sql``), computed once."""
        if self._figures is None:
            with self._connect() as conn:
                (self._figures,) = query_rows(
                    conn,
                    "staged_read_figures",
                    {"records_path": str(self.records_path), "pages_path": str(self.pages_path)},
                )
        return self._figures

    def problems(self) -> list[str]:
        return page_count_problems(self.figures())

    def same_records(self, other: StagedNdjsonRead) -> bool:
        """Same reported total and the same records (by identity) as ``other``."""
        if self.figures()["reported_total"] != other.figures()["reported_total"]:
            return False
        with self._connect() as conn:
            (row,) = query_rows(
                conn,
                "staged_reads_differ",
                {"records_a": str(self.records_path), "records_b": str(other.records_path)},
            )
        return row["differing_records"] == 0

    def page_summary(self) -> Mapping[str, Any]:
        """Figures for the run's metadata: pages, reported total, records received."""
        figures = self.figures()
        return {
            "pages_fetched": figures["pages_fetched"],
            "reported_total": figures["reported_total"],
            "records_received": figures["records_received"],
        }

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB of its own in memory, capped like the warehouse's: judged one read at a time,
        by the thread that does all of a run's DuckDB work."""
        conn = duckdb.connect(
            config={
                "memory_limit": self._memory_limit,
                "allocator_flush_threshold": "32MB",
                "temp_directory": str(self.records_path.parent / "duckdb-spill"),
            }
        )
        run_sql(conn, "staged_read_macros")
        return conn
