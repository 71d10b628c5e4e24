-- The days $days (a DATE[]) of marts.daily_costs, before insert_daily_costs rebuilds them.
DELETE FROM marts.daily_costs WHERE call_date IN (SELECT unnest($days::DATE[]));
