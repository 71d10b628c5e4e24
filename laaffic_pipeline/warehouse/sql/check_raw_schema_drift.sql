-- One day of raw.call_records against the API document's fields: keys the API sent that the
-- document does not list (new_key), documented keys a record lacks (missing_key), and documented
-- keys sent with another JSON type (type_change). $documented_keys / $documented_types give the
-- document's fields and their types ('string', 'integer'); JSON types are named the same way.
-- One row per kind, key and sent type, with the records affected and up to 5 example voice ids.
WITH documented AS (
    SELECT unnest($documented_keys) AS key, unnest($documented_types) AS documented_type
),
records AS (
    SELECT voice_id, record
    FROM raw.call_records
    WHERE partition_date = $call_date
),
sent AS (
    SELECT
        r.voice_id,
        k.key,
        CASE json_type(r.record, '$."' || k.key || '"')
            WHEN 'VARCHAR' THEN 'string'
            WHEN 'UBIGINT' THEN 'integer'
            WHEN 'BIGINT' THEN 'integer'
            WHEN 'DOUBLE' THEN 'number'
            ELSE lower(json_type(r.record, '$."' || k.key || '"'))  -- boolean, null, object, array
        END AS sent_type
    FROM records AS r, unnest(json_keys(r.record)) AS k(key)
),
findings AS (
    SELECT 'new_key' AS kind, s.key, NULL AS documented_type, s.sent_type, s.voice_id
    FROM sent AS s
    WHERE s.key NOT IN (SELECT key FROM documented)
    UNION ALL
    SELECT 'type_change', s.key, d.documented_type, s.sent_type, s.voice_id
    FROM sent AS s
    JOIN documented AS d USING (key)
    WHERE s.sent_type <> d.documented_type
    UNION ALL
    SELECT 'missing_key', d.key, d.documented_type, NULL, r.voice_id
    FROM records AS r
    CROSS JOIN documented AS d
    WHERE NOT list_contains(json_keys(r.record), d.key)
)
SELECT
    kind,
    key,
    documented_type,
    sent_type,
    count(*) AS records,
    (list(voice_id ORDER BY voice_id) FILTER (WHERE voice_id IS NOT NULL))[1:5] AS example_voice_ids
FROM findings
GROUP BY kind, key, documented_type, sent_type
ORDER BY kind, key, sent_type;
