-- Before a provisional refresh of a day (its staged reads, one per window) is merged into the
-- stored day: remove the stored copies of the records it read again (same record_identity), and
-- the day's pages, which become the refresh's (the page check judges the window it read). Every
-- other stored record is kept, so a refresh of the last hour never loses the morning; the
-- refresh's records are then inserted as a whole landing inserts them (insert_raw_records).
DELETE FROM raw.call_records
WHERE partition_date = $partition_date::DATE
    AND coalesce(voice_id, record::VARCHAR) IN (
        SELECT record_identity(record)
        FROM staged_window_records($records_paths::VARCHAR[], $sip_group_names::VARCHAR[])
    );
DELETE FROM raw.call_record_pages WHERE partition_date = $partition_date::DATE;
