"""Alert sensors: a failed run, a failed check, a late marts day. Running by default only when a
channel is configured (LAAFFIC_ALERT_WEBHOOK_URL or LAAFFIC_ALERT_SMTP_HOST); visible either way."""

from collections.abc import Mapping
from datetime import timedelta

import dagster as dg

from laaffic_pipeline.alerts.sensors import (
    build_check_failure_alert_sensor,
    build_late_data_alert_sensor,
    build_run_failure_alert_sensor,
)
from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.marts.specs import DAILY_COSTS_KEY, FRESHNESS_GRACE_HOURS, nightly_freshness
from laaffic_pipeline.settings import PipelineSettings


def alert_sensors(
    settings: PipelineSettings, partitions: dg.DailyPartitionsDefinition, env: Mapping[str, str]
) -> list[dg.SensorDefinition]:
    """The three sensors; ``env`` only tells whether the webhook (a secret) is set."""
    enabled = bool(env.get("LAAFFIC_ALERT_WEBHOOK_URL") or settings.alerts.alert_smtp_host)
    return [
        build_run_failure_alert_sensor([DAILY_JOB_NAME], enabled=enabled),
        build_check_failure_alert_sensor(enabled=enabled),
        build_late_data_alert_sensor(
            DAILY_COSTS_KEY,
            nightly_freshness(settings),
            partitions,
            enabled=enabled,
            deadline_after_cron=settings.schedule_cron,
            grace=timedelta(hours=FRESHNESS_GRACE_HOURS),
        ),
    ]
