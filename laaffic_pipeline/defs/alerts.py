"""Alert sensors: a failed run, a failed check, a late marts day. Running by default only when a
channel is configured (LAAFFIC_ALERT_WEBHOOK_URL or LAAFFIC_ALERT_SMTP_HOST); visible either way."""

import os

from laaffic_pipeline.alerts.sensors import (
    build_check_failure_alert_sensor,
    build_late_data_alert_sensor,
    build_run_failure_alert_sensor,
)
from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.defs.marts.specs import DAILY_COSTS_KEY, MART_FRESHNESS
from laaffic_pipeline.defs.partitions import daily_partitions
from laaffic_pipeline.settings import load_settings

ALERTS_ENABLED = bool(os.environ.get("LAAFFIC_ALERT_WEBHOOK_URL") or load_settings().alerts.alert_smtp_host)

run_failure_alert = build_run_failure_alert_sensor([DAILY_JOB_NAME], enabled=ALERTS_ENABLED)
check_failure_alert = build_check_failure_alert_sensor(enabled=ALERTS_ENABLED)
late_marts_alert = build_late_data_alert_sensor(
    DAILY_COSTS_KEY, MART_FRESHNESS, daily_partitions, enabled=ALERTS_ENABLED
)
