-- For each day of $days (a DATE[]), its facts: rows without a voice id, and the day's voice ids
-- stored more than once anywhere in marts.call_facts (another day included). One row per day.
WITH
    days AS (SELECT DISTINCT unnest($days::DATE[]) AS call_date),
    day_facts AS (
        SELECT call_date, voice_id FROM marts.call_facts WHERE call_date IN (SELECT call_date FROM days)
    ),
    repeated AS (
        SELECT voice_id, count(*) AS copies, list(DISTINCT call_date ORDER BY call_date) AS days
        FROM marts.call_facts
        WHERE voice_id IN (SELECT voice_id FROM day_facts)
        GROUP BY voice_id
        HAVING count(*) > 1
    ),
    facts_per_day AS (
        SELECT call_date, count(*) AS rows, count(*) FILTER (WHERE voice_id IS NULL) AS rows_without_voice_id
        FROM day_facts
        GROUP BY call_date
    ),
    repeated_per_day AS (
        SELECT
            d.call_date,
            count(*) AS repeated_voice_ids,
            sum(r.copies) AS rows_with_repeated_voice_id,
            list(r.voice_id || ' on ' || array_to_string(r.days, ', ') ORDER BY r.voice_id)[1:10]
                AS sample_repeated_voice_ids
        FROM (SELECT DISTINCT call_date, voice_id FROM day_facts) AS d
        JOIN repeated AS r USING (voice_id)
        GROUP BY d.call_date
    )
SELECT
    days.call_date,
    coalesce(f.rows, 0) AS rows,
    coalesce(f.rows_without_voice_id, 0) AS rows_without_voice_id,
    coalesce(r.repeated_voice_ids, 0) AS repeated_voice_ids,
    coalesce(r.rows_with_repeated_voice_id, 0)::BIGINT AS rows_with_repeated_voice_id,
    coalesce(r.sample_repeated_voice_ids, []) AS sample_repeated_voice_ids
FROM days
LEFT JOIN facts_per_day AS f USING (call_date)
LEFT JOIN repeated_per_day AS r USING (call_date)
ORDER BY days.call_date;
