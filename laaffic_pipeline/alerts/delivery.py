"""Send an ``Alert`` to a chat webhook (httpx) and/or by e-mail (smtplib): retried, bounded, never raising.

An alert is sent from a sensor, so a dead channel must neither fail the sensor nor hold it up:
every channel gets a share of ``budget_s`` for all its tries together, each failure is logged,
and ``deliver`` returns what happened instead of raising.
"""

from __future__ import annotations

import logging
import smtplib
import time
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from laaffic_pipeline.alerts.messages import Alert, email_message, webhook_payload
from laaffic_pipeline.alerts.redaction import Redactor

logger = logging.getLogger(__name__)

MAX_ATTEMPT_TIMEOUT_S = 5.0  # one try never waits longer, so a hung receiver leaves room to retry
FIRST_BACKOFF_S = 0.25
_PERMANENT_SMTP_ERRORS = (
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPNotSupportedError,
)


@dataclass(frozen=True)
class AlertChannels:
    """Where alerts go. An empty webhook URL or SMTP host leaves that channel off."""

    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_from: str = ""
    smtp_to: tuple[str, ...] = ()
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = True
    budget_s: float = 10.0  # all tries of all channels of one alert together
    attempts: int = 3  # tries per channel

    @property
    def names(self) -> list[str]:
        """The configured channels: ``webhook``, ``email``."""
        return [
            name for name, on in (("webhook", bool(self.webhook_url)), ("email", bool(self.smtp_host))) if on
        ]


@dataclass(frozen=True)
class Delivery:
    channel: str
    delivered: bool
    attempts: int
    error: str = ""


def redact_alert(alert: Alert, redactor: Redactor) -> Alert:
    """The alert with every text field passed through ``redactor``."""
    return replace(
        alert,
        title=redactor.text(alert.title),
        job=redactor.text(alert.job) if alert.job else alert.job,
        partitions=tuple(redactor.deep(list(alert.partitions))),
        failed=tuple(redactor.deep(list(alert.failed))),
        error=redactor.text(alert.error),
        link=redactor.text(alert.link) if alert.link else alert.link,
        details=tuple((redactor.text(n), redactor.text(v)) for n, v in alert.details),
    )


def deliver(alert: Alert, channels: AlertChannels, redactor: Redactor, log: Any = None) -> list[Delivery]:
    """Send ``alert`` (redacted) to every configured channel; one ``Delivery`` per channel."""
    log = log or logger
    names = channels.names
    outcomes = []
    try:
        safe = redact_alert(alert, redactor)
        share = channels.budget_s / max(len(names), 1)
        payload = redactor.deep(webhook_payload(safe))
        senders = {
            "webhook": lambda timeout: _post(channels.webhook_url, payload, timeout),
            "email": lambda timeout: _mail(safe, channels, redactor, timeout),
        }
        for name in names:
            deadline = time.monotonic() + share
            outcomes.append(_retry(name, senders[name], channels, deadline, log))
    except Exception as error:  # a bug here must not break the sensor that called us
        log.error(f"Alert delivery failed unexpectedly: {type(error).__name__}: {redactor.text(str(error))}")
    for outcome in outcomes:
        if outcome.delivered:
            log.info(
                f"Alert '{redactor.text(alert.title)}' sent by {outcome.channel} ({outcome.attempts} tries)"
            )
        else:
            log.warning(
                f"Alert '{redactor.text(alert.title)}' NOT sent by {outcome.channel} after "
                f"{outcome.attempts} tries: {redactor.text(outcome.error)}"
            )
    return outcomes


class _Permanent(Exception):
    """A refusal that trying again will not change (bad URL, 4xx, authentication)."""


def _retry(name: str, send: Any, channels: AlertChannels, deadline: float, log: Any) -> Delivery:
    error = ""
    attempt = 0
    while attempt < channels.attempts:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            error = error or "no time left in the alert budget"
            break
        attempt += 1
        try:
            send(min(MAX_ATTEMPT_TIMEOUT_S, remaining))
            return Delivery(name, True, attempt)
        except _Permanent as refused:
            return Delivery(name, False, attempt, str(refused))
        except Exception as failed:
            error = f"{type(failed).__name__}: {failed}"
            log.debug(f"Alert by {name}, try {attempt}: {error}")
        pause = min(FIRST_BACKOFF_S * 2 ** (attempt - 1), deadline - time.monotonic())
        if attempt < channels.attempts and pause > 0:
            time.sleep(pause)
    return Delivery(name, False, attempt, error)


def _post(url: str, payload: dict[str, Any], timeout: float) -> None:
    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.UnsupportedProtocol as error:
        raise _Permanent(str(error)) from None
    if response.status_code >= 500 or response.status_code == 429:
        raise RuntimeError(f"webhook answered HTTP {response.status_code}")
    if response.status_code >= 400:
        raise _Permanent(f"webhook refused the alert: HTTP {response.status_code} {response.text[:200]}")


def _mail(alert: Alert, channels: AlertChannels, redactor: Redactor, timeout: float) -> None:
    message = email_message(alert, channels.smtp_from, list(channels.smtp_to))
    try:
        with smtplib.SMTP(channels.smtp_host, channels.smtp_port, timeout=timeout) as smtp:
            if channels.smtp_starttls:
                smtp.starttls()
            if channels.smtp_user:
                smtp.login(channels.smtp_user, channels.smtp_password)
            smtp.send_message(message)
    except _PERMANENT_SMTP_ERRORS as error:
        raise _Permanent(redactor.text(f"{type(error).__name__}: {error}")) from None
