-- Merge a provisional refresh of a day (its staged reads, one per window) into the stored day: a
-- record read again replaces its stored copy (same record_identity), every other stored record is
-- kept, so a refresh of the last hour never loses the morning. A record that came twice in the
-- refresh is kept once (its latest copy), as a whole landing keeps it.
DELETE FROM raw.call_records
WHERE partition_date = $partition_date::DATE
    AND coalesce(voice_id, record::VARCHAR) IN (
        SELECT record_identity(record)
        FROM staged_window_records($records_paths::VARCHAR[], $sip_group_names::VARCHAR[])
    );
INSERT INTO raw.call_records (partition_date, voice_id, record, page, position, fetched_at, sip_group_name)
SELECT $partition_date::DATE, voice_id, record, page, position, fetched_at, sip_group_name
FROM staged_window_records($records_paths::VARCHAR[], $sip_group_names::VARCHAR[])
QUALIFY row_number() OVER (
    PARTITION BY record_identity(record)
    ORDER BY fetched_at DESC, page DESC, position DESC
) = 1;
-- The pages stored for a provisional day are its latest refresh's: the page check judges the
-- window that refresh read.
DELETE FROM raw.call_record_pages WHERE partition_date = $partition_date::DATE;
