"""Sensor factories: run failures, failed asset checks and a late marts day, each sent as an ``Alert``.

Each sensor asks for the ``alerts`` resource (``AlertResource``) and is RUNNING by default only
when a channel is configured (``enabled``); otherwise it is STOPPED, still listed in the UI.
They use Dagster's own sensor machinery and cursors: run failures through ``@run_failure_sensor``,
check results per ended run (run status changes after the cursor's storage id, then each run's
``ASSET_CHECK_EVALUATION`` events), lateness with the rule Dagster's cron ``FreshnessPolicy``
evaluator applies.
Only public Dagster APIs: the run tags are written out below, cron ticks come from a
``TimeWindowPartitionsDefinition`` on the deadline cron.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DailyPartitionsDefinition,
    DefaultSensorStatus,
    EventLogEntry,
    FreshnessPolicy,
    RunFailureSensorContext,
    RunStatusChangeRecordsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    TimeWindowPartitionsDefinition,
    partition_loading_context,
    run_failure_sensor,
    sensor,
)

from laaffic_pipeline.alerts.messages import Alert, asset_link, run_link, summarize_error
from laaffic_pipeline.alerts.resource import AlertResource

RUN_FAILURE_SENSOR_NAME = "laaffic_run_failure_alert"
CHECK_FAILURE_SENSOR_NAME = "laaffic_check_failure_alert"
LATE_DATA_SENSOR_NAME = "laaffic_late_marts_alert"
MAX_RUNS_PER_TICK = 100
# A run's check results are read once it has ended, whichever way it ended.
RUN_ENDED_EVENTS = (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED)

# The run tags Dagster sets: one partition, or the first and last of a ranged run (a backfill).
PARTITION_TAG = "dagster/partition"
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def default_status(enabled: bool) -> DefaultSensorStatus:
    return DefaultSensorStatus.RUNNING if enabled else DefaultSensorStatus.STOPPED


def run_partitions(tags: dict[str, str]) -> tuple[str, ...]:
    """The days a run built: its one partition (``dagster/partition``) or each day of its range.

    A ranged run (``dagster/asset_partition_range_start``/``_end``) gives every day from the first
    to the last, in order; a range whose ends are not ISO days gives just its two ends.
    """
    if PARTITION_TAG in tags:
        return (tags[PARTITION_TAG],)
    if PARTITION_RANGE_START_TAG not in tags:
        return ()
    start = tags[PARTITION_RANGE_START_TAG]
    end = tags.get(PARTITION_RANGE_END_TAG, start)
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return tuple(dict.fromkeys((start, end)))
    return tuple((first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1))


def describe_partitions(partitions: Sequence[str]) -> str:
    """One day as itself; several as ``first..last (N days)``, for a one-line title."""
    if len(partitions) <= 1:
        return "".join(partitions)
    return f"{partitions[0]}..{partitions[-1]} ({len(partitions)} days)"


def run_failure_alert(context: RunFailureSensorContext, ui_url: str) -> Alert:
    """What failed in the run: its job, partition, failed steps and the first step's error chain."""
    run = context.dagster_run
    steps = context.get_step_failure_events()
    if steps:
        error = steps[0].event_specific_data.error  # type: ignore[union-attr]
        messages = []
        while error is not None:  # retries and Failure wrap the real cause
            messages.append(error.message)
            error = error.cause
        summary = "\n".join(messages)
    else:  # the run failed outside any step (e.g. its worker died)
        summary = context.failure_event.message or "the run failed"
    partitions = run_partitions(dict(run.tags))
    days = describe_partitions(partitions)
    return Alert(
        title=f"Run of {run.job_name} failed" + (f" for {days}" if days else ""),
        kind="run_failure",
        job=run.job_name,
        partitions=partitions,
        failed=tuple(dict.fromkeys(event.step_key or "" for event in steps if event.step_key)),
        error=summarize_error(summary),
        link=run_link(ui_url, run.run_id),
        details=(("Run id", run.run_id),),
    )


def build_run_failure_alert_sensor(
    job_names: Sequence[str],
    *,
    enabled: bool,
    name: str = RUN_FAILURE_SENSOR_NAME,
    minimum_interval_seconds: int = 30,
) -> SensorDefinition:
    """Alert once per failed run of ``job_names`` (runs of other jobs are skipped)."""
    watched = frozenset(job_names)

    # monitored_jobs is left to its default (this code location's jobs) and filtered by name here,
    # so the factory needs only names, not the job objects being restructured.
    @run_failure_sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status(enabled),
        description=f"Sends an alert (webhook / e-mail) when a run of {', '.join(sorted(watched))} fails.",
    )
    def run_failure_alert_sensor(context: RunFailureSensorContext, alerts: AlertResource):
        if context.dagster_run.job_name not in watched:
            return SkipReason(f"run of {context.dagster_run.job_name} is not watched")
        alerts.send(run_failure_alert(context, alerts.ui_url), context.log)
        return None

    return run_failure_alert_sensor


def check_failure_alerts(
    entries: Sequence[EventLogEntry], job_by_run: dict[str, str], ui_url: str
) -> list[Alert]:
    """One alert per run for its failed check evaluations in ``entries``."""
    failed_by_run: dict[str, list] = defaultdict(list)
    for entry in entries:
        evaluation = entry.dagster_event.asset_check_evaluation_data  # type: ignore[union-attr]
        if not evaluation.passed:
            failed_by_run[entry.run_id].append(evaluation)
    alerts = []
    for run_id, evaluations in failed_by_run.items():
        names = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations]
        partitions = tuple(dict.fromkeys(e.partition for e in evaluations if e.partition))
        severity = "ERROR" if any(e.severity.value == "ERROR" for e in evaluations) else "WARN"
        errors = [f"{name}: {e.description or 'failed'}" for name, e in zip(names, evaluations, strict=True)]
        first = evaluations[0].asset_key
        alerts.append(
            Alert(
                title=(
                    f"{len(evaluations)} asset check{'s' if len(evaluations) > 1 else ''} failed"
                    + (f" for {', '.join(partitions)}" if partitions else "")
                ),
                kind="check_failure",
                severity=severity,
                job=job_by_run.get(run_id),
                partitions=partitions,
                failed=tuple(names),
                error=summarize_error("\n".join(errors)),
                link=run_link(ui_url, run_id) or asset_link(ui_url, first.path),
                details=(("Run id", run_id),),
            )
        )
    return alerts


def build_check_failure_alert_sensor(
    *,
    enabled: bool,
    asset_keys: Sequence[AssetKey] | None = None,
    name: str = CHECK_FAILURE_SENSOR_NAME,
    minimum_interval_seconds: int = 60,
) -> SensorDefinition:
    """Alert on failed asset checks (WARN and ERROR) of ``asset_keys`` (None: every asset), once per
    run, when the run has ended.

    The cursor is the storage id of the last run-ended event (success, failure, cancel) seen: run
    status changes have ids in one sequence on every instance storage (SQLite mirrors them in its
    index shard), whereas check evaluations on the default SQLite storage are kept per run, where
    a storage id is no cursor at all. The first tick only records where the log ends, so turning
    the sensor on never replays old failures.
    """
    watched = set(asset_keys) if asset_keys is not None else None

    @sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status(enabled),
        description="Sends an alert (webhook / e-mail) for each run's failed asset checks, WARN included.",
    )
    def check_failure_alert_sensor(context: SensorEvaluationContext, alerts: AlertResource):
        instance = context.instance
        if context.cursor is None:
            latest = [
                record.storage_id
                for event_type in RUN_ENDED_EVENTS
                for record in instance.fetch_run_status_changes(event_type, limit=1).records
            ]
            context.update_cursor(str(max(latest, default=0)))
            return SkipReason("started watching asset check results from now on")
        after = int(context.cursor)
        ended = sorted(
            (
                record
                for event_type in RUN_ENDED_EVENTS
                for record in instance.fetch_run_status_changes(
                    RunStatusChangeRecordsFilter(event_type, after_storage_id=after),
                    limit=MAX_RUNS_PER_TICK,
                    ascending=True,
                ).records
            ),
            key=lambda record: record.storage_id,
        )[:MAX_RUNS_PER_TICK]  # the rest, with higher ids, next tick
        if not ended:
            return SkipReason("no run has ended")
        entries = [
            entry
            for record in ended
            for entry in instance.all_logs(
                record.event_log_entry.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
            )
        ]
        if watched is not None:
            entries = [
                entry
                for entry in entries
                if entry.dagster_event.asset_check_evaluation_data.asset_key in watched  # type: ignore[union-attr]
            ]
        job_by_run = {
            record.event_log_entry.run_id: record.event_log_entry.job_name
            for record in ended
            if record.event_log_entry.job_name
        }
        alerts_to_send = check_failure_alerts(entries, job_by_run, alerts.ui_url)
        for alert in alerts_to_send:
            alerts.send(alert, context.log)
        context.update_cursor(str(ended[-1].storage_id))
        if not alerts_to_send:
            return SkipReason(f"{len(ended)} runs ended, no failed checks")
        return None

    return check_failure_alert_sensor


@dataclass(frozen=True)
class CronDeadline:
    """A cron ``FreshnessPolicy`` (``FreshnessPolicy.cron(...)``): the deadline and its window."""

    deadline_cron: str
    lower_bound_delta: timedelta
    timezone: str

    @classmethod
    def of(cls, policy: FreshnessPolicy) -> CronDeadline:
        """The cron policy's settings, read from its public attributes; TypeError for other kinds."""
        try:
            return cls(policy.deadline_cron, policy.lower_bound_delta, policy.timezone)  # type: ignore[attr-defined]
        except AttributeError:
            raise TypeError("build_late_data_alert_sensor needs a FreshnessPolicy.cron(...) policy") from None

    def latest_tick(self, now: datetime) -> datetime:
        """The last time ``deadline_cron`` fired at or before ``now``, in ``timezone``.

        Each cron tick ends a window of this time-window partitions definition, so the end of its
        last complete window (the partitions as of ``now``) is the latest completed tick.
        """
        ticks = _cron_ticks(self.deadline_cron, self.timezone)
        with partition_loading_context(effective_dt=now):
            last = ticks.get_last_partition_key()
        if last is None:
            raise ValueError(f"{self.deadline_cron} ({self.timezone}) has not fired before {now.isoformat()}")
        return ticks.time_window_for_partition_key(last).end


@functools.cache
def _cron_ticks(cron: str, timezone: str) -> TimeWindowPartitionsDefinition:
    return TimeWindowPartitionsDefinition(
        cron_schedule=cron, start=datetime(2000, 1, 1), timezone=timezone, fmt="%Y-%m-%dT%H:%M%z"
    )


def late_data_alert(
    asset_key: AssetKey,
    policy: CronDeadline,
    partitions_def: DailyPartitionsDefinition,
    deadline: datetime,
    last_materialized: datetime | None,
    expected_partition: str,
    expected_partition_built: bool,
    ui_url: str,
) -> Alert | None:
    """An alert when ``asset_key`` misses the deadline that has just passed, else None.

    Late means Dagster's cron freshness rule fails (no materialization since ``deadline -
    lower_bound_delta``) or the day the deadline is for (the day before it, locally) was never built.
    """
    window_start = deadline - policy.lower_bound_delta
    stale = last_materialized is None or last_materialized < window_start
    if not stale and expected_partition_built:
        return None
    facts = []
    if stale:
        facts.append(
            f"not materialized since {window_start:%Y-%m-%d %H:%M %Z}"
            + (f" (last: {last_materialized:%Y-%m-%d %H:%M %Z})" if last_materialized else " (never)")
        )
    if not expected_partition_built:
        facts.append(f"partition {expected_partition} has not been built")
    return Alert(
        title=f"{asset_key.to_user_string()} is late for {expected_partition}",
        kind="late_data",
        severity="WARN",
        partitions=(expected_partition,),
        failed=(f"{asset_key.to_user_string()} freshness",),
        error="; ".join(facts),
        link=asset_link(ui_url, asset_key.path),
        details=(
            ("Deadline", f"{deadline:%Y-%m-%d %H:%M} {policy.timezone} ({policy.deadline_cron})"),
            ("Time zone", partitions_def.timezone),
        ),
    )


def build_late_data_alert_sensor(
    asset_key: AssetKey,
    freshness_policy: FreshnessPolicy,
    partitions_def: DailyPartitionsDefinition,
    *,
    enabled: bool,
    name: str = LATE_DATA_SENSOR_NAME,
    minimum_interval_seconds: int = 300,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SensorDefinition:
    """Alert once per missed deadline of ``asset_key``'s cron ``freshness_policy``.

    The cursor is the last deadline alerted on, so a late day is reported once, not every tick.
    """
    policy = CronDeadline.of(freshness_policy)
    zone = ZoneInfo(policy.timezone)

    @sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status(enabled),
        description=(
            f"Sends an alert when {asset_key.to_user_string()} misses its freshness deadline "
            f"({policy.deadline_cron} {policy.timezone}) or the day before it was not built."
        ),
    )
    def late_data_alert_sensor(context: SensorEvaluationContext, alerts: AlertResource):
        now = clock().astimezone(zone)
        deadline = policy.latest_tick(now).astimezone(zone)
        if context.cursor == deadline.isoformat():
            return SkipReason(f"already alerted for the deadline {deadline.isoformat()}")
        expected = (deadline.date() - timedelta(days=1)).strftime(partitions_def.fmt)
        if expected not in partitions_def.get_partition_keys(current_time=now):
            return SkipReason(f"partition {expected} does not exist")
        instance = context.instance
        event = instance.get_latest_materialization_event(asset_key)
        last = datetime.fromtimestamp(event.timestamp, zone) if event else None
        built = bool(
            instance.fetch_materializations(
                AssetRecordsFilter(asset_key=asset_key, asset_partitions=[expected]), limit=1
            ).records
        )
        alert = late_data_alert(
            asset_key, policy, partitions_def, deadline, last, expected, built, alerts.ui_url
        )
        if alert is None:
            return SkipReason(f"{asset_key.to_user_string()} is fresh for {expected}")
        alerts.send(alert, context.log)
        context.update_cursor(deadline.isoformat())
        return None

    return late_data_alert_sensor
