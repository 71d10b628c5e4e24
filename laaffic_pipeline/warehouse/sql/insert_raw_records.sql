-- Bulk-load the staged NDJSON; a record repeated across pages is kept once (the latest copy).
INSERT INTO raw.call_records
SELECT
    $partition_date::DATE AS partition_date,
    NULLIF(record ->> 'voiceId', '') AS voice_id,
    record,
    page,
    position,
    fetched_at
FROM read_json(
    $staging_path,
    format = 'newline_delimited',
    columns = {page: 'INTEGER', position: 'INTEGER', fetched_at: 'TIMESTAMPTZ', record: 'JSON'}
)
QUALIFY row_number() OVER (
    PARTITION BY coalesce(NULLIF(record ->> 'voiceId', ''), record::VARCHAR)
    ORDER BY fetched_at DESC, page DESC, position DESC
) = 1
ORDER BY page, position;
