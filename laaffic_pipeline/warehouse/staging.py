"""Stage a read of a window on disk as NDJSON, and judge it in DuckDB without holding it in Python.

Each read is two files in a staging folder: ``records-<n>.ndjson`` (one line per record:
``{"page", "position", "fetched_at", "record"}``) and ``pages-<n>.ndjson`` (one line per page:
what the API reported on it). DuckDB bulk-reads both in the landing transaction. Before that, the
read's figures and its comparison with the previous read are computed by an in-memory DuckDB
over the same files, so memory stays flat however large the day. A run judging many reads hands
them one ``JudgingDatabase`` (opening a DuckDB costs tens of milliseconds, more than judging a
small read); a read without one opens a DuckDB of its own for each judgment.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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


def _judging_connection(memory_limit: str, spill: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB, capped like the warehouse's, with the staged-read macros."""
    conn = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "allocator_flush_threshold": "32MB",
            "temp_directory": str(spill),
        }
    )
    run_sql(conn, "staged_read_macros")
    return conn


class JudgingDatabase:
    """One in-memory DuckDB that judges a run's staged reads, one judgment at a time.

    Opened on its first judgment and closed by ``close``; whoever judges (the step's thread, which
    does all of a run's DuckDB work) is the only one to open, use and close it. It holds no table:
    each judgment reads its files and keeps nothing. It spills, if ever, under ``staging``.
    """

    def __init__(self, staging: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> None:
        self._staging = staging
        self._memory_limit = memory_limit
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._spill: Path | None = None

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._conn is None:
            self._spill = Path(tempfile.mkdtemp(prefix="judging-spill-", dir=self._staging))
            self._conn = _judging_connection(self._memory_limit, self._spill)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)
            self._spill = None


class StagedNdjsonRead:
    """One read of a window written to ``folder`` as it arrives; a page sink for the API client.
    Judged in ``judging`` when given, else in a DuckDB of its own for each judgment."""

    def __init__(
        self,
        folder: Path,
        read: int,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        judging: JudgingDatabase | None = None,
    ) -> None:
        self.records_path = folder / f"records-{read}.ndjson"
        self.pages_path = folder / f"pages-{read}.ndjson"
        self.records = 0
        self._memory_limit = memory_limit
        self._judging = judging
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

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The run's judging DuckDB, or one of its own in memory for this judgment: judged one
        read at a time, by the thread that does all of a run's DuckDB work."""
        if self._judging is not None:
            yield self._judging.connection()
            return
        with _judging_connection(self._memory_limit, self.records_path.parent / "duckdb-spill") as conn:
            yield conn
