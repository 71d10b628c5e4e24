"""The alert sensors, evaluated by Dagster's sensor machinery against a real instance and real runs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    AssetMaterialization,
    DagsterInstance,
    DailyPartitionsDefinition,
    DefaultSensorStatus,
    Definitions,
    Failure,
    FreshnessPolicy,
    build_sensor_context,
    job,
    op,
)

from laaffic_pipeline.alerts.resource import ALERTS_RESOURCE_KEY, AlertResource
from laaffic_pipeline.alerts.sensors import (
    build_check_failure_alert_sensor,
    build_late_data_alert_sensor,
    build_run_failure_alert_sensor,
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


def test_failed_checks_of_a_run_make_one_alert_and_passing_runs_none(
    monkeypatch, tmp_path, make_simulator, webhook, smtp_inbox
):
    simulator = make_simulator(records_per_day=300)
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
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
