-- Land the staged read of a day whose records are all distinct (its figures say so): a streaming
-- insert, no window over the day, so memory stays flat for any day's size.
INSERT INTO raw.call_records
SELECT $partition_date::DATE, voice_id, record, page, position, fetched_at
FROM staged_records($records_path);
