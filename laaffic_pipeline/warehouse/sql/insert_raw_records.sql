-- Land the staged read of a day that carried a record more than once: each is kept once (its
-- latest copy, by record_identity); every field of every record is kept as sent. No ORDER BY:
-- sorting whole records would cost memory; readers order by page, position.
INSERT INTO raw.call_records
SELECT $partition_date::DATE, voice_id, record, page, position, fetched_at
FROM staged_records($records_path)
QUALIFY row_number() OVER (
    PARTITION BY record_identity(record)
    ORDER BY fetched_at DESC, page DESC, position DESC
) = 1;
