-- The report's figures: per day and the currency the money is in (LAAFFIC_COST_CURRENCY), over
-- the warehouse's last $days days of marts.
SELECT call_date, currency, calls, answered_calls, asr, total_cost, expected_cost
FROM marts.daily_costs_by_currency
WHERE call_date > (SELECT max(call_date) FROM marts.daily_costs) - $days::INTEGER
ORDER BY call_date, currency NULLS LAST;
