"""The alert sensors as deployed: runs launched by the real Dagster daemon, alerts on 127.0.0.1.

The repository's dagster.yaml (SQLite, run-sharded event log) in a temporary DAGSTER_HOME, runs
queued with ``dagster job backfill`` and launched by ``dagster-daemon run``; the simulator, a chat
webhook and an SMTP server (aiosmtpd) run in this process. The API secret is read by the run
worker from the daemon's environment, so the daemon runs twice:

1. with a wrong ``LAAFFIC_API_SECRET``: day A's run fails on the API's authentication error and
   the run-failure sensor says so;
2. with the right one: day B's run lands what the API sent, but the simulator reports a total 7
   records too high for B, so ``page_count_consistency`` fails and the run fails naming B: one
   cause, one alert, the run-failure sensor's, naming the failed check; the check-failure sensor,
   which ticks over the same run, leaves it to that alert.

Each alert must reach both channels with its job, day and a link built from
``LAAFFIC_DAGSTER_UI_URL``, and no message may hold either secret or any request's ``Sign``.
Sensor ticks come every 30 s (run failures) and 60 s (checks), so the test waits up to minutes.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
    RunStatusChangeRecordsFilter,
)

from laaffic_pipeline.alerts.sensors import CHECK_FAILURE_SENSOR_NAME, RUN_FAILURE_SENSOR_NAME
from laaffic_pipeline.defs.jobs import DAILY_JOB_NAME
from laaffic_pipeline.simulator import FaultConfig
from tests.alerts.receivers import Inbox, WebhookReceiver, smtp_server
from tests.conftest import TEST_API_KEY, TEST_API_SECRET, last_final_day
from tests.daemon import dagster_home, isolated_env, queue_backfill, start_daemon, stop

UI = "http://dagster.e2e.test:3000"
WRONG_SECRET = "wrong-secret-of-the-alerts-e2e-test"
TEST_TIMEOUT_S = 235  # the whole test, daemons' start-up and both sensors' intervals included
PHASE_TIMEOUT_S = 150
TERMINAL = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
HEX32 = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", re.IGNORECASE)


@contextmanager
def daemon_running(env: dict[str, str], log: Path) -> Iterator[Callable[[str, Callable[[], object]], None]]:
    """A daemon started with ``env``, stopped on leaving; yields ``wait(what, ready)``, which polls
    ``ready`` until it is true, failing with the daemon's log when it exits or PHASE_TIMEOUT_S pass."""
    daemon = start_daemon(env, log)

    def wait(what: str, ready: Callable[[], object]) -> None:
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        while not ready():
            assert daemon.poll() is None, (
                f"the daemon exited while waiting for {what}:\n{log.read_text()[-3000:]}"
            )
            assert time.monotonic() < deadline, (
                f"no {what} after {PHASE_TIMEOUT_S}s:\n{log.read_text()[-3000:]}"
            )
            time.sleep(1)

    try:
        yield wait
    finally:
        stop(daemon)


def sensor_cursors(instance: DagsterInstance) -> dict[str, str | None]:
    """Each sensor's cursor as the daemon stored it (set by its first tick)."""
    return {
        state.name: getattr(state.instigator_data, "cursor", None)
        for state in instance.all_instigator_state()
    }


def check_sensor_saw_the_end_of(instance: DagsterInstance, day: str) -> bool:
    """Whether the check-failure sensor's cursor (the last run-ended event it judged) has reached
    the failure of ``day``'s run."""
    run = run_for(instance, day)
    cursor = sensor_cursors(instance).get(CHECK_FAILURE_SENSOR_NAME)
    if run is None or cursor is None:
        return False
    failures = instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(DagsterEventType.RUN_FAILURE), limit=100
    ).records
    ended = [record.storage_id for record in failures if record.event_log_entry.run_id == run.run_id]
    return bool(ended) and int(cursor) >= ended[0]


def run_for(instance: DagsterInstance, day: str) -> DagsterRun | None:
    records = instance.get_run_records(RunsFilter(job_name=DAILY_JOB_NAME, tags={"dagster/partition": day}))
    return records[0].dagster_run if records else None


def ended(instance: DagsterInstance, day: str) -> bool:
    run = run_for(instance, day)
    return run is not None and run.status in TERMINAL


def alerts_of(receiver: WebhookReceiver, kind: str) -> list[dict[str, Any]]:
    return [body["alert"] for body in receiver.bodies if body["alert"]["kind"] == kind]


def signs_between(start: float, end: float) -> set[str]:
    """Every ``Sign`` a client could have sent in [start, end]: md5(key + secret + Timestamp)."""
    return {
        hashlib.md5(f"{TEST_API_KEY}{secret}{stamp}".encode()).hexdigest()
        for secret in (TEST_API_SECRET, WRONG_SECRET)
        for stamp in range(int(start) - 5, int(end) + 6)
    }


@pytest.fixture
def receivers() -> Iterator[tuple[WebhookReceiver, Inbox, int]]:
    """The chat webhook, and the SMTP server's inbox and port, on 127.0.0.1."""
    with WebhookReceiver() as webhook, smtp_server() as (inbox, port):
        yield webhook, inbox, port


@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_a_bad_secret_and_a_failed_page_check_are_alerted_by_webhook_and_email_through_the_daemon(
    monkeypatch, tmp_path, make_simulator, receivers
):
    started = time.time()
    webhook, inbox, smtp_port = receivers
    yesterday = last_final_day()  # all its calls ended
    day_a, day_b = (yesterday - timedelta(days=1)).isoformat(), yesterday.isoformat()
    simulator = make_simulator(records_per_day=200, faults=FaultConfig(total_delta=7, total_delta_day=day_b))
    home = dagster_home(tmp_path)
    env = isolated_env(
        home,
        {
            "LAAFFIC_API_KEY": TEST_API_KEY,
            "LAAFFIC_BASE_URL": simulator.base_url,
            "LAAFFIC_DUCKDB_PATH": str(tmp_path / "data" / "laaffic.duckdb"),
            "LAAFFIC_PAGE_SIZE": "50",
            "LAAFFIC_STEP_RETRIES": "0",
            "LAAFFIC_DAGSTER_UI_URL": UI,
            "LAAFFIC_ALERT_WEBHOOK_URL": webhook.url,
            "LAAFFIC_ALERT_SMTP_HOST": "127.0.0.1",
            "LAAFFIC_ALERT_SMTP_PORT": str(smtp_port),
            "LAAFFIC_ALERT_SMTP_FROM": "pipeline@example.com",
            "LAAFFIC_ALERT_SMTP_TO": "ops@example.com",
            "LAAFFIC_ALERT_SMTP_STARTTLS": "false",
        },
    )
    wrong, right = {**env, "LAAFFIC_API_SECRET": WRONG_SECRET}, {**env, "LAAFFIC_API_SECRET": TEST_API_SECRET}
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    with DagsterInstance.get() as instance:  # creates the SQLite storage before any other process
        # 1. The daemon with the wrong secret. Both sensors take their first tick (which only sets
        # the cursor) before the run exists, so the run's failure comes after it.
        with daemon_running(wrong, tmp_path / "daemon-wrong-secret.log") as wait:
            wait(
                "first tick of both sensors",
                lambda: all(
                    sensor_cursors(instance).get(name) is not None
                    for name in (RUN_FAILURE_SENSOR_NAME, CHECK_FAILURE_SENSOR_NAME)
                ),
            )
            queue_backfill(wrong, [day_a])
            wait(
                f"run-failure alert for {day_a}",
                lambda: (
                    ended(instance, day_a)
                    and alerts_of(webhook, "run_failure")
                    and len(inbox.messages) == len(webhook.bodies)
                ),
            )

        # 2. The daemon with the right secret; day B fails its page check.
        with daemon_running(right, tmp_path / "daemon-right-secret.log") as wait:
            queue_backfill(right, [day_b])
            wait(
                f"the run-failure alert for {day_b}, and the check sensor's tick over its run",
                lambda: (
                    ended(instance, day_b)
                    and len(alerts_of(webhook, "run_failure")) == 2
                    and check_sensor_saw_the_end_of(instance, day_b)
                    and len(inbox.messages) == len(webhook.bodies)
                ),
            )
        run_a, run_b = run_for(instance, day_a), run_for(instance, day_b)
    finished = time.time()

    assert run_a is not None and run_a.status == DagsterRunStatus.FAILURE
    assert run_b is not None and run_b.status == DagsterRunStatus.FAILURE
    # The simulator refused day A's Sign and answered day B's pages.
    assert simulator.outcome_counts.get("-1") and simulator.outcome_counts.get("0"), simulator.outcome_counts

    failed_a, failed_b = alerts_of(webhook, "run_failure")
    assert failed_a["title"] == f"Run of {DAILY_JOB_NAME} failed for {day_a}"
    assert (failed_a["job"], failed_a["partitions"], failed_a["failed"]) == (
        DAILY_JOB_NAME,
        [day_a],
        ["laaffic_days"],
    )
    assert "authentication error" in failed_a["error"]
    assert failed_a["link"] == f"{UI}/runs/{run_a.run_id}"
    assert failed_b["title"] == f"Run of {DAILY_JOB_NAME} failed for {day_b}"
    assert (failed_b["job"], failed_b["partitions"]) == (DAILY_JOB_NAME, [day_b])
    assert f"{day_b}: page_count_consistency failed" in failed_b["error"]
    assert failed_b["link"] == f"{UI}/runs/{run_b.run_id}"
    assert failed_b["failed"] == ["laaffic_days", "raw/call_records:page_count_consistency"]
    assert f"raw/call_records:page_count_consistency [{day_b}]: " in failed_b["error"]
    assert "reported total" in failed_b["error"]

    # Once each, never repeated by a later tick or the restart; the failed check is not alerted a
    # second time. The late-marts sensor runs too and, as no marts day is ever built here, may
    # rightly say so once.
    kinds = Counter(body["alert"]["kind"] for body in webhook.bodies)
    assert kinds["run_failure"] == 2 and kinds["check_failure"] == 0 and kinds["late_data"] <= 1, kinds
    assert set(kinds) <= {"run_failure", "check_failure", "late_data"}
    assert all(body["text"].startswith("[laaffic-pipeline] ") for body in webhook.bodies)

    # The same alerts by e-mail, in the order the webhook got them.
    assert [(sender, rcpt) for sender, rcpt, _ in inbox.messages] == [
        ("pipeline@example.com", ["ops@example.com"])
    ] * len(webhook.bodies)
    mails = {message["Subject"]: message.get_payload() for _, _, message in inbox.messages}
    assert list(mails) == [
        f"[laaffic-pipeline] {body['alert']['severity']}: {body['alert']['title']}" for body in webhook.bodies
    ]
    mail_a, mail_b = (
        mails[f"[laaffic-pipeline] {a['severity']}: {a['title']}"] for a in (failed_a, failed_b)
    )
    assert f"{UI}/runs/{run_a.run_id}" in mail_a and f"Partition: {day_a}" in mail_a
    assert f"{UI}/runs/{run_b.run_id}" in mail_b and f"Partition: {day_b}" in mail_b
    assert "raw/call_records:page_count_consistency" in mail_b

    received = repr(webhook.bodies) + "".join(message.as_string() for _, _, message in inbox.messages)
    assert WRONG_SECRET not in received and TEST_API_SECRET not in received
    assert not HEX32.findall(received)  # no md5 of any kind, so no Sign
    assert not {sign for sign in signs_between(started, finished) if sign in received}
    assert finished - started < TEST_TIMEOUT_S
