DELETE FROM raw.call_records WHERE partition_date = $partition_date;
DELETE FROM raw.call_record_pages WHERE partition_date = $partition_date;
