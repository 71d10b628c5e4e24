-- The days $days (a DATE[]) of marts.daily_costs from those days' marts.call_facts (run after
-- delete_daily_costs_partition). Money is summed per currency it is in (call_facts.cost_currency),
-- never across currencies; each ratio keeps its numerator and denominator so roll-ups can
-- recompute it from sums.
INSERT INTO marts.daily_costs BY NAME
SELECT
    call_date,
    sip_group_name,
    phone_name,
    country,
    cost_currency AS currency,
    count(*) AS calls,
    count(*) FILTER (WHERE is_answered) AS answered_calls,
    count(*) FILTER (WHERE is_answered) / count(*) AS asr,
    sum(call_duration_s) AS call_seconds,
    sum(charged_duration_s) AS charged_seconds,
    sum(expected_charged_s) AS expected_charged_seconds,
    sum(talk_s) FILTER (WHERE is_answered) AS talk_seconds,
    count(talk_s) FILTER (WHERE is_answered) AS talk_timed_calls,
    sum(talk_s) FILTER (WHERE is_answered) / nullif(count(talk_s) FILTER (WHERE is_answered), 0) AS acd_s,
    sum(post_dial_delay_s) AS post_dial_delay_seconds,
    count(post_dial_delay_s) AS post_dial_delay_calls,
    sum(post_dial_delay_s) / nullif(count(post_dial_delay_s), 0) AS avg_post_dial_delay_s,
    sum(cost) AS total_cost,
    sum(expected_cost) AS expected_cost,
    sum(cost - expected_cost) AS cost_difference,
    count(*) FILTER (WHERE cost IS NULL OR expected_cost IS NULL) AS unpriced_calls,
    count(*) FILTER (WHERE cost_mismatch) AS cost_mismatch_calls,
    count(*) FILTER (WHERE len(quality_flags) > 0) AS flagged_calls,
    bool_and(is_final) AS is_final
FROM marts.call_facts
WHERE call_date IN (SELECT unnest($days::DATE[]))
GROUP BY call_date, sip_group_name, phone_name, country, cost_currency;
