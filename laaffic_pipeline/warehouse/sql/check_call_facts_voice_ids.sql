-- One day's facts: rows without a voice id, and this day's voice ids stored more than once
-- anywhere in marts.call_facts (another day included).
WITH
    day_facts AS (SELECT voice_id FROM marts.call_facts WHERE call_date = $call_date),
    repeated AS (
        SELECT voice_id, count(*) AS copies, list(DISTINCT call_date ORDER BY call_date) AS days
        FROM marts.call_facts
        WHERE voice_id IN (SELECT voice_id FROM day_facts)
        GROUP BY voice_id
        HAVING count(*) > 1
    )
SELECT
    (SELECT count(*) FROM day_facts) AS rows,
    (SELECT count(*) FROM day_facts WHERE voice_id IS NULL) AS rows_without_voice_id,
    (SELECT count(*) FROM repeated) AS repeated_voice_ids,
    (SELECT coalesce(sum(copies), 0) FROM repeated)::BIGINT AS rows_with_repeated_voice_id,
    (
        SELECT coalesce(list(voice_id || ' on ' || array_to_string(days, ', ') ORDER BY voice_id), [])[1:10]
        FROM repeated
    ) AS sample_repeated_voice_ids;
