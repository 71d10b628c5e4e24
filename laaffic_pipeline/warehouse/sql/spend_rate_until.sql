-- Up to when the provisional day $call_date was read (raw.provisional_days.read_until) and that
-- instant's local wall-clock time: the latest refresh's window end exactly as sent (its pages'
-- end_time, e.g. '2026-05-01T14:30:00+02:00' reads 14:30). No row: the day is final.
SELECT
    p.read_until,
    min(strptime(left(pages.end_time, 19), '%Y-%m-%dT%H:%M:%S')) AS local_until
FROM raw.provisional_days AS p
LEFT JOIN raw.call_record_pages AS pages
    ON pages.partition_date = p.partition_date AND pages.end_time::TIMESTAMPTZ = p.read_until
WHERE p.partition_date = $call_date::DATE
GROUP BY p.read_until;
