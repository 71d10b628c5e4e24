-- Macros of the raw archive (warehouse/archive.py): the canonical text of a raw row, and the digest
-- of a set of rows. A digest is recomputed years later, by another DuckDB, from the warehouse or a
-- restored copy, so the text is built from plain conversions only: days as YYYY-MM-DD, integers in
-- decimal, times as microseconds since the epoch (never a rendering that depends on the session's
-- TimeZone), strings prefixed by their length (no separator can be forged into them) or '-' when
-- NULL, and the record last, exactly as stored.

CREATE OR REPLACE TEMP MACRO archive_text(value) AS
    coalesce(length(value::VARCHAR) || ':' || value::VARCHAR, '-');

CREATE OR REPLACE TEMP MACRO archive_record_hash(
    partition_date, voice_id, record, page, position, fetched_at, sip_group_name
) AS
    sha256(
        archive_text(strftime(partition_date, '%Y-%m-%d')) || '|' || archive_text(page) || '|'
        || archive_text(position) || '|' || archive_text(epoch_us(fetched_at)) || '|'
        || archive_text(voice_id) || '|' || archive_text(record) || '|' || archive_text(sip_group_name)
    );

CREATE OR REPLACE TEMP MACRO archive_page_hash(
    partition_date, page, reported_total, reported_pages, records_on_page, fetched_at, str_time, end_time, reads,
    sip_group_name
) AS
    sha256(
        archive_text(strftime(partition_date, '%Y-%m-%d')) || '|' || archive_text(page) || '|'
        || archive_text(reported_total) || '|' || archive_text(reported_pages) || '|'
        || archive_text(records_on_page) || '|' || archive_text(epoch_us(fetched_at)) || '|'
        || archive_text(str_time) || '|' || archive_text(end_time) || '|' || archive_text(reads) || '|'
        || archive_text(sip_group_name)
    );

-- sha256 of the hashes concatenated in (key, hash) order; sha256('') for no rows. An aggregate:
-- the order is the canonical one whatever order the rows are stored or read in.
CREATE OR REPLACE TEMP MACRO archive_ordered_digest(hash, key) AS
    sha256(coalesce(string_agg(hash, '' ORDER BY key, hash), ''));
