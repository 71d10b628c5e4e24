-- One landed day of raw.call_records to a Parquet file at $path, every column as stored (record
-- as JSON text, fetched_at as a UTC timestamp), in the canonical order (page, position).
COPY (
    SELECT partition_date, voice_id, record, page, position, fetched_at, sip_group_name
    FROM raw.call_records
    WHERE partition_date = $partition_date
    ORDER BY sip_group_name, page, position
) TO $path (FORMAT parquet, COMPRESSION zstd);
