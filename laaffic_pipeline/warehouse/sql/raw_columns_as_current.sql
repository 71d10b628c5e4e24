-- The current raw tables' columns ($current: a database create_raw_tables.sql just ran in) against
-- what the warehouse ($stored) holds: whether it has each table and each column, and the default
-- the migration (ADD COLUMN ... DEFAULT) gives the rows an older version stored.
SELECT
    current.table_name,
    current.column_name,
    current.data_type,
    coalesce(current.column_default, 'NULL') AS column_default,
    current.table_name IN (
        SELECT table_name FROM duckdb_tables() WHERE database_name = $stored AND schema_name = 'raw'
    ) AS table_stored,
    EXISTS (
        SELECT 1
        FROM duckdb_columns() AS stored
        WHERE stored.database_name = $stored
            AND stored.schema_name = 'raw'
            AND stored.table_name = current.table_name
            AND stored.column_name = current.column_name
    ) AS column_stored
FROM duckdb_columns() AS current
WHERE current.database_name = $current AND current.schema_name = 'raw'
ORDER BY current.table_name, current.column_index;
