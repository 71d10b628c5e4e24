-- The one rule for "the same record", used when staged reads are compared and when raw is landed:
-- its voiceId, or, when the API sent none, its whole JSON text.
CREATE OR REPLACE TEMP MACRO record_identity(record) AS
    coalesce(NULLIF(record ->> 'voiceId', ''), record::VARCHAR);
