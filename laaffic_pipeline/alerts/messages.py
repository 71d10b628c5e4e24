"""What an alert says: one ``Alert``, rendered as a chat-webhook payload or an e-mail.

The payload is the common subset of Slack, Mattermost and Microsoft Teams incoming webhooks: a
``text`` field every one of them shows, Slack/Mattermost ``attachments`` with the same facts as
titled fields, and an ``alert`` object with them as plain JSON for any other receiver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

MAX_ERROR_CHARS = 600
_COLORS = {"ERROR": "#d0021b", "WARN": "#f5a623"}


@dataclass(frozen=True)
class Alert:
    """One thing that went wrong, with what a reader needs to find it in the Dagster UI."""

    title: str  # one line: what happened to what
    kind: str  # run_failure | check_failure | late_data
    severity: str = "ERROR"  # ERROR or WARN
    job: str | None = None
    partitions: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # failed steps or checks
    error: str = ""  # summary of the error or the check's description
    link: str | None = None  # the run (or asset) in the Dagster UI
    details: tuple[tuple[str, str], ...] = field(default=())  # further (name, value) facts

    def fields(self) -> list[tuple[str, str]]:
        """The facts as (name, value) pairs, empty ones left out."""
        facts = [
            ("Severity", self.severity),
            ("Job", self.job or ""),
            ("Partition" if len(self.partitions) == 1 else "Partitions", ", ".join(self.partitions)),
            ("Failed", ", ".join(self.failed)),
            ("Error", self.error),
            *self.details,
            ("Link", self.link or ""),
        ]
        return [(name, value) for name, value in facts if value]


def summarize_error(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """The start of an error message: whitespace collapsed per line, at most ``limit`` characters."""
    lines = [" ".join(line.split()) for line in message.strip().splitlines()]
    text = "\n".join(line for line in lines if line)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def run_link(ui_url: str, run_id: str) -> str | None:
    """The run's page in the Dagster UI, or None when no UI URL is configured."""
    return f"{ui_url.rstrip('/')}/runs/{run_id}" if ui_url else None


def asset_link(ui_url: str, asset_path: list[str]) -> str | None:
    return f"{ui_url.rstrip('/')}/assets/{'/'.join(asset_path)}" if ui_url else None


def text_of(alert: Alert) -> str:
    """Plain text every chat client and mail reader shows: the title, then one line per fact."""
    return "\n".join([f"[laaffic-pipeline] {alert.title}", *(f"{n}: {v}" for n, v in alert.fields())])


def webhook_payload(alert: Alert) -> dict[str, Any]:
    text = text_of(alert)
    return {
        "text": text,
        "attachments": [
            {
                "fallback": text,
                "color": _COLORS.get(alert.severity, _COLORS["ERROR"]),
                "title": alert.title,
                **({"title_link": alert.link} if alert.link else {}),
                "fields": [
                    {"title": name, "value": value, "short": len(value) <= 40}
                    for name, value in alert.fields()
                ],
            }
        ],
        "alert": {
            "kind": alert.kind,
            "severity": alert.severity,
            "title": alert.title,
            "job": alert.job,
            "partitions": list(alert.partitions),
            "failed": list(alert.failed),
            "error": alert.error,
            "link": alert.link,
            "details": dict(alert.details),
        },
    }


def email_message(alert: Alert, sender: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[laaffic-pipeline] {alert.severity}: {alert.title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(text_of(alert))
    return message
