-- For each day of $days (a DATE[]): the share of its facts with at least one quality flag, and
-- rows per flag. One row per day (a day without facts: zeros).
WITH
    days AS (SELECT DISTINCT unnest($days::DATE[]) AS call_date),
    day_flags AS (
        SELECT call_date, quality_flags
        FROM marts.call_facts
        WHERE call_date IN (SELECT call_date FROM days)
    ),
    shares AS (
        SELECT call_date, count(*) AS rows, count(*) FILTER (WHERE len(quality_flags) > 0) AS flagged_rows
        FROM day_flags
        GROUP BY call_date
    ),
    per_flag AS (
        SELECT call_date, flag, count(*) AS flagged_rows
        FROM (SELECT call_date, unnest(quality_flags) AS flag FROM day_flags)
        GROUP BY call_date, flag
    ),
    flags AS (
        SELECT call_date, list({'flag': flag, 'rows': flagged_rows} ORDER BY flagged_rows DESC, flag) AS rows_per_flag
        FROM per_flag
        GROUP BY call_date
    )
SELECT
    days.call_date,
    coalesce(shares.rows, 0) AS rows,
    coalesce(shares.flagged_rows, 0) AS flagged_rows,
    coalesce(flags.rows_per_flag, []) AS rows_per_flag
FROM days
LEFT JOIN shares USING (call_date)
LEFT JOIN flags USING (call_date)
ORDER BY days.call_date;
