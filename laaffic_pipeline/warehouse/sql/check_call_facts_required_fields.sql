-- For each day of $days (a DATE[]): how many of its facts lack each value a call cannot be costed
-- or attributed without. One row per day (a day without facts: zeros).
WITH
    days AS (SELECT DISTINCT unnest($days::DATE[]) AS call_date),
    missing AS (
        SELECT
            call_date,
            count(*) AS rows,
            count(*) - count(voice_id) AS voice_id,
            count(*) - count(sip_group_name) AS sip_group_name,
            count(*) - count(phone_name) AS phone_name,
            count(*) - count(callee) AS callee,
            count(*) - count(code) AS code,
            count(*) - count(submit_time) AS submit_time,
            count(*) - count(call_time) AS call_time,
            count(*) - count(hangup_time) AS hangup_time,
            count(*) - count(call_duration_s) AS call_duration_s,
            count(*) - count(charged_duration_s) AS charged_duration_s,
            count(*) - count(termination_code) AS termination_code,
            count(*) - count(cost) AS cost,
            count(*) - count(rate) AS rate,
            count(*) - count(bill_period) AS bill_period,
            count(*) - count(cost_currency) AS currency  -- the currency the money is in
        FROM marts.call_facts
        WHERE call_date IN (SELECT call_date FROM days)
        GROUP BY call_date
    )
SELECT
    days.call_date,
    coalesce(rows, 0) AS rows,
    coalesce(voice_id, 0) AS voice_id,
    coalesce(sip_group_name, 0) AS sip_group_name,
    coalesce(phone_name, 0) AS phone_name,
    coalesce(callee, 0) AS callee,
    coalesce(code, 0) AS code,
    coalesce(submit_time, 0) AS submit_time,
    coalesce(call_time, 0) AS call_time,
    coalesce(hangup_time, 0) AS hangup_time,
    coalesce(call_duration_s, 0) AS call_duration_s,
    coalesce(charged_duration_s, 0) AS charged_duration_s,
    coalesce(termination_code, 0) AS termination_code,
    coalesce(cost, 0) AS cost,
    coalesce(rate, 0) AS rate,
    coalesce(bill_period, 0) AS bill_period,
    coalesce(currency, 0) AS currency
FROM days
LEFT JOIN missing USING (call_date)
ORDER BY days.call_date;
