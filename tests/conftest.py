"""Shared fixtures: a clean environment for every test, a running simulator, its credentials, and a
signed-request helper.

Every test starts from the same environment whatever the developer's shell exports
(``pytest_configure`` before collection, ``clean_environment`` before each test): no ``LAAFFIC_*``
setting, no ``DAGSTER_*`` instance or option, no proxy or CA bundle, and the process's local zone
pinned to UTC. A test that needs a setting sets it; a
subprocess inherits this clean environment plus what its test adds. The clock is not pinned here:
tests compute their days from it (the suite must pass under ``faketime -f +120d``), or take a
clock as an input.

The helper signs with ``doc_signed_headers``, written here from the API document with
``hashlib.md5``, not with the client's signer: a simulator test then checks the simulator alone.
``require``/``require_binary`` guard the tests that drive a program outside Python (Chromium,
PostgreSQL, openssl): skipped here when it is missing, failed under ``CI=true``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from laaffic_pipeline.api.auth import Credentials
from laaffic_pipeline.settings import ClientSettings
from laaffic_pipeline.simulator import LaafficSimulator

SETTLE_LAG = timedelta(minutes=ClientSettings.model_fields["final_lag_min"].default)
"""LAAFFIC_FINAL_LAG_MIN's default (65 minutes: the simulator's longest call spans 60 min 34 s)."""


def last_final_day(zone: str = "UTC", now: datetime | None = None) -> date:
    """The latest local day whose calls have all ended at ``now`` (default: the machine's clock):
    yesterday, or the day before it in the first 65 minutes after midnight, while the simulator
    still serves yesterday's last calls and the pipeline still reads yesterday as provisional."""
    moment = (now or datetime.now(UTC)) - SETTLE_LAG
    return moment.astimezone(ZoneInfo(zone)).date() - timedelta(days=1)


TEST_API_KEY = "test-key"
TEST_API_SECRET = "test-secret-never-logged"

# What a developer may have exported that changes how the pipeline, Dagster or the tests' own
# servers behave: the pipeline's settings, Dagster's instance (DAGSTER_HOME, the Makefile exports
# one) and its options, HTTP proxies (httpx would send the loopback requests through them) and CA
# bundles. libfaketime's LD_PRELOAD and FAKETIME* stay: they are how a run moves its clock, and
# the subprocesses must share it.
DEVELOPER_PREFIXES = ("LAAFFIC_", "DAGSTER_")
DEVELOPER_VARIABLES = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"}
)
# DuckDB takes its session TimeZone from TZ at every connect, and Dagster's logs show local time.
TEST_LOCAL_ZONE = "UTC"


def is_developer_variable(name: str) -> bool:
    """Whether ``name`` is one of the variables ``clean_environment`` keeps out of every test."""
    return name.startswith(DEVELOPER_PREFIXES) or name.upper() in DEVELOPER_VARIABLES


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the developer's variables from the environment and pin the local zone (``time.tzset``
    makes this process see it; a test that changed TZ is undone by the next one's)."""
    for name in [name for name in os.environ if is_developer_variable(name)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TZ", TEST_LOCAL_ZONE)
    time.tzset()


_session_environment = pytest.MonkeyPatch()


def pytest_configure(config: pytest.Config) -> None:
    """The clean environment from before collection on: test modules import the definitions, whose
    modules read their settings when imported, and module-scoped fixtures run before any test's
    own fixtures."""
    _clean(_session_environment)


def pytest_unconfigure(config: pytest.Config) -> None:
    _session_environment.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from the clean environment, and leaves nothing behind for the next one.

    What code under test sets straight into ``os.environ`` (``run_demo`` sets ``DAGSTER_HOME``) is
    undone too: such variables added without ``monkeypatch`` are removed after the test.
    """
    _clean(monkeypatch)
    yield
    for name in [name for name in os.environ if is_developer_variable(name)]:
        del os.environ[name]  # monkeypatch then puts back only what it removed


def require(problem: str | None, package: str) -> None:
    """Nothing when ``problem`` is None; else skip the test, or under ``CI=true`` fail it, saying
    which Debian package provides what is missing, so a missing install step in CI shows."""
    if problem is None:
        return
    message = f"{problem}: install Debian's {package} (`apt-get install -y {package}`)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI=true, so this fails instead of skipping", pytrace=False)
    pytest.skip(message)


def require_binary(name: str, package: str, path: str | None = None) -> str:
    """The program ``name`` (found on PATH, or at ``path`` when given), else ``require``'s skip or fail."""
    found = shutil.which(name) if path is None else (path if Path(path).exists() else None)
    require(None if found else f"{path or name} not found", package)
    assert found is not None
    return found


def doc_sign(api_key: str, api_secret: str, timestamp: str) -> str:
    """The doc's samples: ``md5(apiKey + apiSecret + Timestamp)`` in lowercase hex."""
    return hashlib.md5((api_key + api_secret + timestamp).encode("utf-8")).hexdigest()


def doc_signed_headers(timestamp: float | None = None) -> dict[str, str]:
    """The four headers of the doc's request sample, signed for the test credentials."""
    stamp = str(int(time.time() if timestamp is None else timestamp))
    return {
        "Content-Type": "application/json;charset=UTF-8",
        "Sign": doc_sign(TEST_API_KEY, TEST_API_SECRET, stamp),
        "Timestamp": stamp,
        "Api-Key": TEST_API_KEY,
    }


@pytest.fixture
def credentials() -> Credentials:
    """The key and secret the ``simulator`` fixture accepts."""
    return Credentials(TEST_API_KEY, TEST_API_SECRET)


@pytest.fixture
def simulator() -> Iterator[LaafficSimulator]:
    """A started simulator (seed 7, 500 records a UTC day, no faults), stopped after the test."""
    with LaafficSimulator(TEST_API_KEY, TEST_API_SECRET) as running:
        yield running


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., LaafficSimulator]]:
    """Start simulators with other settings (``make_simulator(seed=3, faults=...)``)."""
    started: list[LaafficSimulator] = []

    def make(**settings: Any) -> LaafficSimulator:
        running = LaafficSimulator(TEST_API_KEY, TEST_API_SECRET, **settings)
        running.start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


class SimulatorCaller:
    """Posts signed ``recordSipQuery`` requests, the way any client of the real API would."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def post(
        self,
        simulator: LaafficSimulator,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> httpx.Response:
        """POST ``body`` (bytes as given, anything else as JSON) signed with the test credentials."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = doc_signed_headers(clock())
        sent.update(headers or {})
        return self.http.post(f"{simulator.base_url}/recordSipQuery", content=content, headers=sent)

    def page(
        self,
        simulator: LaafficSimulator,
        window: tuple[str, str],
        *,
        current: int = 1,
        size: int = 100,
        clock: Callable[[], float] = time.time,
        **params: str,
    ) -> dict[str, Any]:
        """One page's parsed body; ``params`` adds ``sipGroupName``/``phoneName``."""
        body = {
            "current": current,
            "size": size,
            "params": {"strTime": window[0], "endTime": window[1], **params},
        }
        response = self.post(simulator, body, clock=clock)
        assert response.status_code == 200, response.text
        return response.json()

    def all_records(
        self, simulator: LaafficSimulator, window: tuple[str, str], size: int = 100, **params: str
    ) -> list[dict[str, Any]]:
        """Every page of a window in order, asserting each succeeded."""
        records: list[dict[str, Any]] = []
        current = 1
        while True:
            answer = self.page(simulator, window, current=current, size=size, **params)
            assert answer["status"] == "0", answer
            records.extend(answer["data"]["records"])
            if current >= answer["data"]["pages"]:
                return records
            current += 1


@pytest.fixture
def api() -> Iterator[SimulatorCaller]:
    with httpx.Client(timeout=10) as http:
        yield SimulatorCaller(http)


@pytest.fixture
def recent_window() -> tuple[str, str]:
    """A whole +08:00 day three days ago: inside retention whatever today is."""
    zone = timezone(timedelta(hours=8))
    day = (datetime.now(UTC) - timedelta(days=3)).astimezone(zone).date()
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.isoformat(), (start + timedelta(days=1)).isoformat()
