"""Column descriptions shown in the Dagster UI (``dagster/column_schema``) for each table."""

from __future__ import annotations

from dagster import TableColumn, TableSchema

RAW_CALL_RECORDS_SCHEMA = TableSchema(
    columns=[
        TableColumn("partition_date", "DATE", description="Local day whose API window returned the record."),
        TableColumn("voice_id", "VARCHAR", description="record->>'voiceId'; NULL when the API sent none."),
        TableColumn("record", "JSON", description="The record exactly as received, every field kept."),
        TableColumn("page", "INTEGER", description="Page number that carried the record."),
        TableColumn("position", "INTEGER", description="Index of the record within its page."),
        TableColumn("fetched_at", "TIMESTAMPTZ", description="When that page was received."),
    ]
)

RAW_CALL_RECORD_PAGES_SCHEMA = TableSchema(
    columns=[
        TableColumn("partition_date", "DATE", description="Local day of the window."),
        TableColumn("page", "INTEGER", description="Page number (current)."),
        TableColumn("reported_total", "INTEGER", description="data.total reported on this page."),
        TableColumn("reported_pages", "INTEGER", description="data.pages reported on this page."),
        TableColumn("records_on_page", "INTEGER", description="Records the page carried."),
        TableColumn("fetched_at", "TIMESTAMPTZ", description="When the page was received."),
        TableColumn("str_time", "VARCHAR", description="Window start exactly as sent."),
        TableColumn("end_time", "VARCHAR", description="Window end exactly as sent."),
        TableColumn("reads", "INTEGER", description="Reads of the window needed for a stable result."),
    ]
)
