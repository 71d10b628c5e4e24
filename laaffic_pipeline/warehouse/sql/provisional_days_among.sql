-- Which of $days are provisional, with the end of their latest refresh's window.
SELECT partition_date, read_until, refreshes
FROM raw.provisional_days
WHERE partition_date IN (SELECT unnest($days::DATE[]))
ORDER BY partition_date;
