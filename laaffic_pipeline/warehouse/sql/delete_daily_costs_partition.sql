DELETE FROM marts.daily_costs WHERE call_date = $call_date;
