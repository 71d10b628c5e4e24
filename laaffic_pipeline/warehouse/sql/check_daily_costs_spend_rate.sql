-- Spend in the hour before $until (a provisional day's read_until; $local_until: the same instant
-- on the local clock) per currency and SIP group, beside the median and the median absolute
-- deviation (MAD) of the spend in the same local clock hour on each of the $history_days days
-- before $call_date that are final (rows in marts.daily_costs with is_final, as for the daily cost
-- band). A group with calls on one of those days but none in an hour counts 0 for that hour.
--
-- A call counts in the hour it ended (hangup_time), whatever its partition: the API serves a call
-- once it has ended, so at $until every call that ended before it is stored, while calls submitted
-- in the last hour may still be in progress. A history day's hour is found from its own window
-- start as sent (raw.call_record_pages.str_time, its local midnight with that day's offset) plus
-- the time of day of $local_until. Figures are DOUBLE: this is a statistic, not money.
WITH history_days AS (
    SELECT DISTINCT call_date
    FROM marts.daily_costs
    WHERE call_date >= $call_date::DATE - $history_days::INTEGER AND call_date < $call_date::DATE
        AND is_final
),
windows AS (
    SELECT $call_date::DATE AS call_date, $until::TIMESTAMPTZ AS window_end
    UNION ALL
    SELECT
        pages.partition_date,
        min(pages.str_time::TIMESTAMPTZ) + ($local_until::TIMESTAMP - $call_date::DATE::TIMESTAMP)
    FROM raw.call_record_pages AS pages
    WHERE pages.partition_date IN (SELECT call_date FROM history_days)
    GROUP BY pages.partition_date
),
spend AS (
    SELECT
        w.call_date,
        f.cost_currency AS currency,
        f.sip_group_name,
        sum(f.cost)::DOUBLE AS cost,
        count(*) AS calls
    FROM windows AS w
    JOIN marts.call_facts AS f
        ON f.hangup_time >= w.window_end - INTERVAL 1 HOUR AND f.hangup_time < w.window_end
    WHERE f.call_date BETWEEN $call_date::DATE - $history_days::INTEGER - 1 AND $call_date::DATE
    GROUP BY w.call_date, f.cost_currency, f.sip_group_name
),
-- Every group with calls on one of the days, as for the daily band: one quiet now still gets a row.
groups AS (
    SELECT DISTINCT currency, sip_group_name
    FROM marts.daily_costs
    WHERE call_date IN (SELECT call_date FROM history_days) OR call_date = $call_date::DATE
),
per_window AS (
    SELECT
        w.call_date,
        g.currency,
        g.sip_group_name,
        coalesce(s.cost, 0) AS cost,
        coalesce(s.calls, 0) AS calls
    FROM windows AS w
    CROSS JOIN groups AS g
    LEFT JOIN spend AS s
        ON s.call_date = w.call_date
        AND s.currency IS NOT DISTINCT FROM g.currency
        AND s.sip_group_name IS NOT DISTINCT FROM g.sip_group_name
),
medians AS (
    SELECT currency, sip_group_name, median(cost) AS cost_median
    FROM per_window
    WHERE call_date < $call_date::DATE
    GROUP BY currency, sip_group_name
),
mads AS (
    SELECT p.currency, p.sip_group_name, median(abs(p.cost - m.cost_median)) AS cost_mad
    FROM per_window AS p
    JOIN medians AS m
        ON p.currency IS NOT DISTINCT FROM m.currency
        AND p.sip_group_name IS NOT DISTINCT FROM m.sip_group_name
    WHERE p.call_date < $call_date::DATE
    GROUP BY p.currency, p.sip_group_name
)
SELECT
    t.currency,
    t.sip_group_name,
    (SELECT count(*) FROM windows) - 1 AS history_days,
    t.calls,
    t.cost,
    m.cost_median,
    x.cost_mad
FROM per_window AS t
LEFT JOIN medians AS m
    ON t.currency IS NOT DISTINCT FROM m.currency AND t.sip_group_name IS NOT DISTINCT FROM m.sip_group_name
LEFT JOIN mads AS x
    ON t.currency IS NOT DISTINCT FROM x.currency AND t.sip_group_name IS NOT DISTINCT FROM x.sip_group_name
WHERE t.call_date = $call_date::DATE
ORDER BY t.currency, t.sip_group_name;
