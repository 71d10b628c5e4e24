"""Stage fetched pages on disk as NDJSON so a large day never sits in Python memory twice."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import IO

from laaffic_pipeline.api.models import CallRecord


class NdjsonStagingFile:
    """A page sink writing one line per record: ``{"page", "position", "fetched_at", "record"}``.

    DuckDB bulk-reads the file with ``read_json`` in the landing transaction.
    """

    def __init__(self, path: Path):
        self.path = path
        self.records = 0
        self._file: IO[str] | None = path.open("w", encoding="utf-8")

    def write_page(self, page: int, fetched_at: datetime, records: list[CallRecord]) -> None:
        assert self._file is not None, "staging file already closed"
        stamp = fetched_at.isoformat()
        self._file.writelines(
            json.dumps(
                {"page": page, "position": position, "fetched_at": stamp, "record": record},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            + "\n"
            for position, record in enumerate(records)
        )
        self.records += len(records)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
