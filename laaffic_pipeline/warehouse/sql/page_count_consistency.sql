-- Figures for one landed partition: what the API reported against what was stored.
WITH
    pages AS (SELECT * FROM raw.call_record_pages WHERE partition_date = $partition_date),
    records AS (SELECT * FROM raw.call_records WHERE partition_date = $partition_date)
SELECT
    (SELECT count(*) FROM pages) AS pages_fetched,
    (SELECT any_value(reported_pages) FROM pages WHERE page = 1) AS pages_reported,
    (SELECT count(DISTINCT reported_total) FROM pages) AS distinct_reported_totals,
    (SELECT any_value(reported_total) FROM pages WHERE page = 1) AS reported_total,
    (SELECT coalesce(sum(records_on_page), 0) FROM pages) AS records_received,
    (SELECT count(*) FROM records) AS records_landed,
    (SELECT count(DISTINCT voice_id) FROM records) AS distinct_voice_ids,
    (SELECT count(*) FROM records WHERE voice_id IS NULL) AS records_without_voice_id;
