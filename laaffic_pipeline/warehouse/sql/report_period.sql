-- The report's period: the $days days up to the latest day landed in raw or built into the marts
-- (a day whose page check failed is landed but not built: it still belongs in the report).
WITH latest AS (
    SELECT greatest(
        (SELECT max(call_date) FROM marts.daily_costs),
        (SELECT max(partition_date) FROM raw.call_record_pages)
    ) AS day
)
SELECT day - ($days::INTEGER - 1) AS first_day, day AS last_day
FROM latest
WHERE day IS NOT NULL;
