DELETE FROM marts.call_facts WHERE call_date = $call_date;
