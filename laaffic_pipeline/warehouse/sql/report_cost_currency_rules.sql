-- The LAAFFIC_COST_CURRENCY setting(s) the report's days of marts.call_facts were built with.
SELECT DISTINCT cost_currency_rule
FROM marts.call_facts
WHERE call_date BETWEEN $first_day AND $last_day
ORDER BY cost_currency_rule;
