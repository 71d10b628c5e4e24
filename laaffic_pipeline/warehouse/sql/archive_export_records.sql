-- One landed day of raw.call_records to a Parquet file at $path, every column as stored (record
-- as JSON text, fetched_at as a UTC timestamp), in the canonical order (page, position). Row groups
-- of 16,384 rows: the writer buffers a whole row group, and DuckDB's default (122,880 rows, ~70 MB
-- of records) ran a 200,000-call day out of the 256MB memory limit.
COPY (
    SELECT partition_date, voice_id, record, page, position, fetched_at, sip_group_name
    FROM raw.call_records
    WHERE partition_date = $partition_date
    ORDER BY sip_group_name, page, position
) TO $path (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 16384);
