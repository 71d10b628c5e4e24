-- The spikes of $call_date still lasting at its latest judgment (ended_until not set).
SELECT currency, sip_group_name, started_until
FROM marts.spend_rate_spikes
WHERE call_date = $call_date::DATE AND ended_until IS NULL
ORDER BY currency, sip_group_name;
