-- Bulk-load the staged NDJSON of an accepted read whose records are all distinct (its figures
-- say so): a streaming insert, no window over the day, so memory stays flat for any day's size.
-- insert_raw_records.sql is the same load for a read that carried a record more than once.
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
);
