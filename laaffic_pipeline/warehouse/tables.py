"""Every warehouse table's name, for Python code (the SQL files spell them out for readers)."""

RAW_CALL_RECORDS = "raw.call_records"
RAW_CALL_RECORD_PAGES = "raw.call_record_pages"
RAW_PROVISIONAL_DAYS = "raw.provisional_days"
MARTS_CALL_FACTS = "marts.call_facts"
MARTS_DAILY_COSTS = "marts.daily_costs"
MARTS_DAILY_COSTS_BY_CURRENCY = "marts.daily_costs_by_currency"
MARTS_SPEND_RATE_SPIKES = "marts.spend_rate_spikes"
