-- The period's totals per currency (the money's): never added across currencies; ASR recomputed
-- from the summed parts; counts back to BIGINT (a sum of BIGINT is HUGEINT).
SELECT
    currency,
    count(DISTINCT call_date)::BIGINT AS days,
    sum(calls)::BIGINT AS calls,
    sum(answered_calls)::BIGINT AS answered_calls,
    sum(answered_calls) / sum(calls) AS asr,
    sum(total_cost) AS total_cost,
    sum(expected_cost) AS expected_cost,
    sum(cost_difference) AS cost_difference
FROM marts.daily_costs_by_currency
WHERE call_date BETWEEN $first_day AND $last_day
GROUP BY currency
ORDER BY currency NULLS LAST;
