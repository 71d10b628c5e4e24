"""The alert sensors, evaluated by Dagster's sensor machinery against a real instance and real runs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetMaterialization,
    DagsterInstance,
    DailyPartitionsDefinition,
    DefaultSensorStatus,
    Definitions,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    asset,
    build_sensor_context,
    define_asset_job,
    job,
    op,
)

from laaffic_pipeline.alerts.resource import ALERTS_RESOURCE_KEY, AlertResource
from laaffic_pipeline.alerts.sensors import (
    CronDeadline,
    build_check_failure_alert_sensor,
    build_late_data_alert_sensor,
    build_run_failure_alert_sensor,
    run_partitions,
)
from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.marts.specs import DAILY_COSTS_KEY
from laaffic_pipeline.settings import AlertSettings
from laaffic_pipeline.simulator import FaultConfig
from tests.defs.pipeline import make_pipeline

UI = "http://dagster.test:3000"
WRONG_SECRET = "wrong-secret-used-by-this-test"
LEAKED_SIGN = hashlib.md5(f"test-key{WRONG_SECRET}1630468800".encode()).hexdigest()


def cron_freshness(partitions_def: DailyPartitionsDefinition) -> FreshnessPolicy:
    """The marts' policy (due by 06:00 local, built within the 24 h before), in ``partitions_def``'s zone."""
    return FreshnessPolicy.cron(
        deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=24), timezone=partitions_def.timezone
    )


def alert_resource(webhook, smtp_inbox, secret: str) -> AlertResource:
    _, port = smtp_inbox
    return AlertResource(
        settings=AlertSettings(
            dagster_ui_url=UI,
            alert_smtp_host="127.0.0.1",
            alert_smtp_port=port,
            alert_smtp_from="pipeline@example.com",
            alert_smtp_to="ops@example.com",
            alert_smtp_starttls=False,
        ),
        webhook_url=webhook.url,
        api_secret=secret,
    )


def tick(sensor_def, instance: DagsterInstance, alerts: AlertResource, cursor: str | None = None):
    """One evaluation, as the daemon does it: the sensor's cursor in, the new cursor out."""
    context = build_sensor_context(instance=instance, cursor=cursor, resources={ALERTS_RESOURCE_KEY: alerts})
    return sensor_def.evaluate_tick(context)


def everything_received(webhook, smtp_inbox) -> str:
    inbox, _ = smtp_inbox
    return repr(webhook.bodies) + "".join(message.as_string() for _, _, message in inbox.messages)


def test_a_run_failing_on_a_bad_secret_is_alerted_once_by_webhook_and_email(
    monkeypatch, tmp_path, simulator, webhook, smtp_inbox
):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    monkeypatch.setenv("LAAFFIC_API_SECRET", WRONG_SECRET)  # read by EnvVar when the run starts
    alerts = alert_resource(webhook, smtp_inbox, WRONG_SECRET)
    sensor_def = build_run_failure_alert_sensor([DAILY_JOB_NAME], enabled=True)
    started = tick(sensor_def, pipeline.instance, alerts)  # the first tick only marks where to start
    day = pipeline.last_partition

    result = pipeline.run(day)
    after_run = tick(sensor_def, pipeline.instance, alerts, started.cursor)
    tick(sensor_def, pipeline.instance, alerts, after_run.cursor)  # nothing new: no second alert

    assert not result.success
    [body] = webhook.bodies
    assert body["alert"] == {
        "kind": "run_failure",
        "severity": "ERROR",
        "title": f"Run of {DAILY_JOB_NAME} failed for {day}",
        "job": DAILY_JOB_NAME,
        "partitions": [day],
        "failed": ["laaffic_days"],  # the step that lands, builds and checks days
        "error": body["alert"]["error"],
        "link": f"{UI}/runs/{result.run_id}",
        "details": {"Run id": result.run_id},
    }
    assert "authentication error" in body["alert"]["error"]
    inbox, _ = smtp_inbox
    [(_, _, message)] = inbox.messages
    assert f"{UI}/runs/{result.run_id}" in message.get_payload()
    assert WRONG_SECRET not in everything_received(webhook, smtp_inbox)


def test_secrets_and_signs_in_an_error_never_reach_a_channel(webhook, smtp_inbox):
    @op
    def call_the_api():
        raise Failure(f"request failed; headers Sign: {LEAKED_SIGN}, secret {WRONG_SECRET}")

    @job
    def leaky():
        call_the_api()

    instance = DagsterInstance.ephemeral()
    alerts = alert_resource(webhook, smtp_inbox, WRONG_SECRET)
    sensor_def = build_run_failure_alert_sensor(["leaky"], enabled=True)
    started = tick(sensor_def, instance, alerts)

    assert not leaky.execute_in_process(instance=instance, raise_on_error=False).success
    tick(sensor_def, instance, alerts, started.cursor)

    received = everything_received(webhook, smtp_inbox)
    assert len(webhook.bodies) == 1 and "request failed; headers Sign: [redacted]" in received
    assert WRONG_SECRET not in received and LEAKED_SIGN not in received


RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2026-02-27",
    "dagster/asset_partition_range_end": "2026-03-02",
}


def test_run_partitions_gives_a_runs_day_or_every_day_of_its_range():
    assert run_partitions({"dagster/partition": "2026-03-01"}) == ("2026-03-01",)
    assert run_partitions(RANGE_TAGS) == ("2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02")
    one_day = {
        "dagster/asset_partition_range_start": "2026-03-01",
        "dagster/asset_partition_range_end": "2026-03-01",
    }
    assert run_partitions(one_day) == ("2026-03-01",)
    not_days = {"dagster/asset_partition_range_start": "a", "dagster/asset_partition_range_end": "b"}
    assert run_partitions(not_days) == ("a", "b")  # not ISO days: just the two ends
    assert run_partitions({"dagster/backfill": "abc"}) == ()


def test_a_failed_ranged_run_is_alerted_with_each_of_its_days(webhook, smtp_inbox):
    @op
    def land_days():
        raise Failure("the API refused the range")

    @job
    def ranged():
        land_days()

    instance = DagsterInstance.ephemeral()
    alerts = alert_resource(webhook, smtp_inbox, "unused-secret")
    sensor_def = build_run_failure_alert_sensor(["ranged"], enabled=True)
    started = tick(sensor_def, instance, alerts)

    result = ranged.execute_in_process(instance=instance, tags=RANGE_TAGS, raise_on_error=False)
    tick(sensor_def, instance, alerts, started.cursor)

    assert not result.success
    [body] = webhook.bodies
    assert body["alert"]["partitions"] == ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
    assert body["alert"]["title"] == "Run of ranged failed for 2026-02-27..2026-03-02 (4 days)"


@pytest.mark.parametrize(
    ("now", "tick"),
    [
        ("2026-03-29T05:59:59+02:00", "2026-03-28T06:00:00+01:00"),  # the day Berlin springs forward
        ("2026-03-29T06:00:00+02:00", "2026-03-29T06:00:00+02:00"),  # a tick is completed at its instant
        ("2026-10-25T05:30:00+01:00", "2026-10-24T06:00:00+02:00"),  # and the day it falls back
        ("2026-10-25T07:00:00+01:00", "2026-10-25T06:00:00+01:00"),
    ],
)
def test_the_latest_deadline_is_the_last_cron_tick_at_or_before_now(now: str, tick: str):
    deadline = CronDeadline.of(
        FreshnessPolicy.cron(
            deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=24), timezone="Europe/Berlin"
        )
    )
    latest = deadline.latest_tick(datetime.fromisoformat(now))
    assert (
        latest == datetime.fromisoformat(tick)
        and latest.utcoffset() == datetime.fromisoformat(tick).utcoffset()
    )


def test_only_a_cron_freshness_policy_has_a_deadline():
    with pytest.raises(TypeError, match="FreshnessPolicy.cron"):
        CronDeadline.of(FreshnessPolicy.time_window(fail_window=timedelta(hours=24)))


@pytest.mark.parametrize("storage", ["in memory", "sqlite"])
def test_failed_checks_of_a_run_make_one_alert_and_passing_runs_none(
    monkeypatch, tmp_path, make_simulator, webhook, smtp_inbox, storage
):
    simulator = make_simulator(records_per_day=300)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    if storage == "sqlite":  # the repo's dagster.yaml: SQLite files, an event log sharded per run
        (tmp_path / "dagster_home").mkdir()
        pipeline.instance = DagsterInstance.local_temp(str(tmp_path / "dagster_home"))
        assert pipeline.instance.event_log_storage.is_run_sharded
    alerts = alert_resource(webhook, smtp_inbox, "test-secret-never-logged")
    sensor_def = build_check_failure_alert_sensor(enabled=True)
    cursor = tick(sensor_def, pipeline.instance, alerts).cursor
    day = pipeline.last_partition

    assert pipeline.run(day).success
    cursor = tick(sensor_def, pipeline.instance, alerts, cursor).cursor
    assert webhook.bodies == []  # every check passed

    simulator.faults = FaultConfig(malformed_rate=0.2, fault_seed=3)
    result = pipeline.run(day)
    tick(sensor_def, pipeline.instance, alerts, cursor)

    assert result.success  # failed checks warn, they do not fail the run
    failed = sorted(
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    )
    assert "raw/call_records:schema_matches_api_document" in failed
    [body] = webhook.bodies
    assert sorted(body["alert"]["failed"]) == failed
    assert body["alert"]["job"] == DAILY_JOB_NAME and body["alert"]["partitions"] == [day]
    assert body["alert"]["severity"] == "ERROR"  # voice_id_not_null is an ERROR check
    assert body["alert"]["link"] == f"{UI}/runs/{result.run_id}"
    assert len(smtp_inbox[0].messages) == 1


def test_a_day_failing_its_page_check_is_one_alert_from_the_run_naming_the_check(
    monkeypatch, tmp_path, make_simulator, webhook, smtp_inbox
):
    """One cause, one message: the failed page check fails the run too, and the run-failure alert
    says both; the check-failure sensor, ticking over the same run, sends nothing."""
    simulator = make_simulator(records_per_day=60, faults=FaultConfig(total_delta=5))
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    alerts = alert_resource(webhook, smtp_inbox, "test-secret-never-logged")
    runs = build_run_failure_alert_sensor([DAILY_JOB_NAME], enabled=True)
    checks = build_check_failure_alert_sensor(enabled=True)
    runs_cursor, checks_cursor = (
        tick(runs, pipeline.instance, alerts).cursor,
        tick(checks, pipeline.instance, alerts).cursor,
    )
    day = pipeline.last_partition

    result = pipeline.run(day)
    tick(runs, pipeline.instance, alerts, runs_cursor)
    skipped = tick(checks, pipeline.instance, alerts, checks_cursor)

    assert not result.success
    [body] = webhook.bodies
    assert body["alert"]["kind"] == "run_failure"
    assert body["alert"]["failed"] == ["laaffic_days", "raw/call_records:page_count_consistency"]
    assert f"raw/call_records:page_count_consistency [{day}]: " in body["alert"]["error"]
    assert "records landed 60 != reported total 65" in body["alert"]["error"]
    assert len(smtp_inbox[0].messages) == 1
    assert skipped.skip_message == (
        "1 runs ended, no failed checks outside the 1 failed run(s) the run-failure alert reports"
    )


def test_the_checks_of_a_failed_run_of_an_unwatched_job_are_still_alerted(webhook, smtp_inbox):
    @asset(check_specs=[AssetCheckSpec("never_passes", asset="thing")])
    def thing():
        yield MaterializeResult()
        yield AssetCheckResult(passed=False, description="it never does")

    @asset(deps=[thing])
    def broken():
        raise Failure("and the run fails")

    instance = DagsterInstance.ephemeral()
    alerts = alert_resource(webhook, smtp_inbox, "unused-secret")
    checks = build_check_failure_alert_sensor(enabled=True, run_failure_jobs=[DAILY_JOB_NAME])
    cursor = tick(checks, instance, alerts).cursor
    other = Definitions(assets=[thing, broken], jobs=[define_asset_job("other")]).resolve_job_def("other")
    assert not other.execute_in_process(instance=instance, raise_on_error=False).success

    tick(checks, instance, alerts, cursor)

    [body] = webhook.bodies  # no run-failure sensor watches `other`: its checks are alerted here
    assert body["alert"]["kind"] == "check_failure" and body["alert"]["failed"] == ["thing:never_passes"]


@pytest.mark.parametrize(
    ("cron", "now", "deadline", "expected"),
    [
        # 02:00 + 4 h: at 05:59 the deadline that has passed is yesterday's, for the day before.
        ("0 2 * * *", "2026-03-10T05:59:00+00:00", "2026-03-09T06:00:00+00:00", "2026-03-08"),
        ("0 2 * * *", "2026-03-10T06:00:00+00:00", "2026-03-10T06:00:00+00:00", "2026-03-09"),
        ("15 1 * * *", "2026-03-10T05:20:00+00:00", "2026-03-10T05:15:00+00:00", "2026-03-09"),
        # A schedule at 23:30 runs the day before its tick: the deadline at 03:30 is for that day.
        ("30 23 * * *", "2026-03-11T03:45:00+00:00", "2026-03-11T03:30:00+00:00", "2026-03-09"),
    ],
)
def test_the_late_marts_deadline_follows_the_schedules_cron_plus_a_grace_period(
    webhook, smtp_inbox, cron, now, deadline, expected
):
    """``deadline_after_cron``: 4 h after each tick of the schedule's cron (nothing built here)."""
    partitions_def = DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", fmt="%Y-%m-%d")
    instance = DagsterInstance.ephemeral()
    alerts = alert_resource(webhook, smtp_inbox, "unused-secret")
    sensor_def = build_late_data_alert_sensor(
        DAILY_COSTS_KEY,
        cron_freshness(partitions_def),
        partitions_def,
        enabled=True,
        deadline_after_cron=cron,
        grace=timedelta(hours=4),
        clock=lambda: datetime.fromisoformat(now),
    )

    result = tick(sensor_def, instance, alerts)

    [body] = webhook.bodies
    assert result.cursor == deadline
    assert body["alert"]["partitions"] == [expected]
    assert body["alert"]["details"]["Deadline"] == (
        f"{deadline[:10]} {deadline[11:16]} UTC (4 h after '{cron}' in UTC)"
    )
    assert "4 h after" in sensor_def.description


def test_a_negative_grace_is_refused_when_the_sensor_is_built():
    partitions_def = DailyPartitionsDefinition(start_date="2026-01-01")
    with pytest.raises(ValueError, match="grace must not be negative"):
        build_late_data_alert_sensor(
            DAILY_COSTS_KEY,
            cron_freshness(partitions_def),
            partitions_def,
            enabled=True,
            deadline_after_cron="0 2 * * *",
            grace=timedelta(hours=-1),
        )


def test_a_late_marts_day_is_alerted_once_per_deadline(webhook, smtp_inbox):
    zone = "Asia/Shanghai"
    partitions_def = DailyPartitionsDefinition(start_date="2026-01-01", timezone=zone, fmt="%Y-%m-%d")
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(zone))
    deadline = local.replace(hour=6, minute=0, second=0, microsecond=0)
    if deadline > local:
        deadline -= timedelta(days=1)
    expected = (deadline.date() - timedelta(days=1)).isoformat()
    instance = DagsterInstance.ephemeral()
    alerts = alert_resource(webhook, smtp_inbox, "unused-secret")
    sensor_def = build_late_data_alert_sensor(
        DAILY_COSTS_KEY, cron_freshness(partitions_def), partitions_def, enabled=True, clock=lambda: now
    )

    first = tick(sensor_def, instance, alerts)
    again = tick(sensor_def, instance, alerts, first.cursor)

    [body] = webhook.bodies
    assert body["alert"]["kind"] == "late_data" and body["alert"]["partitions"] == [expected]
    assert body["alert"]["title"] == f"marts/daily_costs is late for {expected}"
    assert (
        "(never)" in body["alert"]["error"]
        and f"partition {expected} has not been built" in body["alert"]["error"]
    )
    assert first.cursor == deadline.isoformat() and again.skip_message

    instance.report_runless_asset_event(AssetMaterialization(DAILY_COSTS_KEY, partition=expected))
    fresh = tick(sensor_def, instance, alerts)  # a new cursor: judged afresh
    assert len(webhook.bodies) == 1 and "fresh" in (fresh.skip_message or "")


def test_sensors_run_by_default_only_when_a_channel_is_configured(webhook, smtp_inbox):
    partitions_def = DailyPartitionsDefinition(start_date="2026-01-01")
    for enabled, status in ((True, DefaultSensorStatus.RUNNING), (False, DefaultSensorStatus.STOPPED)):
        sensors = [
            build_run_failure_alert_sensor([DAILY_JOB_NAME], enabled=enabled),
            build_check_failure_alert_sensor(enabled=enabled),
            build_late_data_alert_sensor(
                DAILY_COSTS_KEY, cron_freshness(partitions_def), partitions_def, enabled=enabled
            ),
        ]
        defs = Definitions(sensors=sensors, resources={ALERTS_RESOURCE_KEY: AlertResource()})
        repository = defs.get_repository_def()  # loads: every sensor finds its resource
        assert {s.name: s.default_status for s in repository.sensor_defs} == {s.name: status for s in sensors}
