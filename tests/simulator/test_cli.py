"""``laaffic-pipeline simulate``: a real subprocess that prints its URL and serves until signalled."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from laaffic_pipeline.cli import build_parser
from laaffic_pipeline.simulator import FaultConfig
from tests.conftest import TEST_API_KEY, TEST_API_SECRET

LISTENING = re.compile(r"Laaffic simulator listening on (http://127\.0\.0\.1:\d+/v3/voice)\n")


class _Url:
    """Just enough of a simulator for ``SimulatorCaller``: a base URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


@pytest.fixture
def launch() -> Iterator:
    processes: list[subprocess.Popen] = []

    def start(*flags: str, port: int = 0) -> tuple[subprocess.Popen, str]:
        env = {**os.environ, "LAAFFIC_API_SECRET": TEST_API_SECRET}
        command = [sys.executable, "-m", "laaffic_pipeline.cli", "simulate", "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--api-key", TEST_API_KEY, *flags],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        line = process.stdout.readline()
        match = LISTENING.fullmatch(line)
        assert match, f"unexpected first line {line!r}; stderr: {process.stderr.read()}"
        return process, match.group(1)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_simulate_prints_its_url_serves_and_exits_cleanly(launch, api, recent_window, stop_signal):
    process, base_url = launch()
    assert api.page(_Url(base_url), recent_window, size=5)["status"] == "0"
    process.send_signal(stop_signal)
    assert process.wait(timeout=5) == 0
    output = process.stdout.read() + process.stderr.read()
    assert TEST_API_SECRET not in output


def test_simulate_takes_faults_from_flags(launch, api, recent_window):
    _, base_url = launch("--status-18-rate", "1", "--seed", "3", "--records-per-day", "10")
    assert api.page(_Url(base_url), recent_window)["status"] == "-18"


def test_every_fault_has_a_flag():
    args = build_parser().parse_args(["simulate", "--http-5xx-rate", "0.25", "--late-arrivals", "3"])
    assert args.http_5xx_rate == 0.25 and args.late_arrivals == 3
    for name in FaultConfig.__dataclass_fields__:
        assert hasattr(args, name)


def test_variant_flags_of_every_type_parse_into_the_fault_config():
    args = build_parser().parse_args(
        [
            "simulate",
            "--allowed-ips", "10.0.0.1", "::1",
            "--settlement-fields",
            "--extra-field", "newField",
            "--changed-type-field", "callDuration",
            "--rate-multiplier-day", "2026-03-01",
            "--rate-multiplier", "2.5",
        ]
    )  # fmt: skip
    faults = FaultConfig(**{name: getattr(args, name) for name in FaultConfig.__dataclass_fields__})
    assert faults == FaultConfig(
        allowed_ips=("10.0.0.1", "::1"),
        settlement_fields=True,
        extra_field="newField",
        changed_type_field="callDuration",
        rate_multiplier_day="2026-03-01",
        rate_multiplier=2.5,
    )
    defaults = build_parser().parse_args(["simulate"])
    assert FaultConfig(**{name: getattr(defaults, name) for name in FaultConfig.__dataclass_fields__}) == (
        FaultConfig()
    )


def test_simulate_restricts_ips_and_shapes_records_from_flags(launch, api, recent_window):
    _, restricted = launch("--allowed-ips", "10.0.0.1")
    assert api.page(_Url(restricted), recent_window)["status"] == "-2"
    _, shaped = launch("--settlement-fields", "--extra-field", "newField", "--changed-type-field", "cost")
    record = api.page(_Url(shaped), recent_window, size=1)["data"]["records"][0]
    assert "settlePay" in record and "newField" in record and not isinstance(record["cost"], str)


def test_simulate_without_a_secret_is_a_usage_error():
    done = subprocess.run(  # the clean environment: no LAAFFIC_API_SECRET to fall back on
        [sys.executable, "-m", "laaffic_pipeline.cli", "simulate", "--api-key", "k"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--api-secret" in done.stderr


def test_bad_fault_values_are_usage_errors():
    env = {**os.environ, "LAAFFIC_API_KEY": "k", "LAAFFIC_API_SECRET": "s"}
    done = subprocess.run(
        [sys.executable, "-m", "laaffic_pipeline.cli", "simulate", "--http-5xx-rate", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "http_5xx_rate" in done.stderr


def test_simulate_listens_on_the_port_it_is_given(launch, api, recent_window):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, base_url = launch(port=port)
    assert base_url == f"http://127.0.0.1:{port}/v3/voice"
    assert api.page(_Url(base_url), recent_window, size=5)["status"] == "0"
