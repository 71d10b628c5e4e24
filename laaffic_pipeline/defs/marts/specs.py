"""``marts/call_facts`` and ``marts/daily_costs`` and their checks, as specs (built in ``defs/daily.py``).

Functions of the partitions and settings, which the definitions build when they load.
"""

from datetime import datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._utils.schedules import cron_string_iterator

from laaffic_pipeline.defs.laaffic.specs import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.defs.metadata import table_metadata
from laaffic_pipeline.settings import PipelineSettings
from laaffic_pipeline.warehouse.cost_anomalies import (
    FLOOR_ABSOLUTE,
    FLOOR_SHARE,
    HISTORY_DAYS,
    MIN_HISTORY_DAYS,
)
from laaffic_pipeline.warehouse.tables import (
    MARTS_CALL_FACTS,
    MARTS_DAILY_COSTS,
    MARTS_DAILY_COSTS_BY_CURRENCY,
)

CALL_FACTS_KEY = dg.AssetKey(["marts", "call_facts"])
DAILY_COSTS_KEY = dg.AssetKey(["marts", "daily_costs"])
COST_ANOMALY_CHECK = "costs_within_trailing_band"
SPEND_RATE_CHECK = "spend_rate_within_band"

FRESHNESS_GRACE_HOURS = 4
"""Hours after the nightly schedule's tick by which the marts should have been rebuilt."""


def freshness_deadline_cron(schedule_cron: str) -> str:
    """The nightly cron moved ``FRESHNESS_GRACE_HOURS`` later when it runs once a day at a fixed
    time (``M H * * *``, as the default ``0 2 * * *``); otherwise 06:00, the default's deadline."""
    fields = schedule_cron.split()
    if len(fields) == 5 and fields[0].isdigit() and fields[1].isdigit() and fields[2:] == ["*", "*", "*"]:
        return f"{fields[0]} {(int(fields[1]) + FRESHNESS_GRACE_HOURS) % 24} * * *"
    return "0 6 * * *"


INTRADAY_FRESHNESS_SLACK = timedelta(minutes=5)
"""Added to the intra-day cadence for a refresh's own run time before the UI warns."""


def longest_gap(cron: str, timezone: str, *, most_ticks: int = 2_000) -> timedelta:
    """The longest time between two ticks of ``cron`` over a week (``*/15 * * * *``: 15 minutes;
    one restricted to working hours: the night or the weekend), looking at ``most_ticks`` at most
    (a cron every minute is not walked for a whole week at every load)."""
    # Dagster's own cron walker (what its schedules use), so the zone and DST read as they do there.
    start = datetime(2026, 1, 5, tzinfo=ZoneInfo(timezone))
    ticks = cron_string_iterator(start.timestamp(), cron, timezone)
    previous, gap = next(ticks), timedelta(0)
    for tick in islice(ticks, most_ticks):
        gap = max(gap, tick - previous)
        if tick - start > timedelta(days=8):
            break
        previous = tick
    return gap


def mart_freshness(settings: PipelineSettings) -> dg.FreshnessPolicy:
    """With the intra-day refresh on, the marts should have been rebuilt within the refresh's cadence
    (plus its run time: a warning) or two (a failure): today's calls reach them that fast. Without
    it, by the nightly deadline they should have been rebuilt within the day before it, or the UI
    marks them as failing freshness (a missed night)."""
    if settings.intraday_refresh:
        cadence = longest_gap(settings.intraday_cron, settings.timezone)
        return dg.FreshnessPolicy.time_window(
            fail_window=2 * cadence + INTRADAY_FRESHNESS_SLACK, warn_window=cadence + INTRADAY_FRESHNESS_SLACK
        )
    return nightly_freshness(settings)


def nightly_freshness(settings: PipelineSettings) -> dg.FreshnessPolicy:
    """By the nightly deadline, the marts should have been rebuilt within the day before it (the
    late-data alert's rule, whether or not today is refreshed too)."""
    return dg.FreshnessPolicy.cron(
        deadline_cron=freshness_deadline_cron(settings.schedule_cron),
        lower_bound_delta=timedelta(hours=24),
        timezone=settings.timezone,
    )


def mart_specs(partitions: dg.PartitionsDefinition, settings: PipelineSettings) -> list[dg.AssetSpec]:
    freshness = mart_freshness(settings)
    return [
        dg.AssetSpec(
            CALL_FACTS_KEY,
            # Day D also reads raw D-1's voice ids (a call returned by two adjacent days stays in the
            # earlier one), but declares raw D alone: with D-1 declared too, a backfill of days up to
            # yesterday would also target today's marts (the day after its last), as a second run.
            deps=[RAW_CALL_RECORDS_KEY],
            partitions_def=partitions,
            skippable=True,
            group_name="marts",
            kinds={"duckdb"},
            freshness_policy=freshness,
            description=(
                "One row per call, typed and cleaned from the raw JSON (`marts.call_facts`): exact DECIMAL "
                "money in `cost_currency` (LAAFFIC_COST_CURRENCY), the record's `quote_currency`, settlement "
                "fields when sent, TIMESTAMPTZ times, country/region, answer and timing measures, billing "
                "reconciliation against the bill-period rule, and `quality_flags` naming every value that "
                "could not be parsed. A voice id returned by two adjacent days stays in the earlier. Each "
                "built day is also written to `exports/call_facts/call_date=<day>.parquet`."
            ),
            metadata=table_metadata(MARTS_CALL_FACTS),
        ),
        dg.AssetSpec(
            DAILY_COSTS_KEY,
            deps=[CALL_FACTS_KEY],
            partitions_def=partitions,
            skippable=True,
            group_name="marts",
            kinds={"duckdb"},
            freshness_policy=freshness,
            description=(
                "Calls, ASR, seconds, ACD, post-dial delay and cost (Laaffic's and expected) per day, group, "
                "phone, country and currency (`marts.daily_costs`); money is never summed across currencies. "
                f"`{MARTS_DAILY_COSTS_BY_CURRENCY}` rolls it up per day and currency. Each built day is also "
                "written to `exports/daily_costs/call_date=<day>.parquet`."
            ),
            metadata=table_metadata(MARTS_DAILY_COSTS),
        ),
    ]


CALL_FACTS_CHECKS = {
    "voice_id_unique": "Each of this day's voice ids appears once in the whole table (any day).",
    "voice_id_not_null": "Every row has a voice id (records the API sent without one are kept, flagged).",
    "required_fields_present": (
        "Rows missing a value needed to attribute or cost the call, per column. A warning: such rows "
        "are kept and flagged; flagged_share_below_threshold judges how many is too many."
    ),
    "flagged_share_below_threshold": (
        "At most LAAFFIC_MAX_FLAGGED_SHARE (default 5%) of the day's rows carry a quality flag."
    ),
    "billing_reconciles": (
        "Laaffic's chargedDuration and cost agree with the bill-period rule (cost within 0.000001); "
        "mismatches are counted with up to 10 sample voice ids each."
    ),
}
DAILY_COSTS_CHECKS = {
    "totals_match_call_facts": "Per currency, the day's totals equal the same sums over marts.call_facts.",
    COST_ANOMALY_CHECK: (
        "Per currency and SIP group, the day's total cost and calls lie within LAAFFIC_ANOMALY_BAND "
        f"robust standard deviations (1.4826 x MAD) of their median over the {HISTORY_DAYS} days "
        f"before (spread floored at {FLOOR_SHARE:.0%} of the median and at {FLOOR_ABSOLUTE:g}). Days "
        f"with fewer than {MIN_HISTORY_DAYS} built days before them pass, saying they were not judged."
    ),
    SPEND_RATE_CHECK: (
        "While the day is provisional, at each refresh: per currency and SIP group, the spend of calls "
        "that ended in the hour before the refresh's end lies at most LAAFFIC_SPEND_RATE_BAND robust "
        f"standard deviations above its median in the same local hour over the {HISTORY_DAYS} final "
        "days before (spread floored as for the daily band); spend below the band never fails. It fails "
        "once per spike, at the refresh that finds it (marts.spend_rate_spikes remembers it), so it is "
        "alerted once; later refreshes while it lasts pass, naming it. Final days, and days with fewer "
        f"than {MIN_HISTORY_DAYS} final days before them, pass, saying they were not judged."
    ),
}


def mart_check_specs(partitions: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    return [
        *(
            dg.AssetCheckSpec(name, asset=CALL_FACTS_KEY, description=text, partitions_def=partitions)
            for name, text in CALL_FACTS_CHECKS.items()
        ),
        *(
            dg.AssetCheckSpec(name, asset=DAILY_COSTS_KEY, description=text, partitions_def=partitions)
            for name, text in DAILY_COSTS_CHECKS.items()
        ),
    ]
