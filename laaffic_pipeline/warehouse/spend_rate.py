"""Spend rate: a provisional day's last hour of spend against the same hour of its trailing weeks.

Toll fraud burns money by the hour, so while a day is provisional (refreshed every few minutes),
each refresh judges per currency and SIP group the spend of the hour before the refresh's end,
``until`` (``raw.provisional_days.read_until``), against the spend of the same local clock hour on
each of the ``HISTORY_DAYS`` final days before (``sql/check_daily_costs_spend_rate.sql``), with
the robust statistics of ``cost_anomalies``: median, MAD x 1.4826, spread floored at 5% of the
median and at one currency unit, at least ``MIN_HISTORY_DAYS`` final days.

- **Which time.** A call counts in the hour it ended (``hangup_time``): the API serves a call once
  it has ended, so at ``until`` every call that ended before it is stored (the refresh re-reads
  ``LAAFFIC_INTRADAY_OVERLAP_MIN`` of calls that were in progress), whereas by submit time the last
  hour would always be short of the calls still in progress; and a call's cost is incurred by then.
- **Only spikes.** Spend above ``median + band x spread`` is flagged; spend below the band never
  is: a provisional day's hour may be short (a quiet hour, calls of the first hour after midnight
  still in yesterday's provisional read), and a shortfall burns no money.
- **The band.** ``LAAFFIC_SPEND_RATE_BAND`` (default 10), wider than the daily band: an hour holds
  few calls and one long call to an expensive destination is several hours' normal spend. On 10
  days of simulated normal traffic (5,000 calls a day, 95 refreshes a day, 5 groups) the largest
  deviation seen was 6.6 spreads, and band 5 would have alerted on 6 of the 50 group-days; with
  the floor of one unit a spike is at least 10 currency units above the hour's median.
- **Final days are not judged.** Their whole day is judged by ``costs_within_trailing_band``; the
  alarm is for spend going on now, and a nightly or backfill run re-judging old hours would alert
  about money long spent.
- **Once per spike.** A spike is a currency and group found above the band at a refresh; it lasts
  until a refresh finds it within the band again. ``marts.spend_rate_spikes`` remembers it
  (started, last seen, ended): the check fails (WARN) only at the refresh where a spike starts, so
  the check-failure alert sensor sends it once; while it lasts, later refreshes pass, naming it as
  still above the band. Judging the same ``until`` again (a marts-only run) starts nothing new.
- **Local clock without a zone.** The warehouse layer knows no time zone: ``until``'s wall-clock
  time is read from the latest refresh's window end as sent (``raw.call_record_pages.end_time``,
  with its offset), and each history day's hour from its own window start as sent (its local
  midnight). Only a DST day itself is off by the hour it gained or lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb

from laaffic_pipeline.warehouse.cost_anomalies import HISTORY_DAYS, MIN_HISTORY_DAYS, spread
from laaffic_pipeline.warehouse.sql import query_rows, run_sql

DEFAULT_BAND = 10.0  # LAAFFIC_SPEND_RATE_BAND: spreads above the median before an hour is a spike


@dataclass(frozen=True)
class SpendRate:
    day: date
    band: float
    until: datetime | None  # None: the day is final, not judged
    local_until: datetime | None  # ``until`` on the local clock; None: unknown, not judged
    history_days: int = 0  # final days among the HISTORY_DAYS before ``day``
    groups: list[dict[str, Any]] = field(default_factory=list)  # rows of check_daily_costs_spend_rate.sql
    spikes: list[dict[str, Any]] = field(default_factory=list)  # groups that started a spike now
    lasting: list[dict[str, Any]] = field(default_factory=list)  # groups above since an earlier refresh

    @property
    def judged(self) -> bool:
        return self.local_until is not None and self.history_days >= MIN_HISTORY_DAYS

    def summary(self) -> str:
        if self.until is None:
            return f"not judged: {self.day} is final (its whole day is judged by the daily cost band)"
        if self.local_until is None:
            return f"not judged: no landed page of {self.day} says the local time of {self.until.isoformat()}"
        hour = f"the hour before {self.local_until:%H:%M}"
        if not self.judged:
            return (
                f"not judged: {self.history_days} final days in the {HISTORY_DAYS} before {self.day} "
                f"(at least {MIN_HISTORY_DAYS} needed)"
            )
        parts = []
        if self.spikes:
            parts.append("spend spike in " + hour + ": " + "; ".join(map(_describe, self.spikes)))
        if self.lasting:
            parts.append(
                "still above the band (alerted when it started): " + "; ".join(map(_describe, self.lasting))
            )
        return " | ".join(parts) or (
            f"{len(self.groups)} currency/group pairs within {self.band:g} robust standard deviations "
            f"above their median spend in {hour} over {self.history_days} final days"
        )


def _describe(group: dict[str, Any]) -> str:
    return (
        f"{group['currency']}/{group['sip_group_name']} spent {group['cost']:.2f} "
        f"(median {group['cost_median']:.2f}, allowed +{group['allowed_deviation']:.2f})"
    )


def above_band(groups: list[dict[str, Any]], band: float) -> list[dict[str, Any]]:
    """The groups whose spend is more than ``band`` spreads above their median (never below it)."""
    above = []
    for group in groups:
        median, mad = group["cost_median"], group["cost_mad"]
        if median is None or mad is None:
            continue  # no history for this group (cannot happen once history_days > 0)
        allowed = band * spread(median, mad)
        if group["cost"] - median > allowed:
            above.append({**group, "allowed_deviation": allowed})
    return above


def spend_rate(conn: duckdb.DuckDBPyConnection, day: date, band: float = DEFAULT_BAND) -> SpendRate:
    """Judge the hour before ``day``'s latest refresh, if it is provisional, and remember its spikes."""
    read = query_rows(conn, "spend_rate_until", {"call_date": day})
    if not read:
        return SpendRate(day, band, None, None)
    until, local_until = read[0]["read_until"], read[0]["local_until"]
    if local_until is None:
        return SpendRate(day, band, until, None)
    groups = query_rows(
        conn,
        "check_daily_costs_spend_rate",
        {"call_date": day, "until": until, "local_until": local_until, "history_days": HISTORY_DAYS},
    )
    history_days = groups[0]["history_days"] if groups else 0
    judged = SpendRate(day, band, until, local_until, history_days, groups)
    if not judged.judged:
        return judged
    above = above_band(groups, band)
    started = record_spikes(conn, day, until, above)
    return SpendRate(
        day,
        band,
        until,
        local_until,
        history_days,
        groups,
        spikes=[group for group in above if _key(group) in started],
        lasting=[group for group in above if _key(group) not in started],
    )


def _key(group: dict[str, Any]) -> tuple[str | None, str | None]:
    return group["currency"], group["sip_group_name"]


def record_spikes(
    conn: duckdb.DuckDBPyConnection, day: date, until: datetime, above: list[dict[str, Any]]
) -> set[tuple[str | None, str | None]]:
    """Record the judgment of ``day`` at ``until`` in ``marts.spend_rate_spikes``; the (currency,
    group) pairs of ``above`` that start a spike now (none was lasting for them)."""
    conn.begin()
    try:
        lasting = {_key(row) for row in query_rows(conn, "open_spend_rate_spikes", {"call_date": day})}
        run_sql(
            conn,
            "record_spend_rate_spikes",
            {
                "call_date": day,
                "until": until,
                "currencies": [group["currency"] for group in above],
                "groups": [group["sip_group_name"] for group in above],
                "costs": [group["cost"] for group in above],
                "medians": [group["cost_median"] for group in above],
                "allowed": [group["allowed_deviation"] for group in above],
            },
        )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return {_key(group) for group in above} - lasting
