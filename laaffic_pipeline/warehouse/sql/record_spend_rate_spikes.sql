-- One judgment of $call_date at $until: the groups above the band then are the parallel lists
-- $currencies, $groups, $costs, $medians, $allowed (one entry per group, any of them empty).
-- A lasting spike no longer above has ended; one still above was seen again; a group above without
-- a lasting spike starts a new one. Judging the same $until again changes nothing.
UPDATE marts.spend_rate_spikes AS s
SET ended_until = $until::TIMESTAMPTZ
WHERE s.call_date = $call_date::DATE AND s.ended_until IS NULL AND s.last_until < $until::TIMESTAMPTZ
    AND NOT EXISTS (
        SELECT 1
        FROM (SELECT unnest($currencies::VARCHAR[]) AS currency, unnest($groups::VARCHAR[]) AS sip_group_name) AS a
        WHERE a.currency IS NOT DISTINCT FROM s.currency AND a.sip_group_name IS NOT DISTINCT FROM s.sip_group_name
    );

UPDATE marts.spend_rate_spikes AS s
SET last_until = greatest(s.last_until, $until::TIMESTAMPTZ)
WHERE s.call_date = $call_date::DATE AND s.ended_until IS NULL
    AND EXISTS (
        SELECT 1
        FROM (SELECT unnest($currencies::VARCHAR[]) AS currency, unnest($groups::VARCHAR[]) AS sip_group_name) AS a
        WHERE a.currency IS NOT DISTINCT FROM s.currency AND a.sip_group_name IS NOT DISTINCT FROM s.sip_group_name
    );

INSERT INTO marts.spend_rate_spikes
SELECT $call_date::DATE, a.currency, a.sip_group_name, $until::TIMESTAMPTZ, $until::TIMESTAMPTZ, NULL,
    a.cost, a.cost_median, a.allowed_deviation
FROM (
    SELECT
        unnest($currencies::VARCHAR[]) AS currency,
        unnest($groups::VARCHAR[]) AS sip_group_name,
        unnest($costs::DOUBLE[]) AS cost,
        unnest($medians::DOUBLE[]) AS cost_median,
        unnest($allowed::DOUBLE[]) AS allowed_deviation
) AS a
WHERE NOT EXISTS (
    SELECT 1
    FROM marts.spend_rate_spikes AS s
    WHERE s.call_date = $call_date::DATE AND s.ended_until IS NULL
        AND a.currency IS NOT DISTINCT FROM s.currency AND a.sip_group_name IS NOT DISTINCT FROM s.sip_group_name
);
