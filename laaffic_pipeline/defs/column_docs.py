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


def _column(name: str, type_: str, description: str) -> TableColumn:
    return TableColumn(name, type_, description=description)


CALL_FACTS_SCHEMA = TableSchema(
    columns=[
        _column("call_date", "DATE", "Partition (local day) whose API window returned the call."),
        _column(
            "voice_id", "VARCHAR", "voiceId: one row per id in the table; NULL only if the API sent none."
        ),
        _column("sip_group_name", "VARCHAR", "sipGroupName: the phone group (department)."),
        _column("phone_name", "VARCHAR", "phoneName: the SIP phone that placed the call."),
        _column("callee", "VARCHAR", "callee: the number called."),
        _column("display_num", "VARCHAR", "displayNum: the caller id shown."),
        _column("code", "VARCHAR", "code: operator's area as sent, e.g. 'Afghanistan(Kandahar)'."),
        _column("country", "VARCHAR", "code before the parentheses ('Afghanistan'); the whole code if none."),
        _column("region", "VARCHAR", "code inside the parentheses ('Kandahar'); NULL when there are none."),
        _column("submit_time", "TIMESTAMPTZ", "submitTime as an instant (its offset honoured)."),
        _column("call_time", "TIMESTAMPTZ", "callTime as an instant."),
        _column("ringing_time", "TIMESTAMPTZ", "ringingTime; NULL when the phone never rang."),
        _column("answer_time", "TIMESTAMPTZ", "answerTime; NULL when the call was not answered."),
        _column("hangup_time", "TIMESTAMPTZ", "hangupTime as an instant."),
        _column("call_duration_s", "INTEGER", "callDuration in seconds."),
        _column("charged_duration_s", "INTEGER", "chargedDuration: the seconds Laaffic charged."),
        _column("termination_code", "VARCHAR", "terminationCode: SIP code; 200 = established."),
        _column("termination_reason", "VARCHAR", "terminationReason: the SIP code's description."),
        _column("is_answered", "BOOLEAN", "termination_code = '200'; NULL when the code is missing."),
        _column("cost", "DECIMAL(18,6)", "cost: what Laaffic billed, in currency (exact decimal)."),
        _column("rate", "DECIMAL(18,6)", "rate: price per minute, in currency."),
        _column("currency", "VARCHAR", "currency: ISO code the call is priced in (upper case)."),
        _column("bill_period", "VARCHAR", "billPeriod 'a+b': first a seconds, then b-second increments."),
        _column("bill_initial_s", "INTEGER", "a of billPeriod: the minimum charged seconds."),
        _column("bill_increment_s", "INTEGER", "b of billPeriod: seconds per increment after the first a."),
        _column("recording_file_id", "VARCHAR", "recordingFileId; NULL when nothing was recorded."),
        _column("ring_s", "INTEGER", "answer_time - ringing_time in seconds."),
        _column("post_dial_delay_s", "INTEGER", "ringing_time - call_time in seconds."),
        _column("talk_s", "INTEGER", "hangup_time - answer_time in seconds."),
        _column(
            "expected_charged_s",
            "INTEGER",
            "Charged seconds by the bill period's rule: 0 if d = 0, a if d <= a, else a + ceil((d-a)/b)*b.",
        ),
        _column(
            "expected_cost", "DECIMAL(18,6)", "rate x expected_charged_s / 60, rounded half-up to 6 places."
        ),
        _column("charged_duration_mismatch", "BOOLEAN", "charged_duration_s <> expected_charged_s."),
        _column(
            "cost_mismatch",
            "BOOLEAN",
            "|cost - expected_cost| > 0.000001 (one micro-unit tolerated for rounding conventions).",
        ),
        _column(
            "quality_flags",
            "VARCHAR[]",
            "One name per problem (missing_<field>, invalid_<field>, <duration>_as_string); [] when clean.",
        ),
        _column("fetched_at", "TIMESTAMPTZ", "When the raw page carrying the record was received."),
    ]
)

DAILY_COSTS_SCHEMA = TableSchema(
    columns=[
        _column("call_date", "DATE", "Partition day of the calls."),
        _column("sip_group_name", "VARCHAR", "Phone group."),
        _column("phone_name", "VARCHAR", "Phone."),
        _column("country", "VARCHAR", "Destination country (from code)."),
        _column("currency", "VARCHAR", "Currency of every money column on the row: never summed across."),
        _column("calls", "BIGINT", "Calls."),
        _column("answered_calls", "BIGINT", "Calls with termination code 200."),
        _column("asr", "DOUBLE", "Answer-seizure ratio: answered_calls / calls."),
        _column("call_seconds", "BIGINT", "Sum of call_duration_s."),
        _column("charged_seconds", "BIGINT", "Sum of charged_duration_s (Laaffic's)."),
        _column("expected_charged_seconds", "BIGINT", "Sum of expected_charged_s (the bill-period rule)."),
        _column("talk_seconds", "BIGINT", "Sum of talk_s over answered calls."),
        _column("talk_timed_calls", "BIGINT", "Answered calls whose talk_s is known (acd_s's denominator)."),
        _column("acd_s", "DOUBLE", "Average call duration: talk_seconds / talk_timed_calls."),
        _column("post_dial_delay_seconds", "BIGINT", "Sum of post_dial_delay_s."),
        _column("post_dial_delay_calls", "BIGINT", "Calls whose post_dial_delay_s is known."),
        _column("avg_post_dial_delay_s", "DOUBLE", "post_dial_delay_seconds / post_dial_delay_calls."),
        _column("total_cost", "DECIMAL(38,6)", "Sum of Laaffic's cost."),
        _column("expected_cost", "DECIMAL(38,6)", "Sum of expected_cost."),
        _column(
            "cost_difference",
            "DECIMAL(38,6)",
            "Sum of cost - expected_cost over calls where both are known (see unpriced_calls).",
        ),
        _column("unpriced_calls", "BIGINT", "Calls whose cost or expected_cost is unknown."),
        _column("cost_mismatch_calls", "BIGINT", "Calls with cost_mismatch."),
        _column("flagged_calls", "BIGINT", "Calls with at least one quality flag."),
    ]
)
