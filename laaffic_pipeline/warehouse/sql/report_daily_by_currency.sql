-- The report's figures: per day of the period and the currency the money is in
-- (LAAFFIC_COST_CURRENCY).
SELECT call_date, currency, calls, answered_calls, asr, total_cost, expected_cost, cost_difference
FROM marts.daily_costs_by_currency
WHERE call_date BETWEEN $first_day AND $last_day
ORDER BY call_date, currency NULLS LAST;
