-- Record that a day's raw is provisional up to $read_until (one more refresh merged into it).
INSERT INTO raw.provisional_days (partition_date, read_until, refreshes, refreshed_at)
VALUES ($partition_date::DATE, $read_until::TIMESTAMPTZ, 1, $refreshed_at::TIMESTAMPTZ)
ON CONFLICT (partition_date) DO UPDATE SET
    read_until = excluded.read_until,
    refreshes = raw.provisional_days.refreshes + 1,
    refreshed_at = excluded.refreshed_at;
