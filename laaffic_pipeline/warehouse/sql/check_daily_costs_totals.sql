-- Per day of $days (a DATE[]) and currency (the money's: call_facts.cost_currency =
-- daily_costs.currency), the day's marts.daily_costs totals beside the same sums over
-- marts.call_facts; `matches` is false where any pair differs (a currency missing on one side
-- counts as differing). A day without rows on either side has no row.
WITH
    from_facts AS (
        SELECT
            call_date,
            cost_currency AS currency,
            count(*) AS calls,
            count(*) FILTER (WHERE is_answered) AS answered_calls,
            sum(call_duration_s) AS call_seconds,
            sum(charged_duration_s) AS charged_seconds,
            sum(cost) AS total_cost,
            sum(expected_cost) AS expected_cost
        FROM marts.call_facts
        WHERE call_date IN (SELECT unnest($days::DATE[]))
        GROUP BY call_date, cost_currency
    ),
    from_daily_costs AS (
        SELECT
            call_date,
            currency,
            sum(calls) AS calls,
            sum(answered_calls) AS answered_calls,
            sum(call_seconds) AS call_seconds,
            sum(charged_seconds) AS charged_seconds,
            sum(total_cost) AS total_cost,
            sum(expected_cost) AS expected_cost
        FROM marts.daily_costs
        WHERE call_date IN (SELECT unnest($days::DATE[]))
        GROUP BY call_date, currency
    )
SELECT
    coalesce(facts.call_date, costs.call_date) AS call_date,
    coalesce(facts.currency, costs.currency) AS currency,
    facts.calls::BIGINT AS facts_calls,
    costs.calls::BIGINT AS daily_costs_calls,
    facts.answered_calls::BIGINT AS facts_answered_calls,
    costs.answered_calls::BIGINT AS daily_costs_answered_calls,
    facts.call_seconds::BIGINT AS facts_call_seconds,
    costs.call_seconds::BIGINT AS daily_costs_call_seconds,
    facts.charged_seconds::BIGINT AS facts_charged_seconds,
    costs.charged_seconds::BIGINT AS daily_costs_charged_seconds,
    facts.total_cost AS facts_total_cost,
    costs.total_cost AS daily_costs_total_cost,
    facts.expected_cost AS facts_expected_cost,
    costs.expected_cost AS daily_costs_expected_cost,
    facts.currency IS NOT DISTINCT FROM costs.currency
        AND (facts.calls, facts.answered_calls, facts.call_seconds, facts.charged_seconds,
             facts.total_cost, facts.expected_cost)
        IS NOT DISTINCT FROM
            (costs.calls, costs.answered_calls, costs.call_seconds, costs.charged_seconds,
             costs.total_cost, costs.expected_cost) AS matches
FROM from_facts AS facts
FULL OUTER JOIN from_daily_costs AS costs
    ON facts.call_date = costs.call_date AND facts.currency IS NOT DISTINCT FROM costs.currency
ORDER BY call_date, currency NULLS LAST;
