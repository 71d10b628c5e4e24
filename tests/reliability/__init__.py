"""Reliability: faults, retries, lost and locked writes, secrets, bad input, concurrent backfills."""
