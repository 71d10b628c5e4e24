-- The LAAFFIC_COST_CURRENCY setting(s) the report's days of marts.call_facts were built with.
SELECT DISTINCT cost_currency_rule
FROM marts.call_facts
WHERE call_date > (SELECT max(call_date) FROM marts.daily_costs) - $days::INTEGER
ORDER BY cost_currency_rule;
