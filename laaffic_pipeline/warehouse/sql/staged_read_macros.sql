-- Macros shared by everything that reads a staged read (judging it, landing it).

-- The one rule for "the same record", used when staged reads are compared and when raw is landed:
-- its voiceId, or, when the API sent none, its whole JSON text.
CREATE OR REPLACE TEMP MACRO record_identity(record) AS
    coalesce(NULLIF(record ->> 'voiceId', ''), record::VARCHAR);

-- A staged read's records file (or a list of them) as rows, each ready for raw.call_records but for
-- its partition date and window; ``filename`` says which file a row came from.
CREATE OR REPLACE TEMP MACRO staged_records(path) AS TABLE
    SELECT
        NULLIF(record ->> 'voiceId', '') AS voice_id,
        record,
        page,
        position,
        fetched_at,
        filename
    FROM read_json(
        path,
        format = 'newline_delimited',
        filename = true,
        columns = {page: 'INTEGER', position: 'INTEGER', fetched_at: 'TIMESTAMPTZ', record: 'JSON'}
    );

-- The staged reads of a day's windows as one table (``paths``: each window's records file, read
-- with sipGroupName ``groups[i]``, '' unfiltered), each row with its window's group: one table, so
-- the landing keeps a record returned by two windows once, by the same rule as within a read.
CREATE OR REPLACE TEMP MACRO staged_window_records(paths, groups) AS TABLE
    SELECT voice_id, record, page, position, fetched_at, groups[list_position(paths, filename)] AS sip_group_name
    FROM staged_records(paths);
