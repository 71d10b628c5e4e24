-- One archived version of a day (its two Parquet files) into raw, after delete_raw_partition, in
-- the caller's transaction, which checks the restored rows against the manifest before it commits.
-- Columns are named, so the files' column order does not matter; rows keep the files' order.
INSERT INTO raw.call_records (partition_date, voice_id, record, page, position, fetched_at, sip_group_name)
SELECT partition_date, voice_id, record, page, position, fetched_at, sip_group_name
FROM read_parquet($records_path);

INSERT INTO raw.call_record_pages (
    partition_date, page, reported_total, reported_pages, records_on_page, fetched_at, str_time, end_time, reads,
    sip_group_name
)
SELECT partition_date, page, reported_total, reported_pages, records_on_page, fetched_at, str_time, end_time, reads,
    sip_group_name
FROM read_parquet($pages_path);
