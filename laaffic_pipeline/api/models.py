"""Typed views of the API's pages; records stay plain dicts so no field is ever lost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from laaffic_pipeline.api.errors import LaafficResponseError, error_for_status, excerpt

CallRecord = dict[str, Any]
"""One CDR exactly as received: the documented fields plus any the API adds later."""


@dataclass(frozen=True)
class CallRecordPage:
    """One page of ``data``: the paging figures the API reported and the records it returned."""

    total: int
    size: int
    current: int
    pages: int
    search_count: bool | None
    records: list[CallRecord]


def parse_response(payload: Any, body: str) -> CallRecordPage:
    """Turn a decoded response into a page, or raise the typed error its ``status`` stands for."""

    def shape_error(problem: str) -> LaafficResponseError:
        return LaafficResponseError(problem, excerpt(body))

    def int_field(name: str) -> int:
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise shape_error(f"data.{name} should be an integer, got {value!r:.80}")
        return value

    if not isinstance(payload, dict):
        raise shape_error("the body is not a JSON object")
    if "status" not in payload:
        raise shape_error("the body has no 'status'")
    status = str(payload["status"])
    if status != "0":
        raise error_for_status(status, str(payload.get("reason", "")))
    data = payload.get("data")
    if not isinstance(data, dict):
        raise shape_error("status is 0 but 'data' is missing or not an object")
    records = data.get("records")
    if not isinstance(records, list):
        raise shape_error("data.records should be a list")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise shape_error(f"data.records[{index}] should be an object, got {record!r:.80}")
    search_count = data.get("searchCount")
    return CallRecordPage(
        total=int_field("total"),
        size=int_field("size"),
        current=int_field("current"),
        pages=int_field("pages"),
        search_count=search_count if isinstance(search_count, bool) else None,
        records=records,
    )
