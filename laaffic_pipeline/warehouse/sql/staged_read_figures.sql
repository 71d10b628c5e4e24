-- The page-count figures of one staged read, named as page_count_consistency.sql names them for a
-- landed day, so one rule (warehouse/consistency.py) judges both. records_landed counts every
-- record received (duplicates included); the distinct counts are over record_identity.
WITH
    pages AS (
        SELECT * FROM read_json(
            $pages_path,
            format = 'newline_delimited',
            columns = {page: 'INTEGER', reported_total: 'BIGINT', reported_pages: 'BIGINT',
                       records_on_page: 'INTEGER', fetched_at: 'TIMESTAMPTZ'}
        )
    ),
    records AS (
        SELECT voice_id, record_identity(record) AS identity FROM staged_records($records_path)
    )
SELECT
    (SELECT count(*) FROM pages) AS pages_fetched,
    (SELECT any_value(reported_pages) FROM pages WHERE page = 1) AS pages_reported,
    (SELECT count(DISTINCT reported_total) FROM pages) AS distinct_reported_totals,
    (SELECT any_value(reported_total) FROM pages WHERE page = 1) AS reported_total,
    (SELECT coalesce(sum(records_on_page), 0) FROM pages) AS records_received,
    (SELECT count(*) FROM records) AS records_landed,
    (SELECT count(DISTINCT voice_id) FROM records) AS distinct_voice_ids,
    (SELECT count(DISTINCT identity) FROM records WHERE voice_id IS NULL) AS records_without_voice_id;
