"""Dagster definitions: partitions, resources, assets, checks, jobs and schedules."""
