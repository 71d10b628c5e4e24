-- Macros shared by everything that reads a staged read (judging it, landing it).

-- The one rule for "the same record", used when staged reads are compared and when raw is landed:
-- its voiceId, or, when the API sent none, its whole JSON text.
CREATE OR REPLACE TEMP MACRO record_identity(record) AS
    coalesce(NULLIF(record ->> 'voiceId', ''), record::VARCHAR);

-- A staged read's records file as rows, each ready for raw.call_records but for its partition date.
CREATE OR REPLACE TEMP MACRO staged_records(path) AS TABLE
    SELECT
        NULLIF(record ->> 'voiceId', '') AS voice_id,
        record,
        page,
        position,
        fetched_at
    FROM read_json(
        path,
        format = 'newline_delimited',
        columns = {page: 'INTEGER', position: 'INTEGER', fetched_at: 'TIMESTAMPTZ', record: 'JSON'}
    );
