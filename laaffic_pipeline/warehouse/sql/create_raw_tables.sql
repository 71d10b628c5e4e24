-- Raw landing: records exactly as the API returned them, one partition (local day) at a time.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.call_records (
    partition_date DATE NOT NULL,        -- the local day whose window returned the record
    voice_id       VARCHAR,              -- record->>'voiceId'; NULL when the API sent none
    record         JSON NOT NULL,        -- the record as received, every field kept
    page           INTEGER NOT NULL,     -- page number that carried it
    position       INTEGER NOT NULL,     -- index within that page
    fetched_at     TIMESTAMPTZ NOT NULL  -- when that page was received
);

CREATE TABLE IF NOT EXISTS raw.call_record_pages (
    partition_date  DATE NOT NULL,
    page            INTEGER NOT NULL,
    reported_total  INTEGER NOT NULL,     -- data.total on this page
    reported_pages  INTEGER NOT NULL,     -- data.pages on this page
    records_on_page INTEGER NOT NULL,     -- len(data.records) on this page
    fetched_at      TIMESTAMPTZ NOT NULL,
    str_time        VARCHAR NOT NULL,     -- window start exactly as sent
    end_time        VARCHAR NOT NULL,     -- window end exactly as sent
    reads           INTEGER NOT NULL      -- reads of the window it took to get a stable one
);
