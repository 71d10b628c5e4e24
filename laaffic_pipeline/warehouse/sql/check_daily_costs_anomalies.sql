-- One day of marts.daily_costs per currency and SIP group, beside the median and the median
-- absolute deviation (MAD) of the same figures over the $history_days days before it. A history
-- day is a final day with rows in marts.daily_costs (a day that was built; a provisional day's
-- figures are partial); on such a day a group without calls counts as 0 calls and 0 cost. Figures are DOUBLE: this is a statistic, not money.
WITH history_days AS (
    SELECT DISTINCT call_date
    FROM marts.daily_costs
    WHERE call_date >= $call_date::DATE - $history_days::INTEGER AND call_date < $call_date::DATE
        AND is_final
),
all_days AS (
    SELECT call_date FROM history_days
    UNION
    SELECT $call_date::DATE
),
groups AS (
    SELECT DISTINCT currency, sip_group_name
    FROM marts.daily_costs
    WHERE call_date IN (SELECT call_date FROM all_days)
),
per_day AS (
    SELECT
        d.call_date,
        g.currency,
        g.sip_group_name,
        coalesce(sum(c.total_cost), 0)::DOUBLE AS total_cost,
        coalesce(sum(c.calls), 0)::DOUBLE AS calls
    FROM all_days AS d
    CROSS JOIN groups AS g
    LEFT JOIN marts.daily_costs AS c
        ON c.call_date = d.call_date
        AND c.currency IS NOT DISTINCT FROM g.currency
        AND c.sip_group_name IS NOT DISTINCT FROM g.sip_group_name
    GROUP BY d.call_date, g.currency, g.sip_group_name
),
medians AS (
    SELECT currency, sip_group_name, median(total_cost) AS cost_median, median(calls) AS calls_median
    FROM per_day
    WHERE call_date < $call_date::DATE
    GROUP BY currency, sip_group_name
),
mads AS (
    SELECT
        p.currency,
        p.sip_group_name,
        median(abs(p.total_cost - m.cost_median)) AS cost_mad,
        median(abs(p.calls - m.calls_median)) AS calls_mad
    FROM per_day AS p
    JOIN medians AS m
        ON p.currency IS NOT DISTINCT FROM m.currency
        AND p.sip_group_name IS NOT DISTINCT FROM m.sip_group_name
    WHERE p.call_date < $call_date::DATE
    GROUP BY p.currency, p.sip_group_name
)
SELECT
    t.currency,
    t.sip_group_name,
    (SELECT count(*) FROM history_days) AS history_days,
    t.total_cost,
    m.cost_median,
    x.cost_mad,
    t.calls,
    m.calls_median,
    x.calls_mad
FROM per_day AS t
LEFT JOIN medians AS m
    ON t.currency IS NOT DISTINCT FROM m.currency AND t.sip_group_name IS NOT DISTINCT FROM m.sip_group_name
LEFT JOIN mads AS x
    ON t.currency IS NOT DISTINCT FROM x.currency AND t.sip_group_name IS NOT DISTINCT FROM x.sip_group_name
WHERE t.call_date = $call_date::DATE
ORDER BY t.currency, t.sip_group_name;
