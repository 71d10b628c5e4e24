-- One day of marts.daily_costs to a Parquet file at $path: every column, call_date included, so a
-- file stands alone; money totals stay DECIMAL(38, 6).
COPY (
    SELECT *
    FROM marts.daily_costs
    WHERE call_date = $call_date
    ORDER BY sip_group_name, phone_name, country, currency
) TO $path (FORMAT parquet);
