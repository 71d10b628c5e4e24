-- Land the staged reads of a day (one per window) when a record came more than once, on two pages
-- of a read or in two windows' reads (a live table: a call may change group between the windows'
-- reads): each is kept once (its latest copy, by record_identity, with the window it came from);
-- every field of every record is kept as sent. No ORDER BY: sorting whole records would cost
-- memory; readers order by page, position.
INSERT INTO raw.call_records (partition_date, voice_id, record, page, position, fetched_at, sip_group_name)
SELECT $partition_date::DATE, voice_id, record, page, position, fetched_at, sip_group_name
FROM staged_window_records($records_paths::VARCHAR[], $sip_group_names::VARCHAR[])
QUALIFY row_number() OVER (
    PARTITION BY record_identity(record)
    ORDER BY fetched_at DESC, page DESC, position DESC
) = 1;
