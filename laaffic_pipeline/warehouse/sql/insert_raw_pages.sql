-- One row per page of a window's accepted read, from its staged page log.
INSERT INTO raw.call_record_pages (
    partition_date, page, reported_total, reported_pages, records_on_page, fetched_at, str_time, end_time,
    reads, sip_group_name
)
SELECT
    $partition_date::DATE,
    page,
    reported_total,
    reported_pages,
    records_on_page,
    fetched_at,
    $str_time,
    $end_time,
    $reads,
    $sip_group_name
FROM read_json(
    $pages_path,
    format = 'newline_delimited',
    columns = {page: 'INTEGER', reported_total: 'INTEGER', reported_pages: 'INTEGER',
               records_on_page: 'INTEGER', fetched_at: 'TIMESTAMPTZ'}
)
ORDER BY page;
