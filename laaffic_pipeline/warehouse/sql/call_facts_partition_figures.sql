-- What a rebuild of the days $days (a DATE[]) of marts.call_facts produced: one row per day, for
-- each day's metadata (a day without raw rows has a row of zeros).
WITH
    days AS (SELECT DISTINCT unnest($days::DATE[]) AS call_date),
    raw_days AS (
        SELECT partition_date AS call_date, count(*) AS raw_records
        FROM raw.call_records
        WHERE partition_date IN (SELECT call_date FROM days)
        GROUP BY partition_date
    ),
    -- Voice ids also returned by the previous day's window: their rows stay in that day.
    kept_in_previous AS (
        SELECT today.partition_date AS call_date, count(DISTINCT today.voice_id) AS voice_ids
        FROM raw.call_records AS today
        JOIN raw.call_records AS previous
            ON previous.partition_date = today.partition_date - 1 AND previous.voice_id = today.voice_id
        WHERE today.partition_date IN (SELECT call_date FROM days)
          AND previous.partition_date IN (SELECT call_date - 1 FROM days)
        GROUP BY today.partition_date
    ),
    facts AS (
        SELECT
            call_date,
            count(*) AS rows,
            count(*) FILTER (WHERE is_answered) AS answered_calls,
            count(*) FILTER (WHERE len(quality_flags) > 0) AS flagged_rows,
            count(*) FILTER (WHERE charged_duration_mismatch) AS charged_duration_mismatches,
            count(*) FILTER (WHERE cost_mismatch) AS cost_mismatches
        FROM marts.call_facts
        WHERE call_date IN (SELECT call_date FROM days)
        GROUP BY call_date
    )
SELECT
    days.call_date,
    coalesce(raw_days.raw_records, 0) AS raw_records,
    coalesce(facts.rows, 0) AS rows,
    coalesce(raw_days.raw_records, 0) - coalesce(facts.rows, 0) AS copies_dropped,
    coalesce(kept_in_previous.voice_ids, 0) AS kept_in_previous_day,
    coalesce(facts.answered_calls, 0) AS answered_calls,
    coalesce(facts.flagged_rows, 0) AS flagged_rows,
    coalesce(facts.charged_duration_mismatches, 0) AS charged_duration_mismatches,
    coalesce(facts.cost_mismatches, 0) AS cost_mismatches
FROM days
LEFT JOIN raw_days USING (call_date)
LEFT JOIN kept_in_previous USING (call_date)
LEFT JOIN facts USING (call_date)
ORDER BY days.call_date;
