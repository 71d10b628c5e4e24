-- What the archive records of one landed day of raw: counts and digests (see archive_macros.sql).
-- The records' digest is taken a page at a time (each page's rows in position order), then over
-- the pages in page order: the same canonical order as one ordered pass, in a page's memory.
WITH
    records AS (
        SELECT page, position, archive_record_hash(
            partition_date, voice_id, record, page, position, fetched_at, sip_group_name
        ) AS hash
        FROM raw.call_records
        WHERE partition_date = $partition_date
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
        FROM raw.call_record_pages
        WHERE partition_date = $partition_date
    )
SELECT
    (SELECT coalesce(sum(records), 0) FROM record_pages) AS records,
    (SELECT archive_ordered_digest(hash, page) FROM record_pages) AS records_digest,
    (SELECT count(*) FROM pages) AS pages,
    (SELECT any_value(reported_total) FILTER (WHERE page = 1) FROM pages) AS reported_total,
    (SELECT archive_ordered_digest(hash, page) FROM pages) AS pages_digest;
