-- What a rebuild of the days $days (a DATE[]) of marts.daily_costs produced: one row per day.
WITH days AS (SELECT DISTINCT unnest($days::DATE[]) AS call_date)
SELECT days.call_date, count(costs.call_date) AS rows
FROM days
LEFT JOIN marts.daily_costs AS costs USING (call_date)
GROUP BY days.call_date
ORDER BY days.call_date;
