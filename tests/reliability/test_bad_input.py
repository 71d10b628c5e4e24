"""Bad configuration fails at load or run start naming the setting; bad records never crash a run."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInvalidConfigError

from laaffic_pipeline.api.auth import Credentials
from laaffic_pipeline.api.client import LaafficClient
from laaffic_pipeline.api.errors import TlsVerificationError
from laaffic_pipeline.api.window import QueryWindow
from laaffic_pipeline.settings import PipelineSettings, SettingsError
from laaffic_pipeline.simulator import FaultConfig
from laaffic_pipeline.simulator.faults import HUGE_STRING_CHARS, malformation_for
from tests.conftest import require_binary
from tests.defs.pipeline import make_pipeline
from tests.defs.test_raw_pipeline import RAW_ONLY, landed, truth
from tests.staged import stage_pages

REPO_ROOT = Path(__file__).resolve().parents[2]
# A start date a month after today, wherever the clock stands (no zone's today is 30 days ahead).


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("LAAFFIC_TIMEZONE", "Mars/Olympus_Mons", "IANA time zone"),
        ("LAAFFIC_START_DATE", "01/12/2026", "YYYY-MM-DD"),
        ("LAAFFIC_PAGE_SIZE", "0", "accepted: 1 to 100"),
        ("LAAFFIC_PAGE_SIZE", "101", "accepted: 1 to 100"),
        ("LAAFFIC_PAGE_SIZE", "fifty", "accepted: 1 to 100"),
        ("LAAFFIC_CONCURRENCY", "0", "accepted: 1 to 64"),
        ("LAAFFIC_RETRY_ATTEMPTS", "0", "accepted: 1 to 50"),
        ("LAAFFIC_MAX_READS", "1", "accepted: 2 to 20"),
        ("LAAFFIC_REQUESTS_PER_SECOND", "-5", "accepted: more than 0 to 10000"),
        ("LAAFFIC_DUCKDB_LOCK_TIMEOUT_S", "-1", "accepted: 0 to 86400"),
        ("LAAFFIC_BASE_URL", "http://api.laaffic.com/v3/voice", "use an https:// URL"),
        ("LAAFFIC_BASE_URL", "api.laaffic.com/v3/voice", "use an https:// URL"),
    ],
)
def test_a_bad_setting_is_refused_naming_it_and_the_accepted_values(name, value, accepted):
    with pytest.raises(SettingsError) as refused:
        PipelineSettings.from_env({name: value})
    assert f"{name}=" in str(refused.value)
    assert accepted in str(refused.value)


def test_the_code_location_fails_to_load_with_a_bad_setting():
    env = {**os.environ, "LAAFFIC_TIMEZONE": "Mars/Olympus_Mons"}
    loaded = subprocess.run(
        [sys.executable, "-c", "from laaffic_pipeline.definitions import defs; defs()"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode != 0
    assert "LAAFFIC_TIMEZONE='Mars/Olympus_Mons' is not accepted: not a known IANA time zone" in loaded.stderr


def test_a_missing_api_key_fails_at_run_start_before_any_request(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    monkeypatch.delenv("LAAFFIC_API_KEY")
    missing = 'environment variable "LAAFFIC_API_KEY" which is not set'
    with pytest.raises(DagsterInvalidConfigError, match=missing):
        pipeline.run(pipeline.last_partition, RAW_ONLY)
    assert simulator.request_count == 0


def test_an_empty_secret_fails_at_run_start_naming_it_and_is_not_retried(monkeypatch, tmp_path, simulator):
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator, step_retries=2, step_retry_delay_s=0)
    monkeypatch.setenv("LAAFFIC_API_SECRET", "")
    result = pipeline.run(pipeline.last_partition, RAW_ONLY)
    assert not result.success
    errors = [
        event.event_specific_data.error
        for event in result.all_events
        if event.event_specific_data is not None and getattr(event.event_specific_data, "error", None)
    ]
    chain = []
    for error in errors:
        while error is not None:
            chain.append(error.message)
            error = error.cause
    assert any("LAAFFIC_API_SECRET is empty" in message for message in chain), chain
    assert simulator.request_count == 0
    assert "STEP_UP_FOR_RETRY" not in [event.event_type_value for event in result.all_events]


def test_malformed_records_are_stored_raw_flagged_downstream_and_the_run_succeeds(
    monkeypatch, tmp_path, make_simulator
):
    simulator = make_simulator(records_per_day=400, faults=FaultConfig(malformed_rate=1.0))
    pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition

    result = pipeline.run(day)  # the whole daily job: raw, marts and their checks

    assert result.success, pipeline.failure_message(result)
    records = landed(pipeline, day)
    assert records == truth(pipeline, simulator, day)  # every record exactly as served
    kinds = Counter(
        malformation_for(record.get("voiceId", ""), 0, 1.0) if "voiceId" in record else "missing_voice_id"
        for record in records
    )
    assert len(kinds) == 8, kinds  # every kind of malformation is in the day
    assert pipeline.query(
        "SELECT count(*) FROM raw.call_records WHERE partition_date = ? AND voice_id IS NULL", [day]
    ) == [(kinds["missing_voice_id"],)]
    assert any(len(r.get("terminationReason", "")) == HUGE_STRING_CHARS for r in records)
    assert any("Zürich-電話" in r.get("phoneName", "") for r in records)
    assert any(r.get("carrierRoute") == "RT-17" for r in records)
    assert any(isinstance(r.get("callDuration"), str) for r in records)
    # Records with unusable values are flagged in the marts, not dropped and not fatal.
    unusable = sum(
        kinds[kind]
        for kind in (
            "missing_voice_id",
            "cost_not_a_number",
            "durations_as_strings",
            "empty_times",
            "unknown_bill_period",
        )
    )
    ((rows, flagged),) = pipeline.query(  # the warehouse holds this one day
        "SELECT count(*), count(*) FILTER (WHERE len(quality_flags) > 0) FROM marts.call_facts"
    )
    assert rows == len(records)
    assert flagged >= unusable > 0


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a self-signed certificate (not trusted by anyone)."""
    require_binary("openssl", "openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/v3/voice"
    server.shutdown()
    server.server_close()


def test_tls_certificates_are_verified_and_a_bad_one_is_not_retried(tls_server):
    async def fetch():
        retry = {"retry_attempts": 5, "retry_initial_wait_s": 1, "retry_max_wait_s": 1, "retry_jitter_s": 0}
        window = QueryWindow(datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC))
        async with LaafficClient(Credentials("k", "s"), tls_server, **retry) as client:
            await client.fetch_page(window, 1)
            return client

    started = time.monotonic()
    with pytest.raises(TlsVerificationError, match="certificate verify failed.*verification stays on"):
        asyncio.run(fetch())
    assert time.monotonic() - started < 3  # retried, it would wait 1 s four times


def test_records_of_every_shape_survive_the_page_sink_unchanged(tmp_path):
    # The staging file keeps non-ASCII text and huge strings byte for byte (no ASCII escaping).
    record = {"voiceId": "1", "phoneName": "Zürich-電話", "terminationReason": "x" * 100_000, "n": [1, None]}
    staged = stage_pages(tmp_path, [[record]], datetime.now(UTC))
    (line,) = staged.records_path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["record"] == record
    assert "Zürich-電話" in line
    with duckdb.connect() as conn:
        (stored,) = conn.execute(
            "SELECT record FROM read_json(?, format='newline_delimited', columns={record: 'JSON'})",
            [str(staged.records_path)],
        ).fetchone()
    assert json.loads(stored) == record
