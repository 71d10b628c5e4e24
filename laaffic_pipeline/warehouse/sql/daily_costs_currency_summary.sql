-- The per-currency roll-up of the days $days (a DATE[]), as shown on each day's daily_costs
-- materialization; currency is the money's (call_facts.cost_currency).
SELECT call_date, currency, calls, answered_calls, asr, acd_s, total_cost, expected_cost, cost_difference
FROM marts.daily_costs_by_currency
WHERE call_date IN (SELECT unnest($days::DATE[]))
ORDER BY call_date, currency NULLS LAST;
