-- How many records one staged read holds that the other does not (both ways), by record_identity.
WITH
    a AS (SELECT DISTINCT record_identity(record) AS identity FROM staged_records($records_a)),
    b AS (SELECT DISTINCT record_identity(record) AS identity FROM staged_records($records_b))
SELECT
    (SELECT count(*) FROM (SELECT identity FROM a EXCEPT SELECT identity FROM b)) +
    (SELECT count(*) FROM (SELECT identity FROM b EXCEPT SELECT identity FROM a)) AS differing_records;
