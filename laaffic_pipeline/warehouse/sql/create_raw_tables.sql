-- Raw landing: records exactly as the API returned them, one partition (local day) at a time.
-- The COMMENT ON statements are the one description of every table and column: the Dagster UI
-- (warehouse/columns.py) and docs/warehouse.md (tested) show these words.
--
-- Run whenever the pipeline opens the warehouse, so it also brings an older warehouse up to date
-- in place: a column added later is appended by ALTER TABLE ... ADD COLUMN IF NOT EXISTS (with its
-- DEFAULT filling the rows stored before), and declared last in CREATE TABLE too, so a new and a
-- migrated warehouse have the same columns in the same order.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.call_records (
    partition_date DATE NOT NULL,
    voice_id       VARCHAR,
    record         JSON NOT NULL,
    page           INTEGER NOT NULL,
    position       INTEGER NOT NULL,
    fetched_at     TIMESTAMPTZ NOT NULL,
    sip_group_name VARCHAR NOT NULL DEFAULT ''
);
-- Added with LAAFFIC_SIP_GROUPS. DuckDB cannot add a NOT NULL column with IF NOT EXISTS, so the
-- constraint is set apart (a no-op once it holds).
ALTER TABLE raw.call_records ADD COLUMN IF NOT EXISTS sip_group_name VARCHAR DEFAULT '';
ALTER TABLE raw.call_records ALTER COLUMN sip_group_name SET NOT NULL;
COMMENT ON TABLE raw.call_records IS
    'One row per record the API returned for a day''s window (or its windows, one per SIP group), exactly as received (a record repeated across pages or windows kept once).';
COMMENT ON COLUMN raw.call_records.partition_date IS 'Local day whose API window returned the record.';
COMMENT ON COLUMN raw.call_records.voice_id IS 'record->>''voiceId''; NULL when the API sent none.';
COMMENT ON COLUMN raw.call_records.record IS 'The record exactly as received, every field kept.';
COMMENT ON COLUMN raw.call_records.page IS 'Page number that carried the record.';
COMMENT ON COLUMN raw.call_records.position IS 'Index of the record within its page.';
COMMENT ON COLUMN raw.call_records.fetched_at IS 'When that page was received.';
COMMENT ON COLUMN raw.call_records.sip_group_name IS
    'sipGroupName of the window that returned the record (one of LAAFFIC_SIP_GROUPS); empty: a window of every group, unfiltered.';

CREATE TABLE IF NOT EXISTS raw.call_record_pages (
    partition_date  DATE NOT NULL,
    page            INTEGER NOT NULL,
    reported_total  INTEGER NOT NULL,
    reported_pages  INTEGER NOT NULL,
    records_on_page INTEGER NOT NULL,
    fetched_at      TIMESTAMPTZ NOT NULL,
    str_time        VARCHAR NOT NULL,
    end_time        VARCHAR NOT NULL,
    reads           INTEGER NOT NULL,
    sip_group_name  VARCHAR NOT NULL DEFAULT ''
);
ALTER TABLE raw.call_record_pages ADD COLUMN IF NOT EXISTS sip_group_name VARCHAR DEFAULT '';
ALTER TABLE raw.call_record_pages ALTER COLUMN sip_group_name SET NOT NULL;
COMMENT ON TABLE raw.call_record_pages IS
    'One row per page of the stable read that was landed for each window of a day: what the API reported.';
COMMENT ON COLUMN raw.call_record_pages.partition_date IS 'Local day of the window.';
COMMENT ON COLUMN raw.call_record_pages.page IS 'Page number (current).';
COMMENT ON COLUMN raw.call_record_pages.reported_total IS 'data.total reported on this page.';
COMMENT ON COLUMN raw.call_record_pages.reported_pages IS 'data.pages reported on this page.';
COMMENT ON COLUMN raw.call_record_pages.records_on_page IS 'Records the page carried.';
COMMENT ON COLUMN raw.call_record_pages.fetched_at IS 'When the page was received.';
COMMENT ON COLUMN raw.call_record_pages.str_time IS 'Window start exactly as sent.';
COMMENT ON COLUMN raw.call_record_pages.end_time IS 'Window end exactly as sent.';
COMMENT ON COLUMN raw.call_record_pages.reads IS 'Reads of the window needed for a stable result.';
COMMENT ON COLUMN raw.call_record_pages.sip_group_name IS
    'sipGroupName of the window the page belongs to (one of LAAFFIC_SIP_GROUPS); empty: a window of every group, unfiltered.';

CREATE TABLE IF NOT EXISTS raw.provisional_days (
    partition_date DATE NOT NULL PRIMARY KEY,
    read_until     TIMESTAMPTZ NOT NULL,
    refreshes      INTEGER NOT NULL,
    refreshed_at   TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE raw.provisional_days IS
    'One row per day landed from reads made before it was final (the day had not ended, or ended less than LAAFFIC_FINAL_LAG_MIN ago): its raw holds the calls the API served up to read_until. The day''s final read removes the row; a day without one is final.';
COMMENT ON COLUMN raw.provisional_days.partition_date IS 'Local day, still provisional.';
COMMENT ON COLUMN raw.provisional_days.read_until IS
    'End of the latest refresh''s window: the next refresh reads from here minus LAAFFIC_INTRADAY_OVERLAP_MIN.';
COMMENT ON COLUMN raw.provisional_days.refreshes IS 'Refreshes merged into the day so far.';
COMMENT ON COLUMN raw.provisional_days.refreshed_at IS 'When the latest refresh was landed.';
