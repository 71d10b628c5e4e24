-- Whether the staged reads of a day's windows hold any record twice, across windows included
-- (by record_identity): the landing then keeps one copy of each.
SELECT count(*) AS records, count(DISTINCT record_identity(record)) AS identities
FROM staged_records($records_paths::VARCHAR[]);
