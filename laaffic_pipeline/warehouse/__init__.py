"""The DuckDB warehouse: table names, SQL statements, staging and partition replacement."""
