-- One day's facts: calls where Laaffic's chargedDuration or cost differ from the bill-period rule,
-- with up to 10 sample voice ids each, and calls that could not be reconciled (a value unknown).
SELECT
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
WHERE call_date = $call_date;
