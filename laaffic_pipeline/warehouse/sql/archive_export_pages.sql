-- One landed day of raw.call_record_pages to a Parquet file at $path, every column as stored.
COPY (
    SELECT partition_date, page, reported_total, reported_pages, records_on_page, fetched_at, str_time, end_time, reads,
        sip_group_name
    FROM raw.call_record_pages
    WHERE partition_date = $partition_date
    ORDER BY sip_group_name, page
) TO $path (FORMAT parquet, COMPRESSION zstd);
