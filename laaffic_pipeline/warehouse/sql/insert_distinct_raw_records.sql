-- Land the staged reads of a day (one per window) whose records are all distinct, within each read
-- and across the windows (landing.py checks): a streaming insert, no window function over the day,
-- so memory stays flat for any day's size.
INSERT INTO raw.call_records (partition_date, voice_id, record, page, position, fetched_at, sip_group_name)
SELECT $partition_date::DATE, voice_id, record, page, position, fetched_at, sip_group_name
FROM staged_window_records($records_paths::VARCHAR[], $sip_group_names::VARCHAR[]);
