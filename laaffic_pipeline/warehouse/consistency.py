"""The page-count rule: what the API reported about a window against the records it gave.

One rule for two moments: a staged read before it is accepted (``staging.StagedNdjsonRead``) and a
landed day afterwards (the ``page_count_consistency`` check). Both pass the same figures, from
``sql/staged_read_figures.sql`` and ``sql/page_count_consistency.sql``. A day read as one window
per SIP group (``LAAFFIC_SIP_GROUPS``) is judged a window at a time: each window's total and pages
are the API's figures for that group alone, so only a window's own records can be held to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

NOT_LANDED = "the partition has not been landed: no pages are stored for it"
ADDITIVE_FIGURES = (
    "pages_fetched",
    "pages_reported",
    "reported_total",
    "records_received",
    "records_landed",
    "distinct_voice_ids",
    "records_without_voice_id",
)


def day_page_count_problems(windows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why a landed day's windows disagree with what the API reported for each (empty: all agree).

    ``windows``: the rows of ``sql/page_count_consistency.sql``, one per window. A filtered window's
    problems are prefixed with its group, so a failing day names the window that failed.
    """
    if not windows:
        return [NOT_LANDED]
    return [
        naming_window(figures["sip_group_name"], problem)
        for figures in windows
        for problem in page_count_problems(figures)
    ]


def naming_window(sip_group_name: str, message: str) -> str:
    """``message`` about one window of a day, prefixed with its group when the day is read per group."""
    return f"sipGroupName {sip_group_name!r}: {message}" if sip_group_name else message


def day_figures(windows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures of a day's windows together: counts summed, ``distinct_reported_totals`` the most
    any window's pages reported. For a day of one window, that window's figures."""
    if len(windows) == 1:
        return {name: value for name, value in windows[0].items() if name != "sip_group_name"}
    figures: dict[str, Any] = {
        name: sum(window[name] or 0 for window in windows) for name in ADDITIVE_FIGURES
    }
    figures["distinct_reported_totals"] = max(
        (window["distinct_reported_totals"] for window in windows), default=0
    )
    return figures


def page_count_problems(figures: Mapping[str, Any]) -> list[str]:
    """Why the pages disagree with what the API reported (empty when they agree)."""
    if figures["pages_fetched"] == 0:
        return [NOT_LANDED]
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
