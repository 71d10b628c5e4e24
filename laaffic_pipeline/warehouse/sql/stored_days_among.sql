-- Which of $days the warehouse holds raw records or pages of (kept, not fetched, past retention;
-- not replaced by a restore unless told to).
SELECT partition_date FROM raw.call_records WHERE partition_date IN (SELECT unnest($days::DATE[]))
UNION
SELECT partition_date FROM raw.call_record_pages WHERE partition_date IN (SELECT unnest($days::DATE[]))
ORDER BY partition_date;
