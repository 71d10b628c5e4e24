"""The spend-rate alert end to end: 14 final days and a provisional day whose last hour one SIP group
spends ten times as much (the simulator's ``rate_multiplier_hour``), refreshed twice with the step's
clock pinned; the check fails at the first refresh only, and the check-failure sensor sends one
alert to a webhook on 127.0.0.1."""

from datetime import UTC, datetime, timedelta

import pytest

from laaffic_pipeline.alerts.sensors import build_check_failure_alert_sensor
from laaffic_pipeline.simulator import FaultConfig, SettableClock
from tests.alerts.receivers import WebhookReceiver, smtp_server
from tests.alerts.test_sensors import alert_resource, tick
from tests.defs.pipeline import make_pipeline

CHECK = "spend_rate_within_band"
GROUP = "support"  # bills in USD
# A fixed instant, for the simulator (its clock) and the step (the clock resource) alike: hourly
# spend is heavy-tailed, so whether a tenfold hour clears the band depends on the day's calls, and
# the test judges these days' calls whatever the machine's date. 14:00 UTC: the day is provisional.
AT = datetime(2026, 12, 6, 14, tzinfo=UTC)
DAY = AT.date()


@pytest.fixture
def webhook():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp_inbox():
    with smtp_server() as server:
        yield server


def clock(at: datetime) -> dict:
    return {"resources": {"clock": {"config": {"at": at.isoformat()}}}}


def test_a_tenfold_hour_is_one_warn_check_failure_and_one_alert(
    monkeypatch,
    tmp_path,
    make_simulator,
    webhook,
    smtp_inbox,
):
    faults = FaultConfig(rate_multiplier_hour=f"{DAY}T13", rate_multiplier_group=GROUP, rate_multiplier=10)
    now = SettableClock(AT)
    simulator = make_simulator(
        records_per_day=6_000,
        faults=faults,
        clock=now,
        timestamp_tolerance_s=10 * 365 * 86_400,  # the client signs with the machine's clock
    )
    # The days are partitions on any later date: the list starts well before them.
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, start_date="2026-11-01")
    alerts = alert_resource(webhook, smtp_inbox, "test-secret-never-logged")
    sensor_def = build_check_failure_alert_sensor(enabled=True)
    history = pipeline.run_range(
        str(DAY - timedelta(days=14)), str(DAY - timedelta(days=1)), run_config=clock(AT)
    )
    assert history.success
    cursor = tick(sensor_def, pipeline.instance, alerts).cursor

    first = pipeline.run(DAY.isoformat(), run_config=clock(AT))
    cursor = tick(sensor_def, pipeline.instance, alerts, cursor).cursor
    now.set(AT + timedelta(minutes=15))
    second = pipeline.run(DAY.isoformat(), run_config=clock(AT + timedelta(minutes=15)))
    tick(sensor_def, pipeline.instance, alerts, cursor)

    assert first.success and second.success  # a WARN check does not fail the run
    spiked, lasting = (pipeline.checks(run)[(CHECK, DAY.isoformat())] for run in (first, second))
    assert not spiked.passed and spiked.severity.value == "WARN"
    assert [(s["currency"], s["sip_group_name"]) for s in spiked.metadata["spikes"].value] == [("USD", GROUP)]
    assert f"USD/{GROUP} spent" in spiked.description
    assert lasting.passed and [s["sip_group_name"] for s in lasting.metadata["lasting_spikes"].value] == [
        GROUP
    ]
    assert pipeline.query("SELECT DISTINCT is_final FROM marts.daily_costs WHERE call_date = ?", [DAY]) == [
        (False,)
    ]
    [body] = webhook.bodies  # the first refresh's run only
    assert f"marts/daily_costs:{CHECK}" in body["alert"]["failed"]
    assert body["alert"]["partitions"] == [DAY.isoformat()] and body["alert"]["severity"] == "WARN"
    assert body["alert"]["link"].endswith(first.run_id)
