"""Sensor factories: run failures, failed asset checks and a late marts day, each sent as an ``Alert``.

One cause, one message: a run that fails is alerted by the run-failure sensor, its failed checks
listed in that alert (a day failing its page-count check fails the run as well), and the
check-failure sensor leaves such runs to it; it alerts on the failed checks of runs that did not
fail (WARN checks: schema drift, cost anomalies) or whose job the run-failure sensor does not watch.

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
    AssetCheckEvaluation,
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DailyPartitionsDefinition,
    DefaultSensorStatus,
    EventLogEntry,
    EventLogRecord,
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


def failed_check_names(evaluations: Sequence[AssetCheckEvaluation]) -> list[str]:
    """``asset:check`` of each failed evaluation, in order."""
    return [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations]


def failed_check_lines(evaluations: Sequence[AssetCheckEvaluation]) -> list[str]:
    """One line per failed evaluation: ``asset:check [day]: description``."""
    return [
        f"{name}{f' [{e.partition}]' if e.partition else ''}: {e.description or 'failed'}"
        for name, e in zip(failed_check_names(evaluations), evaluations, strict=True)
    ]


def failed_checks_of_run(instance: DagsterInstance, run_id: str) -> list[AssetCheckEvaluation]:
    """The run's asset check evaluations that did not pass, in the order they were recorded."""
    evaluations = [
        entry.dagster_event.asset_check_evaluation_data  # type: ignore[union-attr]
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    return [evaluation for evaluation in evaluations if not evaluation.passed]


def run_failure_alert(
    context: RunFailureSensorContext,
    ui_url: str,
    failed_checks: Sequence[AssetCheckEvaluation] = (),
) -> Alert:
    """What failed in the run: its job, partition, failed steps and the first step's error chain,
    and the asset checks that failed in it (reported here, not again by the check sensor)."""
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
    checks = failed_check_lines(failed_checks)
    return Alert(
        title=f"Run of {run.job_name} failed" + (f" for {days}" if days else ""),
        kind="run_failure",
        job=run.job_name,
        partitions=partitions,
        failed=tuple(
            dict.fromkeys(
                [event.step_key for event in steps if event.step_key] + failed_check_names(failed_checks)
            )
        ),
        error=summarize_error("\n".join([summary, *(["Failed checks:", *checks] if checks else [])])),
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
    """Alert once per failed run of ``job_names`` (runs of other jobs are skipped), naming the run's
    failed asset checks too: give ``build_check_failure_alert_sensor`` the same ``job_names`` as
    ``run_failure_jobs`` so it does not alert on them a second time."""
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
        failed_checks = failed_checks_of_run(context.instance, context.dagster_run.run_id)
        alerts.send(run_failure_alert(context, alerts.ui_url, failed_checks), context.log)
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
        names = failed_check_names(evaluations)
        partitions = tuple(dict.fromkeys(e.partition for e in evaluations if e.partition))
        severity = "ERROR" if any(e.severity.value == "ERROR" for e in evaluations) else "WARN"
        errors = failed_check_lines(evaluations)
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
    run_failure_jobs: Sequence[str] | None = None,
    name: str = CHECK_FAILURE_SENSOR_NAME,
    minimum_interval_seconds: int = 60,
) -> SensorDefinition:
    """Alert on failed asset checks (WARN and ERROR) of ``asset_keys`` (None: every asset), once per
    run, when the run has ended.

    A failed run of one of ``run_failure_jobs`` is left to the run-failure sensor, whose alert
    names its failed checks: one cause, one message. None (the default) leaves every failed run
    to it, right for a code location whose run-failure sensor watches all its jobs; ``()`` alerts
    on the checks of failed runs too.

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
        judged = [record for record in ended if not _left_to_run_failure_sensor(record, run_failure_jobs)]
        entries = [
            entry
            for record in judged
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
            left = len(ended) - len(judged)
            return SkipReason(
                f"{len(ended)} runs ended, no failed checks"
                + (f" outside the {left} failed run(s) the run-failure alert reports" if left else "")
            )
        return None

    return check_failure_alert_sensor


def _left_to_run_failure_sensor(record: EventLogRecord, run_failure_jobs: Sequence[str] | None) -> bool:
    """Whether this run-ended record is a failure the run-failure sensor alerts on (checks included)."""
    entry = record.event_log_entry
    if entry.dagster_event is None or entry.dagster_event.event_type != DagsterEventType.RUN_FAILURE:
        return False
    return run_failure_jobs is None or entry.job_name in run_failure_jobs


@dataclass(frozen=True)
class CronDeadline:
    """A deadline that follows a cron: each tick of ``deadline_cron`` (in ``timezone``) plus ``grace``.

    From a cron ``FreshnessPolicy`` (``CronDeadline.of``), the policy's deadline itself (no grace);
    from a schedule (``CronDeadline.after``), ``grace`` after each of its ticks, so the deadline
    moves with the schedule. The marts are due as built since ``deadline - lower_bound_delta``, for
    the last day complete at the tick (the day before it, locally: what a daily schedule runs).
    """

    deadline_cron: str
    lower_bound_delta: timedelta
    timezone: str
    grace: timedelta = timedelta(0)

    @classmethod
    def of(cls, policy: FreshnessPolicy) -> CronDeadline:
        """The cron policy's settings, read from its public attributes; TypeError for other kinds."""
        try:
            return cls(policy.deadline_cron, policy.lower_bound_delta, policy.timezone)  # type: ignore[attr-defined]
        except AttributeError:
            raise TypeError("build_late_data_alert_sensor needs a FreshnessPolicy.cron(...) policy") from None

    @classmethod
    def after(cls, cron: str, grace: timedelta, lower_bound_delta: timedelta, timezone: str) -> CronDeadline:
        """``grace`` after each tick of ``cron`` in ``timezone`` (e.g. the nightly schedule's)."""
        if grace < timedelta(0):
            raise ValueError(f"grace must not be negative, got {grace}")
        _cron_ticks(cron, timezone)  # a bad cron fails here, when the definitions load
        return cls(cron, lower_bound_delta, timezone, grace)

    def latest_tick(self, now: datetime) -> datetime:
        """The last time ``deadline_cron`` fired at or before ``now - grace``, in ``timezone``.

        Each cron tick ends a window of this time-window partitions definition, so the end of its
        last complete window (the partitions as of that moment) is the latest completed tick.
        """
        ticks = _cron_ticks(self.deadline_cron, self.timezone)
        with partition_loading_context(effective_dt=now - self.grace):
            last = ticks.get_last_partition_key()
        if last is None:
            raise ValueError(f"{self.deadline_cron} ({self.timezone}) has not fired before {now.isoformat()}")
        return ticks.time_window_for_partition_key(last).end

    def latest_deadline(self, now: datetime) -> tuple[datetime, datetime]:
        """The latest deadline at or before ``now`` and the cron tick it follows, both in ``timezone``."""
        zone = ZoneInfo(self.timezone)
        tick = self.latest_tick(now).astimezone(zone)
        return (tick.astimezone(UTC) + self.grace).astimezone(zone), tick

    def describe(self) -> str:
        """``'0 6 * * *' in UTC`` or ``4:00:00 after '0 2 * * *' in UTC``."""
        after = f"{_duration(self.grace)} after " if self.grace else ""
        return f"{after}'{self.deadline_cron}' in {self.timezone}"


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


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
    lower_bound_delta``) or the day the deadline is for (``expected_partition``) was never built.
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
            ("Deadline", f"{deadline:%Y-%m-%d %H:%M} {policy.timezone} ({policy.describe()})"),
            ("Time zone", partitions_def.timezone),
        ),
    )


def build_late_data_alert_sensor(
    asset_key: AssetKey,
    freshness_policy: FreshnessPolicy,
    partitions_def: DailyPartitionsDefinition,
    *,
    enabled: bool,
    deadline_after_cron: str | None = None,
    grace: timedelta = timedelta(hours=4),
    name: str = LATE_DATA_SENSOR_NAME,
    minimum_interval_seconds: int = 300,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SensorDefinition:
    """Alert once per missed deadline of ``asset_key``: that of its cron ``freshness_policy``, or,
    with ``deadline_after_cron`` (the nightly schedule's cron, in ``partitions_def``'s zone),
    ``grace`` after each of its ticks, so the deadline follows ``LAAFFIC_SCHEDULE_CRON``; the
    policy then gives only how recent a build must be (``lower_bound_delta``).

    The cursor is the last deadline alerted on, so a late day is reported once, not every tick.
    """
    policy = CronDeadline.of(freshness_policy)
    if deadline_after_cron is not None:
        policy = CronDeadline.after(
            deadline_after_cron, grace, policy.lower_bound_delta, partitions_def.timezone
        )
    zone = ZoneInfo(policy.timezone)

    @sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status(enabled),
        description=(
            f"Sends an alert when {asset_key.to_user_string()} misses its deadline "
            f"({policy.describe()}) or the last day complete at the cron's tick was not built."
        ),
    )
    def late_data_alert_sensor(context: SensorEvaluationContext, alerts: AlertResource):
        now = clock().astimezone(zone)
        deadline, tick = policy.latest_deadline(now)
        if context.cursor == deadline.isoformat():
            return SkipReason(f"already alerted for the deadline {deadline.isoformat()}")
        expected = (tick.date() - timedelta(days=1)).strftime(partitions_def.fmt)
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
