INSERT INTO raw.call_record_pages
SELECT
    $partition_date::DATE,
    unnest($page::INTEGER[]),
    unnest($reported_total::INTEGER[]),
    unnest($reported_pages::INTEGER[]),
    unnest($records_on_page::INTEGER[]),
    unnest($fetched_at::TIMESTAMPTZ[]),
    $str_time,
    $end_time,
    $reads;
