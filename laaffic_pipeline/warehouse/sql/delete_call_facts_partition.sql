-- The days $days (a DATE[]) of marts.call_facts, before insert_call_facts rebuilds them.
DELETE FROM marts.call_facts WHERE call_date IN (SELECT unnest($days::DATE[]));
