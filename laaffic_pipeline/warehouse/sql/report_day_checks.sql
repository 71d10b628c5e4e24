-- Per day of the period: whether it was landed in raw and built into the marts, and the marts'
-- own counts behind the warning checks (billing_reconciles, flagged_share_below_threshold).
WITH
    landed AS (
        SELECT DISTINCT partition_date AS call_date
        FROM raw.call_record_pages
        WHERE partition_date BETWEEN $first_day AND $last_day
    ),
    built AS (
        SELECT
            call_date,
            count(*) AS calls,
            count(*) FILTER (WHERE charged_duration_mismatch) AS charged_duration_mismatches,
            count(*) FILTER (WHERE cost_mismatch) AS cost_mismatches,
            count(*) FILTER (WHERE len(quality_flags) > 0) AS flagged_calls
        FROM marts.call_facts
        WHERE call_date BETWEEN $first_day AND $last_day
        GROUP BY call_date
    )
SELECT
    call_date,
    landed.call_date IS NOT NULL AS landed,
    built.call_date IS NOT NULL AS built,
    coalesce(built.calls, 0) AS calls,
    coalesce(built.charged_duration_mismatches, 0) AS charged_duration_mismatches,
    coalesce(built.cost_mismatches, 0) AS cost_mismatches,
    coalesce(built.flagged_calls, 0) AS flagged_calls
FROM landed
FULL JOIN built USING (call_date)
ORDER BY call_date;
