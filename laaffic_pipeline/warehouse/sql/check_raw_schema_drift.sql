-- One day of raw.call_records against the API document's fields: keys the API sent that the
-- document does not list (new_key), documented keys a record lacks (missing_key), and documented
-- keys sent with another JSON type (type_change). $documented_keys / $documented_types give the
-- document's fields and their types ('string', 'integer'); JSON types are named the same way.
-- One row per kind, key and sent type, with the records affected and up to 5 example voice ids.
-- Records are first grouped by their shape (json_structure: each key's JSON type), so each record
-- is parsed once and the rest works on a handful of shapes, whatever the size of the day.
WITH documented AS (
    SELECT unnest($documented_keys) AS key, unnest($documented_types) AS documented_type
),
shapes AS (
    SELECT
        json_structure(record) AS shape,
        count(*) AS records,
        min(voice_id, 5) FILTER (WHERE voice_id IS NOT NULL) AS examples
    FROM raw.call_records
    WHERE partition_date = $call_date
    GROUP BY shape
),
sent AS (
    SELECT
        s.shape,
        s.records,
        s.examples,
        k.key,
        CASE json_type(s.shape, '$."' || k.key || '"')
            WHEN 'OBJECT' THEN 'object'
            WHEN 'ARRAY' THEN 'array'
            ELSE CASE json_extract_string(s.shape, '$."' || k.key || '"')
                WHEN 'VARCHAR' THEN 'string'
                WHEN 'UBIGINT' THEN 'integer'
                WHEN 'BIGINT' THEN 'integer'
                WHEN 'DOUBLE' THEN 'number'
                ELSE lower(json_extract_string(s.shape, '$."' || k.key || '"'))  -- boolean, null
            END
        END AS sent_type
    FROM shapes AS s, unnest(json_keys(s.shape)) AS k(key)
),
findings AS (
    SELECT 'new_key' AS kind, s.key, NULL AS documented_type, s.sent_type, s.records, s.examples
    FROM sent AS s
    WHERE s.key NOT IN (SELECT key FROM documented)
    UNION ALL
    SELECT 'type_change', s.key, d.documented_type, s.sent_type, s.records, s.examples
    FROM sent AS s
    JOIN documented AS d USING (key)
    WHERE s.sent_type <> d.documented_type
    UNION ALL
    SELECT 'missing_key', d.key, d.documented_type, NULL, s.records, s.examples
    FROM shapes AS s
    CROSS JOIN documented AS d
    WHERE NOT list_contains(json_keys(s.shape), d.key)
)
SELECT
    kind,
    key,
    documented_type,
    sent_type,
    sum(records)::BIGINT AS records,
    list_sort(flatten(list(examples)))[1:5] AS example_voice_ids
FROM findings
GROUP BY kind, key, documented_type, sent_type
ORDER BY kind, key, sent_type;
