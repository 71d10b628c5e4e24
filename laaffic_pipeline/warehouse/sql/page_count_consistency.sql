-- Figures for one landed partition, one row per window (sip_group_name; '' unfiltered), in group
-- order: what the API reported for that window against what was stored from it. Each window is its
-- own page-count unit: its pages, its total, the records landed from it. No row: nothing stored.
-- A provisional day (raw.provisional_days) stores its latest refresh's pages, so its window is
-- judged against the records that refresh landed (fetched since its first page), not the whole day.
WITH
    pages AS (
        SELECT
            sip_group_name,
            count(*) AS pages_fetched,
            any_value(reported_pages) FILTER (WHERE page = 1) AS pages_reported,
            count(DISTINCT reported_total) AS distinct_reported_totals,
            any_value(reported_total) FILTER (WHERE page = 1) AS reported_total,
            coalesce(sum(records_on_page), 0) AS records_received
        FROM raw.call_record_pages
        WHERE partition_date = $partition_date
        GROUP BY sip_group_name
    ),
    records AS (
        SELECT
            sip_group_name,
            count(*) AS records_landed,
            count(DISTINCT voice_id) AS distinct_voice_ids,
            count(*) FILTER (WHERE voice_id IS NULL) AS records_without_voice_id
        FROM raw.call_records AS r
        WHERE partition_date = $partition_date
            AND (
                NOT EXISTS (SELECT 1 FROM raw.provisional_days WHERE partition_date = $partition_date)
                OR fetched_at >= (
                    SELECT min(p.fetched_at)
                    FROM raw.call_record_pages AS p
                    WHERE p.partition_date = $partition_date AND p.sip_group_name = r.sip_group_name
                )
            )
        GROUP BY sip_group_name
    )
SELECT
    sip_group_name,
    coalesce(pages_fetched, 0) AS pages_fetched,
    pages_reported,
    coalesce(distinct_reported_totals, 0) AS distinct_reported_totals,
    reported_total,
    coalesce(records_received, 0) AS records_received,
    coalesce(records_landed, 0) AS records_landed,
    coalesce(distinct_voice_ids, 0) AS distinct_voice_ids,
    coalesce(records_without_voice_id, 0) AS records_without_voice_id
FROM pages FULL JOIN records USING (sip_group_name)
ORDER BY sip_group_name;
