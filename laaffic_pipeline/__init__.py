"""Laaffic voice call records (CDRs) into a DuckDB warehouse, orchestrated by Dagster."""
