"""Cost anomalies: a day's cost and calls per currency and SIP group against its trailing weeks.

Robust statistics, so one odd day in the history does not move the baseline: the baseline is
the median over the ``HISTORY_DAYS`` days before (``sql/check_daily_costs_anomalies.sql``), the
spread the median absolute deviation (MAD) scaled by 1.4826, which estimates the standard
deviation for normally distributed figures: ``band`` is in those robust standard deviations.
A figure is anomalous when it lies more than ``band`` spreads from the median, where the spread
is never taken below ``FLOOR_SHARE`` of the median nor below ``FLOOR_ABSOLUTE`` (one call, one
currency unit): a history that never varied (MAD 0) would otherwise flag any change at all,
e.g. 40 calls after 14 days of exactly 39. With the defaults (band 5) a steady group is flagged
beyond +-25% of its median, a group near zero beyond 5 calls or 5 currency units. On 30 days of
simulated normal traffic the largest deviation seen was 3.5 spreads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from laaffic_pipeline.warehouse.landing import provisional_days_among
from laaffic_pipeline.warehouse.sql import query_rows

DEFAULT_BAND = 5.0  # LAAFFIC_ANOMALY_BAND: spreads from the median before a figure is flagged
HISTORY_DAYS = 14
MIN_HISTORY_DAYS = 7  # fewer built days before it and the day is not judged
MAD_TO_SIGMA = 1.4826
FLOOR_SHARE = 0.05
FLOOR_ABSOLUTE = 1.0
METRICS = ("total_cost", "calls")
_BASELINE = {"total_cost": ("cost_median", "cost_mad"), "calls": ("calls_median", "calls_mad")}


def spread(median: float, mad: float) -> float:
    """The MAD as a standard deviation, floored at ``FLOOR_SHARE`` of the median and ``FLOOR_ABSOLUTE``."""
    return max(MAD_TO_SIGMA * mad, FLOOR_SHARE * abs(median), FLOOR_ABSOLUTE)


@dataclass(frozen=True)
class CostAnomalies:
    day: date
    band: float
    history_days: int  # built days among the HISTORY_DAYS before ``day``
    groups: list[dict[str, Any]]  # rows of check_daily_costs_anomalies.sql
    flagged: list[dict[str, Any]]  # one per group and metric outside the band
    final: bool = True  # a provisional day's figures are partial: judged once it is final

    @property
    def judged(self) -> bool:
        return self.final and self.history_days >= MIN_HISTORY_DAYS

    def summary(self) -> str:
        if not self.final:
            return f"not judged: {self.day} is provisional (its figures so far); it is judged once final"
        if not self.judged:
            return (
                f"not judged: {self.history_days} built days in the {HISTORY_DAYS} before {self.day} "
                f"(at least {MIN_HISTORY_DAYS} needed)"
            )
        if not self.flagged:
            return (
                f"{len(self.groups)} currency/group pairs within {self.band:g} robust standard "
                f"deviations of their {self.history_days}-day median for cost and calls"
            )
        return "outside the band: " + "; ".join(
            f"{f['currency']}/{f['sip_group_name']} {f['metric']} {f['value']:g} "
            f"(median {f['median']:g}, allowed +-{f['allowed_deviation']:g})"
            for f in self.flagged
        )


def flag(groups: list[dict[str, Any]], band: float) -> list[dict[str, Any]]:
    """Each group's cost and calls more than ``band`` spreads from their median."""
    flagged = []
    for group in groups:
        for metric in METRICS:
            median_name, mad_name = _BASELINE[metric]
            median, mad, value = group[median_name], group[mad_name], group[metric]
            if median is None or mad is None:
                continue  # no history for this group (cannot happen once history_days > 0)
            allowed = band * spread(median, mad)
            if abs(value - median) > allowed:
                flagged.append(
                    {
                        "currency": group["currency"],
                        "sip_group_name": group["sip_group_name"],
                        "metric": metric,
                        "value": value,
                        "median": median,
                        "mad": mad,
                        "allowed_deviation": allowed,
                    }
                )
    return flagged


def cost_anomalies(conn: duckdb.DuckDBPyConnection, day: date, band: float = DEFAULT_BAND) -> CostAnomalies:
    """Judge ``day`` of ``marts.daily_costs`` against its trailing ``HISTORY_DAYS`` days."""
    groups = query_rows(conn, "check_daily_costs_anomalies", {"call_date": day, "history_days": HISTORY_DAYS})
    history_days = groups[0]["history_days"] if groups else 0
    final = not provisional_days_among(conn, [day])
    flagged = flag(groups, band) if final and history_days >= MIN_HISTORY_DAYS else []
    return CostAnomalies(day, band, history_days, groups, flagged, final)
