DELETE FROM raw.call_records WHERE partition_date = $partition_date;
DELETE FROM raw.call_record_pages WHERE partition_date = $partition_date;
-- A day replaced whole by a final read is final.
DELETE FROM raw.provisional_days WHERE partition_date = $partition_date;
