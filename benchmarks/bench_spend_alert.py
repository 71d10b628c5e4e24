"""The spend-rate alert's delay, measured: from the first call of a tenfold hour to the webhook.

    .venv/bin/python benchmarks/bench_spend_alert.py          # quick (make bench, ~3 min): 5,000 calls
    .venv/bin/python benchmarks/bench_spend_alert.py --full   # 5k and 50k calls x 15 and 5 min (~25 min)

One fixed day (``--day``, default 2026-12-06, the day of ``tests/defs/test_spend_rate_alert.py``) in
the default partition zone (UTC), so the figures come from the same calls on any date. The
simulator runs in its own process (``bench_intraday.SimulatorChild``) on a ``SettableClock`` this
script moves; from ``--spike-hour`` (13:00) for one hour, the calls one SIP group (``--group``,
support, billed in USD) submits cost ``--multiplier`` (10) times as much (the simulator's
``rate_multiplier_hour`` / ``rate_multiplier_group``). For each calls-per-day:

1. **History.** The 14 days before the day in one ranged run of the code location's job
   (``bench_intraday.Pipeline``, a SQLite instance from the repository's dagster.yaml), the clock
   pinned so they are final: the spend-rate check's history. Built once, copied for each case.
2. **Each case** (cadence x offset): the refresh grid placed so a tick falls ``offset`` minutes
   before the spike starts (the simulator's spike starts on the hour; shifting the grid instead of
   the spike is the same for the check, whose hour rolls with the refresh's end). A first read of
   the day one cadence before that tick, then a refresh every cadence: for each, the simulator's
   clock and the run's ``clock`` resource set to the tick, today's partition materialized in this
   process (``execute_in_process``), then the code location's own check-failure alert sensor
   (``laaffic_check_failure_alert``, with its resources from the definitions) evaluated once over
   the same instance with ``build_sensor_context``, as the daemon does, its webhook
   (``LAAFFIC_ALERT_WEBHOOK_URL``) a ``WebhookReceiver`` on 127.0.0.1 that stamps each arrival.
   The refreshes go on until one finds the spike over (the group back within the band) or
   ``--follow-min`` after the spike's start, so the alerts of the whole spike are counted.

Per case: the refresh whose ``spend_rate_within_band`` failed (simulated minutes after the spike's
first call), that run's seconds (real), the sensor's evaluation until the webhook received the
alert (real), the sensor's interval (the daemon evaluates it up to that long after the run ended),
and the delay: detection lag + run + delivery, and + the interval at worst. Not included: the
daemon's schedule tick latency and a scheduled run's process start and code import (a run worker
process, a few seconds). Target: exactly one spend-rate alert per spike.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import PARTITION_TIMEZONE, Target, report
from bench_intraday import REPO_ROOT, Pipeline, SimulatorChild

from laaffic_pipeline.alerts.sensors import CHECK_FAILURE_SENSOR_NAME
from laaffic_pipeline.defs.marts.specs import SPEND_RATE_CHECK
from laaffic_pipeline.warehouse.cost_anomalies import HISTORY_DAYS, spread

DEFAULT_DAY = date(2026, 12, 6)


@contextmanager
def webhook_receiver() -> Iterator[Any]:
    """The tests' webhook receiver on 127.0.0.1 (``tests/alerts/receivers.py``), stamping arrivals."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    from tests.alerts.receivers import WebhookReceiver

    with WebhookReceiver() as receiver:
        yield receiver


@dataclass
class Refresh:
    """One tick: its run, the spend-rate check's verdict for the spiked group, the sensor after it."""

    at: datetime
    minutes: float  # after the spike's first call
    run_s: float
    passed: bool
    spikes: list[str]  # currency/group pairs whose spike started at this refresh
    lasting: list[str]
    cost: float | None  # the spiked group's spend in the hour before the tick
    threshold: float | None  # median + band x spread: spend above it is a spike
    sensor_s: float
    alerts: list[tuple[str, float]]  # (kind and failed checks, seconds from the sensor's start to arrival)


@dataclass
class Case:
    records: int
    cadence: int
    offset: int
    first_read_s: float = 0.0
    refreshes: list[Refresh] = field(default_factory=list)
    spend_alerts: int = 0
    other_alerts: list[str] = field(default_factory=list)
    ended: bool = False  # a refresh found the spike over
    interval_s: int = 0  # the sensor's minimum interval: the daemon evaluates it at most this late

    @property
    def name(self) -> str:
        return f"{self.records // 1000}k_{self.cadence}min_+{self.offset}"

    @property
    def detected(self) -> Refresh | None:
        return next((r for r in self.refreshes if not r.passed), None)

    @property
    def last_below(self) -> Refresh | None:
        """The last refresh before detection: the band was crossed between it and the detecting one."""
        detected = self.detected
        before = [r for r in self.refreshes if detected is not None and r.at < detected.at]
        return before[-1] if before else None


def spiked_group_figures(evaluation: Any, currency: str, group: str) -> tuple[float | None, float | None]:
    """The group's spend in the check's hour and the spend above which it is a spike."""
    metadata = evaluation.metadata
    band = metadata["band_robust_sd"].value
    for row in metadata["groups"].value:
        if (row["currency"], row["sip_group_name"]) == (currency, group) and row["cost_median"] is not None:
            return row["cost"], row["cost_median"] + band * spread(row["cost_median"], row["cost_mad"])
    return None, None


def pairs(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{row['currency']}/{row['sip_group_name']}" for row in rows]


def build_history(simulator: SimulatorChild, folder: Path, day: date, at: datetime) -> float:
    """The 14 final days before ``day`` in ``folder``'s warehouse, in one ranged run; its seconds."""
    pipeline = Pipeline(folder, simulator.base_url, day, start=day - timedelta(days=HISTORY_DAYS))
    simulator.at(at)
    figures = pipeline.run_at(at, first=day - timedelta(days=HISTORY_DAYS))
    if not figures["success"]:
        raise SystemExit(f"the history run failed: {figures['failure']}")
    return figures["run_s"]


def run_case(
    simulator: SimulatorChild, template: Path, folder: Path, day: date, spike: datetime, args: Any, case: Case
) -> Case:
    """Refresh the day on the case's grid until the spike is over (or ``--follow-min``), the alert
    sensor evaluated after each refresh."""
    shutil.copytree(template / "data", folder / "data")
    cadence = timedelta(minutes=case.cadence)
    with webhook_receiver() as webhook:
        pipeline = Pipeline(
            folder,
            simulator.base_url,
            day,
            start=day - timedelta(days=HISTORY_DAYS),
            settings={"LAAFFIC_ALERT_WEBHOOK_URL": webhook.url},
        )
        from dagster import build_sensor_context

        repository = pipeline.defs.get_repository_def()
        sensor_def = repository.get_sensor_def(CHECK_FAILURE_SENSOR_NAME)
        case.interval_s = sensor_def.minimum_interval_seconds or 0

        def evaluate(cursor: str | None) -> tuple[str | None, float, float]:
            """One sensor tick as the daemon runs it; the new cursor, its seconds and its start."""
            context = build_sensor_context(
                instance=pipeline.instance,
                cursor=cursor,
                repository_def=repository,
                sensor_name=CHECK_FAILURE_SENSOR_NAME,
                resources=repository.get_top_level_resources(),  # as the daemon gives them
            )
            started = time.perf_counter()
            result = sensor_def.evaluate_tick(context)
            return result.cursor, time.perf_counter() - started, started

        cursor, _, _ = evaluate(None)  # the sensor's first tick: it watches from now on
        tick = spike - timedelta(minutes=case.offset)
        simulator.at(tick - cadence)
        first = pipeline.run_at(tick - cadence)
        case.first_read_s = first["run_s"]
        cursor, _, _ = evaluate(cursor)
        while True:
            simulator.at(tick)
            figures = pipeline.run_at(tick)
            if not figures["success"]:
                raise SystemExit(f"the refresh at {tick:%H:%M} failed: {figures['failure']}")
            check = figures["evaluations"][(SPEND_RATE_CHECK, day.isoformat())]
            seen = len(webhook.bodies)
            cursor, sensor_s, started = evaluate(cursor)
            arrived = []
            for body, arrival in zip(webhook.bodies[seen:], webhook.arrivals[seen:], strict=True):
                alert = body["alert"]
                what = f"{alert['kind']} {','.join(alert['failed'])}"
                arrived.append((what, arrival - started))
                if any(name.endswith(f":{SPEND_RATE_CHECK}") for name in alert["failed"]):
                    case.spend_alerts += 1
                else:
                    case.other_alerts.append(f"{tick:%H:%M} {what}")
            cost, threshold = spiked_group_figures(check, args.currency, args.group)
            metadata = check.metadata
            refresh = Refresh(
                at=tick,
                minutes=(tick - spike).total_seconds() / 60,
                run_s=figures["run_s"],
                passed=check.passed,
                spikes=pairs(metadata["spikes"].value),
                lasting=pairs(metadata["lasting_spikes"].value),
                cost=cost,
                threshold=threshold,
                sensor_s=sensor_s,
                alerts=arrived,
            )
            case.refreshes.append(refresh)
            print_refresh(refresh)
            if case.detected is not None and refresh.passed and not refresh.lasting:
                case.ended = True
                break
            if tick - spike >= timedelta(minutes=args.follow_min):
                break
            tick += cadence
    return case


def print_refresh(r: Refresh) -> None:
    spend = f"{r.cost:8.2f} / {r.threshold:8.2f}" if r.cost is not None and r.threshold else " " * 19
    verdict = "FAILED " + ",".join(r.spikes) if not r.passed else "passed"
    if r.lasting:
        verdict += " (lasting " + ",".join(r.lasting) + ")"
    alerts = "; ".join(f"{what} after {seconds:.2f} s" for what, seconds in r.alerts)
    print(
        f"    {r.at:%H:%M} ({r.minutes:+5.0f} min) spend/threshold {spend}  run {r.run_s:5.2f} s  "
        f"sensor {r.sensor_s:4.2f} s  {verdict}" + (f"  -> webhook: {alerts}" if alerts else ""),
        flush=True,
    )


def summarize(case: Case) -> dict[str, Any]:
    detected = case.detected
    figures: dict[str, Any] = {
        "first_read_s": case.first_read_s,
        "refreshes": len(case.refreshes),
        "spend_alerts": case.spend_alerts,
        "other_alerts": case.other_alerts,
        "spike_over_seen": case.ended,
        "sensor_interval_s": case.interval_s,
    }
    if detected is None:
        return figures | {"alerted": False}
    delivery = [seconds for what, seconds in detected.alerts if SPEND_RATE_CHECK in what]
    delivery_s = delivery[0] if delivery else float("nan")
    below = case.last_below
    lag_s = detected.minutes * 60
    return figures | {
        "alerted": True,
        "alert_tick": f"{detected.at:%H:%M}",
        "detection_lag_min": detected.minutes,
        "crossed_after_min": below.minutes if below is not None else None,
        "run_s": detected.run_s,
        "delivery_s": delivery_s,
        "delay_s": lag_s + detected.run_s + delivery_s,
        "delay_worst_s": lag_s + detected.run_s + delivery_s + case.interval_s,
        "spend_at_alert": detected.cost,
        "threshold_at_alert": detected.threshold,
    }


def print_table(rows: list[tuple[Case, dict[str, Any]]], spike: datetime) -> None:
    print(
        f"\nSpike: the {spike:%H:%M} hour's calls cost more, from its first call at {spike:%H:%M}; "
        "delay = detection lag (simulated) + refresh run + sensor to webhook (real); worst: + the sensor's "
        "interval"
    )
    print(
        f"  {'case':<16} {'tick before':>11} {'alert tick':>10} {'lag min':>7} {'crossed in':>12} "
        f"{'run s':>6} {'deliver s':>9} {'interval s':>10} {'delay min':>9} {'worst min':>9} "
        f"{'alerts':>6} {'refreshes':>9}"
    )
    for case, r in rows:
        before = spike - timedelta(minutes=case.offset)
        if not r["alerted"]:
            print(
                f"  {case.name:<16} {before:%H:%M}{'':>6} NEVER alerted in {r['refreshes']} refreshes "
                f"(to {case.refreshes[-1].at:%H:%M})"
            )
            continue
        crossed = r["crossed_after_min"]
        window = f"{crossed:+.0f}..{r['detection_lag_min']:+.0f}" if crossed is not None else "-"
        print(
            f"  {case.name:<16} {before:%H:%M}{'':>6} {r['alert_tick']:>10} {r['detection_lag_min']:>7.0f} "
            f"{window:>12} {r['run_s']:>6.2f} {r['delivery_s']:>9.3f} {r['sensor_interval_s']:>10} "
            f"{r['delay_s'] / 60:>9.1f} {r['delay_worst_s'] / 60:>9.1f} {r['spend_alerts']:>6} "
            f"{r['refreshes']:>9}" + ("" if r["spike_over_seen"] else " (spike still on at the end)")
        )


def measure(
    simulator: SimulatorChild,
    records: int,
    cadences: list[int],
    spike: datetime,
    args: Any,
    work: Path,
    figures: dict[str, Any],
) -> list[tuple[Case, dict[str, Any]]]:
    """The history of ``records`` calls a day, then every cadence x offset on a copy of it."""
    template = work / f"history-{records}"
    # Every history day final (its calls ended 65 min before), the day itself not touched.
    history_s = build_history(simulator, template, args.day, spike - timedelta(hours=6))
    figures[f"{records // 1000}k_history_run_s"] = history_s
    print(f"{records:,} calls a day: {HISTORY_DAYS} days of history, {history_s:.1f} s", flush=True)
    rows = []
    for minutes in cadences:
        offsets = args.offsets or [0, minutes // 3, 2 * minutes // 3]
        for offset in sorted({offset % minutes for offset in offsets}):
            case = Case(records, minutes, offset)
            print(f"  {case.name}: every {minutes} min, the spike {offset} min after a tick", flush=True)
            run_case(simulator, template, work / case.name, args.day, spike, args, case)
            summary = summarize(case)
            rows.append((case, summary))
            figures |= {f"{case.name}_{key}": value for key, value in summary.items()}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--full", action="store_true", help="5,000 and 50,000 calls x 15 and 5 minutes")
    parser.add_argument("--calls", type=int, nargs="+", help="calls per day (default 5,000; --full: both)")
    parser.add_argument("--cadences", type=int, nargs="+", help="minutes between refreshes (default 15)")
    parser.add_argument(
        "--offsets",
        type=int,
        nargs="+",
        help="minutes from the tick before the spike to its start (default 0, 1/3 and 2/3 of the cadence)",
    )
    parser.add_argument("--day", type=date.fromisoformat, default=DEFAULT_DAY)
    parser.add_argument("--spike-hour", type=int, default=13, help="UTC hour of the tenfold spend")
    parser.add_argument("--group", default="support", help="SIP group that spends more")
    parser.add_argument("--currency", default="USD", help="the group's currency")
    parser.add_argument("--multiplier", type=float, default=10.0)
    parser.add_argument("--follow-min", type=int, default=180, help="last tick, minutes after the spike")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="simulated latency per request")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    calls = args.calls or ([5_000, 50_000] if args.full else [5_000])
    cadences = args.cadences or ([15, 5] if args.full else [15])
    if PARTITION_TIMEZONE != "UTC":
        raise SystemExit(f"the spike hour is a UTC hour; the default partition zone is {PARTITION_TIMEZONE}")
    spike = datetime.combine(args.day, datetime.min.time(), UTC) + timedelta(hours=args.spike_hour)
    faults = {
        "rate_multiplier_hour": f"{spike:%Y-%m-%dT%H}",
        "rate_multiplier_group": args.group,
        "rate_multiplier": args.multiplier,
    }
    figures: dict[str, Any] = {
        "day": args.day,
        "spike": f"{spike:%H:%M}-{spike + timedelta(hours=1):%H:%M} UTC, {args.group} x{args.multiplier:g}",
        "latency_ms": args.latency_ms,
    }
    rows: list[tuple[Case, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-spend-alert-") as work:
        for records in calls:
            simulator = SimulatorChild(records, args.latency_ms, args.seed, args.day, faults)
            try:
                rows += measure(simulator, records, cadences, spike, args, Path(work), figures)
            finally:
                simulator.close()
    print_table(rows, spike)
    wrong = [case.name for case, r in rows if r["spend_alerts"] != 1]
    figures["cases_without_exactly_one_alert"] = wrong
    report(
        "spend_alert",
        f"Spend-rate alert ({args.day}): from a tenfold hour's first call to the webhook",
        figures,
        [Target("cases without exactly one spend-rate alert", len(wrong), 0, "")],
    )


if __name__ == "__main__":
    main()
