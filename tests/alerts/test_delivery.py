"""Delivery to a real local webhook and SMTP server: retried, bounded in time, never raising."""

import time

from laaffic_pipeline.alerts.delivery import AlertChannels, deliver
from laaffic_pipeline.alerts.messages import Alert
from laaffic_pipeline.alerts.redaction import Redactor
from tests.alerts.receivers import WebhookReceiver, closed_port_url

ALERT = Alert(
    title="Run of laaffic_daily failed for 2026-03-10",
    kind="run_failure",
    job="laaffic_daily",
    partitions=("2026-03-10",),
    failed=("raw_call_records",),
    error="Authentication error",
    link="http://dagster.local:3000/runs/abc",
)


def test_the_webhook_gets_text_and_structured_fields(webhook):
    [outcome] = deliver(ALERT, AlertChannels(webhook_url=webhook.url), Redactor())

    assert outcome.delivered and outcome.attempts == 1
    [body] = webhook.bodies
    assert body["text"].startswith("[laaffic-pipeline] Run of laaffic_daily failed for 2026-03-10")
    assert body["alert"]["partitions"] == ["2026-03-10"] and body["alert"]["failed"] == ["raw_call_records"]
    fields = {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}
    assert fields["Job"] == "laaffic_daily" and fields["Link"] == "http://dagster.local:3000/runs/abc"


def test_a_failing_webhook_is_retried_until_it_answers():
    with WebhookReceiver(fail_first=2, status=503) as flaky:
        [outcome] = deliver(ALERT, AlertChannels(webhook_url=flaky.url), Redactor())
    assert outcome.delivered and outcome.attempts == 3 and len(flaky.bodies) == 1


def test_a_refusing_webhook_is_not_retried():
    with WebhookReceiver(fail_first=5, status=404) as wrong:
        [outcome] = deliver(ALERT, AlertChannels(webhook_url=wrong.url), Redactor())
    assert not outcome.delivered and outcome.attempts == 1 and "404" in outcome.error


def test_a_dead_or_hung_webhook_costs_at_most_the_budget_and_raises_nothing():
    # Refused at once, every try fits in the budget: three tries and 0.75 s of backoff in 3 s (a
    # budget of 1 s left a loaded machine two tries: each try's new client costs tens of ms).
    started = time.monotonic()
    [dead] = deliver(ALERT, AlertChannels(webhook_url=closed_port_url(), budget_s=3.0), Redactor())
    dead_s = time.monotonic() - started
    with WebhookReceiver(delay_s=3.0) as hung:
        started = time.monotonic()
        [slow] = deliver(ALERT, AlertChannels(webhook_url=hung.url, budget_s=1.0), Redactor())
        hung_s = time.monotonic() - started
    assert not dead.delivered and dead.attempts == 3
    assert dead_s < 3.0 + 0.5  # the budget, plus overhead
    assert not slow.delivered and "Timeout" in slow.error
    assert hung_s < 1.0 + 0.5  # the hung receiver is given up on when the budget is spent


def test_email_goes_to_every_recipient(smtp_inbox):
    inbox, port = smtp_inbox
    channels = AlertChannels(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="pipeline@example.com",
        smtp_to=("ops@example.com", "finance@example.com"),
        smtp_starttls=False,
    )
    [outcome] = deliver(ALERT, channels, Redactor())

    assert outcome.delivered
    [(sender, recipients, message)] = inbox.messages
    assert sender == "pipeline@example.com" and recipients == ["ops@example.com", "finance@example.com"]
    assert message["Subject"] == "[laaffic-pipeline] ERROR: Run of laaffic_daily failed for 2026-03-10"
    assert "Partition: 2026-03-10" in message.get_payload()


def test_a_hung_webhook_leaves_the_email_its_share_of_the_budget(smtp_inbox):
    inbox, port = smtp_inbox
    with WebhookReceiver(delay_s=3.0) as hung:
        channels = AlertChannels(
            webhook_url=hung.url,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_from="p@example.com",
            smtp_to=("a@example.com",),
            smtp_starttls=False,
            budget_s=2.0,
        )
        outcomes = {o.channel: o for o in deliver(ALERT, channels, Redactor())}
    assert not outcomes["webhook"].delivered and outcomes["email"].delivered
    assert len(inbox.messages) == 1
