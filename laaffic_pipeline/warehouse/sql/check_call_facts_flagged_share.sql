-- One day's facts: the share of rows with at least one quality flag, and rows per flag.
WITH
    day_flags AS (SELECT quality_flags FROM marts.call_facts WHERE call_date = $call_date),
    per_flag AS (
        SELECT flag, count(*) AS flagged_rows
        FROM (SELECT unnest(quality_flags) AS flag FROM day_flags)
        GROUP BY flag
    )
SELECT
    (SELECT count(*) FROM day_flags) AS rows,
    (SELECT count(*) FROM day_flags WHERE len(quality_flags) > 0) AS flagged_rows,
    (
        SELECT coalesce(list({'flag': flag, 'rows': flagged_rows} ORDER BY flagged_rows DESC, flag), [])
        FROM per_flag
    ) AS rows_per_flag;
