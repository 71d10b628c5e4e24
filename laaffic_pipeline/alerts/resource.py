"""``AlertResource``: the alert channels' settings in Dagster; the UI shows secrets as ``EnvVar`` names."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from laaffic_pipeline.alerts.delivery import AlertChannels, Delivery, deliver
from laaffic_pipeline.alerts.messages import Alert
from laaffic_pipeline.alerts.redaction import Redactor

ALERTS_RESOURCE_KEY = "alerts"


class AlertResource(ConfigurableResource):
    """Sends alerts; every field but the secrets comes from ``PipelineSettings`` (LAAFFIC_ALERT_*)."""

    ui_url: str = Field(default="", description="Dagster UI base URL for links (LAAFFIC_DAGSTER_UI_URL).")
    webhook_url: str = Field(default="", repr=False, description="Chat webhook (LAAFFIC_ALERT_WEBHOOK_URL).")
    smtp_host: str = Field(
        default="", description="SMTP server; empty = no e-mail (LAAFFIC_ALERT_SMTP_HOST)."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="LAAFFIC_ALERT_SMTP_PORT.")
    smtp_from: str = Field(default="", description="Sender address (LAAFFIC_ALERT_SMTP_FROM).")
    smtp_to: list[str] = Field(default=[], description="Recipients (LAAFFIC_ALERT_SMTP_TO, comma-separated).")
    smtp_user: str = Field(default="", description="SMTP login, optional (LAAFFIC_ALERT_SMTP_USER).")
    smtp_password: str = Field(default="", repr=False, description="LAAFFIC_ALERT_SMTP_PASSWORD (EnvVar).")
    smtp_starttls: bool = Field(
        default=True, description="STARTTLS before login (LAAFFIC_ALERT_SMTP_STARTTLS)."
    )
    budget_s: float = Field(default=10.0, gt=0, le=120, description="Longest time one alert may take.")
    api_secret: str = Field(
        default="", repr=False, description="LAAFFIC_API_SECRET (EnvVar): only to redact it from alerts."
    )

    def channels(self) -> AlertChannels:
        return AlertChannels(
            webhook_url=self.webhook_url,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            smtp_from=self.smtp_from,
            smtp_to=tuple(self.smtp_to),
            smtp_user=self.smtp_user,
            smtp_password=self.smtp_password,
            smtp_starttls=self.smtp_starttls,
            budget_s=self.budget_s,
        )

    def redactor(self) -> Redactor:
        return Redactor([self.api_secret, self.smtp_password, self.webhook_url])

    def send(self, alert: Alert, log: Any = None) -> list[Delivery]:
        return deliver(alert, self.channels(), self.redactor(), log)
