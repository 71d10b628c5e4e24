-- One day's per-currency roll-up, as shown on the daily_costs materialization.
SELECT currency, calls, answered_calls, asr, acd_s, total_cost, expected_cost, cost_difference
FROM marts.daily_costs_by_currency
WHERE call_date = $call_date
ORDER BY currency NULLS LAST;
