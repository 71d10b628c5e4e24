-- One day of marts.call_facts to a Parquet file at $path: every column, call_date included, so a
-- file stands alone; money stays DECIMAL(18, 6), times TIMESTAMPTZ, quality_flags a list.
COPY (
    SELECT *
    FROM marts.call_facts
    WHERE call_date = $call_date
    ORDER BY voice_id NULLS LAST, fetched_at
) TO $path (FORMAT parquet);
