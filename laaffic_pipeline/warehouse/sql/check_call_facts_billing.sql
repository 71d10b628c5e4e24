-- For each day of $days (a DATE[]), its facts: calls where Laaffic's chargedDuration or cost differ
-- from the bill-period rule, with up to 10 sample voice ids each, and calls that could not be
-- reconciled (a value unknown). One row per day (a day without facts: zeros).
WITH
    days AS (SELECT DISTINCT unnest($days::DATE[]) AS call_date),
    billing AS (
        SELECT
            call_date,
            count(*) AS rows,
            count(*) FILTER (WHERE charged_duration_mismatch) AS charged_duration_mismatches,
            count(*) FILTER (WHERE cost_mismatch) AS cost_mismatches,
            count(*) FILTER (WHERE charged_duration_mismatch IS NULL OR cost_mismatch IS NULL) AS unreconciled_rows,
            coalesce(
                list(voice_id ORDER BY voice_id) FILTER (WHERE charged_duration_mismatch AND voice_id IS NOT NULL), []
            )[1:10] AS sample_charged_duration_mismatches,
            coalesce(
                list(voice_id ORDER BY voice_id) FILTER (WHERE cost_mismatch AND voice_id IS NOT NULL), []
            )[1:10] AS sample_cost_mismatches
        FROM marts.call_facts
        WHERE call_date IN (SELECT call_date FROM days)
        GROUP BY call_date
    )
SELECT
    days.call_date,
    coalesce(rows, 0) AS rows,
    coalesce(charged_duration_mismatches, 0) AS charged_duration_mismatches,
    coalesce(cost_mismatches, 0) AS cost_mismatches,
    coalesce(unreconciled_rows, 0) AS unreconciled_rows,
    coalesce(sample_charged_duration_mismatches, []) AS sample_charged_duration_mismatches,
    coalesce(sample_cost_mismatches, []) AS sample_cost_mismatches
FROM days
LEFT JOIN billing USING (call_date)
ORDER BY days.call_date;
