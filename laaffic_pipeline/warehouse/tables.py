"""Every warehouse table's name, for Python code (the SQL files spell them out for readers)."""

RAW_CALL_RECORDS = "raw.call_records"
RAW_CALL_RECORD_PAGES = "raw.call_record_pages"
