-- The same figures as archive_warehouse_figures.sql, of a day's two archived Parquet files: what
-- the archive holds, to compare with what the warehouse holds.
WITH
    records AS (
        SELECT page, position, archive_record_hash(
            partition_date, voice_id, record, page, position, fetched_at, sip_group_name
        ) AS hash
        FROM read_parquet($records_path)
    ),
    record_pages AS (
        SELECT page, count(*) AS records, archive_ordered_digest(hash, position) AS hash
        FROM records
        GROUP BY page
    ),
    pages AS (
        SELECT
            page,
            reported_total,
            archive_page_hash(
                partition_date, page, reported_total, reported_pages, records_on_page, fetched_at,
                str_time, end_time, reads, sip_group_name
            ) AS hash
        FROM read_parquet($pages_path)
    )
SELECT
    (SELECT coalesce(sum(records), 0) FROM record_pages) AS records,
    (SELECT archive_ordered_digest(hash, page) FROM record_pages) AS records_digest,
    (SELECT count(*) FROM pages) AS pages,
    (SELECT any_value(reported_total) FILTER (WHERE page = 1) FROM pages) AS reported_total,
    (SELECT archive_ordered_digest(hash, page) FROM pages) AS pages_digest;
