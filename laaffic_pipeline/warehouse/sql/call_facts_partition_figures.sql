-- What one rebuild of a day of marts.call_facts produced, for the asset's metadata.
WITH
    raw_day AS (SELECT voice_id FROM raw.call_records WHERE partition_date = $call_date),
    facts AS (SELECT * FROM marts.call_facts WHERE call_date = $call_date)
SELECT
    (SELECT count(*) FROM raw_day) AS raw_records,
    (SELECT count(*) FROM facts) AS rows,
    (SELECT count(*) FROM raw_day) - (SELECT count(*) FROM facts) AS copies_dropped,
    (
        SELECT count(DISTINCT voice_id)
        FROM raw_day
        WHERE voice_id IN (
            SELECT voice_id FROM raw.call_records WHERE partition_date = $call_date::DATE - 1
        )
    ) AS kept_in_previous_day,
    (SELECT count(*) FROM facts WHERE is_answered) AS answered_calls,
    (SELECT count(*) FROM facts WHERE len(quality_flags) > 0) AS flagged_rows,
    (SELECT count(*) FROM facts WHERE charged_duration_mismatch) AS charged_duration_mismatches,
    (SELECT count(*) FROM facts WHERE cost_mismatch) AS cost_mismatches;
