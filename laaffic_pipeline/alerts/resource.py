"""``AlertResource``: the alert channels' settings in Dagster; the UI shows secrets as ``EnvVar`` names."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from laaffic_pipeline.alerts.delivery import AlertChannels, Delivery, deliver
from laaffic_pipeline.alerts.messages import Alert
from laaffic_pipeline.alerts.redaction import Redactor
from laaffic_pipeline.settings import AlertSettings

ALERTS_RESOURCE_KEY = "alerts"


class AlertResource(ConfigurableResource):
    """Sends alerts to every configured channel. The channels are ``AlertSettings`` (LAAFFIC_ALERT_*);
    the webhook URL (it carries a token), the SMTP password and the API secret (only so it can be
    redacted) come through ``EnvVar`` and are never shown."""

    settings: AlertSettings = Field(
        default=AlertSettings(), description="Alert channels (LAAFFIC_* settings)."
    )
    webhook_url: str = Field(default="", repr=False, description="Chat webhook (LAAFFIC_ALERT_WEBHOOK_URL).")
    smtp_password: str = Field(default="", repr=False, description="LAAFFIC_ALERT_SMTP_PASSWORD (EnvVar).")
    api_secret: str = Field(
        default="", repr=False, description="LAAFFIC_API_SECRET (EnvVar): only to redact it from alerts."
    )

    @property
    def ui_url(self) -> str:
        return self.settings.dagster_ui_url

    def channels(self) -> AlertChannels:
        s = self.settings
        return AlertChannels(
            webhook_url=self.webhook_url,
            smtp_host=s.alert_smtp_host,
            smtp_port=s.alert_smtp_port,
            smtp_from=s.alert_smtp_from,
            smtp_to=tuple(address.strip() for address in s.alert_smtp_to.split(",") if address.strip()),
            smtp_user=s.alert_smtp_user,
            smtp_password=self.smtp_password,
            smtp_starttls=s.alert_smtp_starttls,
            budget_s=s.alert_timeout_s,
        )

    def redactor(self) -> Redactor:
        return Redactor([self.api_secret, self.smtp_password, self.webhook_url])

    def send(self, alert: Alert, log: Any = None) -> list[Delivery]:
        return deliver(alert, self.channels(), self.redactor(), log)
