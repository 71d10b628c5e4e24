-- One day's facts: how many rows lack each value a call cannot be costed or attributed without.
SELECT
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
WHERE call_date = $call_date;
