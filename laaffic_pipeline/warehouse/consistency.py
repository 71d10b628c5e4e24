"""The page-count rule: what the API reported about a window against the records it gave.

One rule for two moments: a staged read before it is accepted (``staging.StagedNdjsonRead``) and a
landed day afterwards (the ``page_count_consistency`` check). Both pass the same figures, from
``sql/staged_read_figures.sql`` and ``sql/page_count_consistency.sql``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def page_count_problems(figures: Mapping[str, Any]) -> list[str]:
    """Why the pages disagree with what the API reported (empty when they agree)."""
    if figures["pages_fetched"] == 0:
        return ["the partition has not been landed: no pages are stored for it"]
    problems = []
    expected_pages = max(figures["pages_reported"] or 0, 1)  # an empty window still answers page 1
    if figures["pages_fetched"] != expected_pages:
        problems.append(
            f"pages fetched {figures['pages_fetched']} != pages reported {figures['pages_reported']}"
        )
    if figures["distinct_reported_totals"] != 1:
        problems.append(f"pages reported {figures['distinct_reported_totals']} different totals")
    if figures["records_landed"] != figures["reported_total"]:
        problems.append(
            f"records landed {figures['records_landed']} != reported total {figures['reported_total']}"
        )
    identities = figures["distinct_voice_ids"] + figures["records_without_voice_id"]
    if identities != figures["records_landed"]:
        problems.append(
            f"distinct voice ids {figures['distinct_voice_ids']} (+{figures['records_without_voice_id']} "
            f"without id) != records landed {figures['records_landed']}"
        )
    return problems
