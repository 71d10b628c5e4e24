"""Dagster definitions, loaded by ``load_from_defs_folder``: one folder per concern.

``laaffic/`` is the source (raw landing, its page check, the nightly schedule), ``marts/`` the
cleaned facts and cost aggregates with their checks; ``partitions.py``, ``jobs.py`` and
``resources.py`` are shared by both.
"""
