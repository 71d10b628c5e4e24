-- What one rebuild of a day of marts.daily_costs produced, for the asset's metadata.
SELECT count(*) AS rows FROM marts.daily_costs WHERE call_date = $call_date;
