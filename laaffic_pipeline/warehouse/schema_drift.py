"""Schema drift: which keys and JSON types the API actually sent on a day, against its document.

The document (recordSipQuery, "Response Parameters") lists 20 fields per record: two integers,
the rest strings. ``DOCUMENTED_FIELDS`` is that list, the one place it is written down; the
comparison itself is ``sql/check_raw_schema_drift.sql`` over ``raw.call_records.record``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from laaffic_pipeline.warehouse.sql import query_rows
from laaffic_pipeline.warehouse.tables import RAW_CALL_RECORDS

# Field -> documented JSON type ("Int" in the document is a JSON integer, "String" a JSON string).
DOCUMENTED_FIELDS: dict[str, str] = {
    "voiceId": "string",
    "sipGroupName": "string",
    "phoneName": "string",
    "callee": "string",
    "displayNum": "string",
    "code": "string",
    "submitTime": "string",
    "callTime": "string",
    "ringingTime": "string",
    "answerTime": "string",
    "hangupTime": "string",
    "callDuration": "integer",
    "chargedDuration": "integer",
    "terminationCode": "string",
    "terminationReason": "string",
    "cost": "string",
    "billPeriod": "string",
    "rate": "string",
    "recordingFileId": "string",
    "currency": "string",
}

DRIFT_KINDS = ("new_key", "missing_key", "type_change")


@dataclass(frozen=True)
class SchemaDrift:
    records: int  # records landed that day
    findings: list[dict[str, Any]]  # rows of check_raw_schema_drift.sql

    def by_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        """``{label: {records, example_voice_ids, ...}}`` for one kind; a type change's label is
        ``key: documented -> sent``."""
        found = {}
        for row in self.findings:
            if row["kind"] != kind:
                continue
            label = row["key"]
            if kind == "type_change":
                label = f"{row['key']}: {row['documented_type']} -> {row['sent_type']}"
            found[label] = {
                "records": row["records"],
                **({"sent_type": row["sent_type"]} if kind == "new_key" else {}),
                "example_voice_ids": list(row["example_voice_ids"] or []),
            }
        return found

    def summary(self) -> str:
        """One line: what drifted, or that nothing did."""
        if not self.findings:
            return f"the {self.records} records sent exactly the document's {len(DOCUMENTED_FIELDS)} fields"
        parts = [
            f"{kind.replace('_', ' ')}s: "
            + ", ".join(f"{label} ({v['records']})" for label, v in found.items())
            for kind in DRIFT_KINDS
            if (found := self.by_kind(kind))
        ]
        return f"of {self.records} records, " + "; ".join(parts)


def schema_drift(conn: duckdb.DuckDBPyConnection, day: date) -> SchemaDrift:
    """Compare ``day``'s raw records with ``DOCUMENTED_FIELDS``."""
    row = conn.execute(
        f"SELECT count(*) FROM {RAW_CALL_RECORDS} WHERE partition_date = $d", {"d": day}
    ).fetchone()
    findings = query_rows(
        conn,
        "check_raw_schema_drift",
        {
            "call_date": day,
            "documented_keys": list(DOCUMENTED_FIELDS),
            "documented_types": list(DOCUMENTED_FIELDS.values()),
        },
    )
    return SchemaDrift(records=int(row[0]) if row else 0, findings=findings)
