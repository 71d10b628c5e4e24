"""The code location: every module under ``defs/``, loaded as ``dg`` projects load them.

Settings come from the ``LAAFFIC_*`` environment variables (``settings.py``).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    definitions = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # One process per run: every step opens the one DuckDB file, which takes a single writer,
    # so a process per step would only add start-up time and lock waits.
    return dg.Definitions.merge(definitions, dg.Definitions(executor=dg.in_process_executor))
