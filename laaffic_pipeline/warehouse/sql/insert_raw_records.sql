-- Bulk-load the staged NDJSON of the accepted read (no ORDER BY: sorting whole records would cost
-- memory; readers order by page, position). A record the API repeated across pages is
-- kept once (its latest copy, by record_identity); every field of every record is kept as sent.
INSERT INTO raw.call_records
SELECT
    $partition_date::DATE AS partition_date,
    NULLIF(record ->> 'voiceId', '') AS voice_id,
    record,
    page,
    position,
    fetched_at
FROM read_json(
    $records_path,
    format = 'newline_delimited',
    columns = {page: 'INTEGER', position: 'INTEGER', fetched_at: 'TIMESTAMPTZ', record: 'JSON'}
)
QUALIFY row_number() OVER (
    PARTITION BY record_identity(record)
    ORDER BY fetched_at DESC, page DESC, position DESC
) = 1;
