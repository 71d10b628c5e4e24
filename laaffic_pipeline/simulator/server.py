"""A local Laaffic API: ``POST /v3/voice/recordSipQuery`` over real HTTP, with injectable faults.

The client is tested and benchmarked against this server exactly as against the real API: same
URL shape, same signing, same status codes and body shapes. ``records_for_window`` and
``records_for_local_day`` tell a test which records the server holds, so landed data can be
compared against the truth.

The server is live: a call is served once it has ended at the simulator's clock (``hangupTime <=
now``), while a window still selects calls by ``submitTime``. At 10:00 a window ``[00:00, 10:00)``
holds the calls submitted before 10:00 that ended by 10:00; one submitted at 09:58 and ending at
10:03 appears from 10:03 on, and ``total`` is the count served at that moment. A window reaching
past now is answered like any other (the document does not forbid it), just never with a call
that has not ended. The oracles take an instant (``as_of``) and answer exactly what the server
would serve then; a test drives the clock with ``SettableClock`` (``clock.py``).

The rules it enforces are its own reading of the API document (``protocol.py``); it imports
nothing from the client.

Admin endpoints (not part of the real API): ``GET /_simulator/health``, ``GET /_simulator/faults``,
``PUT /_simulator/faults`` (a JSON object of ``FaultConfig`` fields to change), and
``GET /_simulator/requests`` (every ``recordSipQuery`` request: arrival on the monotonic clock and
the answer; ``DELETE`` clears it with the counters).
"""

from __future__ import annotations

import hmac
import json
import math
import random
import re
import socket
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from laaffic_pipeline.simulator.faults import FaultConfig
from laaffic_pipeline.simulator.protocol import (
    CONTENT_TYPE,
    MAX_WINDOW,
    expected_sign,
    format_time,
    parse_time,
    retention_floor,
)
from laaffic_pipeline.simulator.records import (
    MAX_RECORDS_PER_DAY,
    CallRow,
    late_row,
    parse_offset,
    utc_days,
    window_rows,
    window_slice,
)
from laaffic_pipeline.simulator.variants import render_record

BASE_PATH = "/v3/voice"
QUERY_PATH = f"{BASE_PATH}/recordSipQuery"
HEALTH_PATH = "/_simulator/health"
FAULTS_PATH = "/_simulator/faults"
REQUESTS_PATH = "/_simulator/requests"
REQUEST_LOG_SIZE = 100_000  # the oldest entries go first; a benchmark sends many more
HTML_TYPE = "text/html;charset=UTF-8"
MAX_BODY_BYTES = 1_000_000
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True)
class Reply:
    """An HTTP answer; the handler adds Content-Length so keep-alive always works."""

    status: int
    body: bytes
    content_type: str = CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()


class Refusal(Exception):
    """A request the API answers with HTTP 200 and a non-zero ``status``."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class LoggedRequest:
    """One ``recordSipQuery`` request as the server saw it, for tests that time a client."""

    arrived: float  # the simulator's monotonic clock (``time.monotonic()`` unless injected)
    http_status: int
    status: str | None  # the API's ``status`` answered, ``None`` when the body was not API JSON
    outcome: str  # as in ``outcome_counts``: "0", "-2", "http_429", "non_json", ...
    client_ip: str
    tcp_nodelay: bool | None  # Nagle off on the answer's socket (``None``: not answered over TCP)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Query:
    """A validated request body."""

    current: int
    size: int
    start: datetime
    end: datetime
    sip_group_name: str
    phone_name: str


def _json_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def _html_reply(status: int, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """What a proxy in front of the API sends when something breaks: HTML, not JSON."""
    title = f"{status} {HTTPStatus(status).phrase}"
    page = (
        f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
        "<hr><center>nginx</center></body></html>"
    )
    return Reply(status, page.encode(), HTML_TYPE, headers)


def _status_reply(status: str, reason: str) -> Reply:
    return _json_reply({"status": status, "reason": reason, "data": None})


def _shown(value: Any) -> str:
    """A client's value quoted in a reason, cut short so a reason stays one readable line."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def authenticate(
    headers: Mapping[str, str], api_key: str, api_secret: str, now: float, tolerance_s: int
) -> None:
    """Check ``Api-Key``, ``Timestamp`` and ``Sign`` (lowercase keys in ``headers``)."""
    key = headers.get("api-key", "")
    if not key:
        raise Refusal("-1", "The Api-Key header is missing.")
    if not hmac.compare_digest(key.encode(), api_key.encode()):
        raise Refusal("-1", "The Api-Key is not recognised.")
    timestamp = headers.get("timestamp", "").strip()
    if not timestamp:
        raise Refusal("-16", "The Timestamp header is missing: send Unix time in seconds.")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Refusal("-16", f"The Timestamp {_shown(timestamp)} is not a whole number of Unix seconds.")
    sign = headers.get("sign", "")
    if not sign:
        raise Refusal("-1", "The Sign header is missing.")
    expected = expected_sign(api_key, api_secret, timestamp)
    if not hmac.compare_digest(sign.encode(), expected.encode()):
        raise Refusal(
            "-1", "The Sign does not match: it must be lowercase md5(apiKey + apiSecret + Timestamp)."
        )
    skew = abs(now - int(timestamp))
    if skew > tolerance_s:
        raise Refusal(
            "-16",
            f"The Timestamp {timestamp} is {skew:.0f} s away from the server clock; "
            f"at most {tolerance_s} s are allowed.",
        )


def _int_field(payload: Mapping[str, Any], name: str, low: int, high: int | None) -> int:
    value = payload.get(name)
    bounds = f"{low}..{high}" if high is not None else f"{low} or more"
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refusal("-22", f"The parameter {name} must be an integer {bounds}, got {_shown(value)}.")
    if value < low or (high is not None and value > high):
        raise Refusal("-22", f"The parameter {name} must be {bounds}, got {value}.")
    return value


def _time_field(params: Mapping[str, Any], name: str) -> datetime:
    value = params.get(name)
    example = "like 2022-01-01T00:00:00+08:00"
    if not isinstance(value, str):
        raise Refusal("-22", f"The parameter params.{name} must be an ISO-8601 string {example}.")
    try:
        return parse_time(value)
    except ValueError:
        raise Refusal(
            "-22",
            f"The parameter params.{name} {_shown(value)} is not an ISO-8601 time with a zone "
            f"offset, {example}.",
        ) from None


def _text_field(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refusal("-22", f"The parameter params.{name} must be a string, got {_shown(value)}.")
    return value


def parse_query(body: bytes, now: datetime) -> Query:
    """Validate the body as the API does: shape and types (-22), then the time range (-25)."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise Refusal("-22", "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise Refusal("-22", "The request body must be a JSON object with current, size and params.")
    current = _int_field(payload, "current", 1, None)
    size = _int_field(payload, "size", 1, 100)
    params = payload.get("params")
    if not isinstance(params, dict):
        raise Refusal("-22", "The parameter params must be a JSON object with strTime and endTime.")
    start, end = _time_field(params, "strTime"), _time_field(params, "endTime")
    query = Query(
        current, size, start, end, _text_field(params, "sipGroupName"), _text_field(params, "phoneName")
    )
    if start >= end:
        raise Refusal(
            "-22",
            f"The parameter strTime {format_time(start)} must be before endTime {format_time(end)}.",
        )
    if end - start > MAX_WINDOW:
        raise Refusal(
            "-25",
            f"The range from strTime {format_time(start)} to endTime {format_time(end)} "
            "is longer than 31 days.",
        )
    floor = retention_floor(now)
    if start < floor:
        raise Refusal(
            "-25",
            f"The parameter strTime {format_time(start)} is before {format_time(floor)}: "
            "only the last two months of records can be queried.",
        )
    return query


class LaafficSimulator:
    """The Laaffic voice API on a local port, serving deterministic records and chosen faults."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        seed: int = 7,
        records_per_day: int = 500,
        record_offset: str = "+08:00",
        timestamp_tolerance_s: int = 300,
        clock: Callable[[], float] = time.time,
        faults: FaultConfig | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        **fault_fields: Any,
    ) -> None:
        """``clock`` is the Unix time the Timestamp and retention checks use and that decides which
        calls have ended (``SettableClock`` lets a test move it); ``monotonic`` times the
        rate limit and the request log; ``sleep`` serves ``latency_ms``. Injecting them makes
        timing tests exact. Any ``FaultConfig`` field may be passed directly (``allowed_ips=[...]``)
        and is applied on top of ``faults``.
        """
        if not api_key or not api_secret:
            raise ValueError("the simulator needs a non-empty api_key and api_secret")
        if not 0 <= records_per_day <= MAX_RECORDS_PER_DAY:
            raise ValueError(f"records_per_day must be between 0 and {MAX_RECORDS_PER_DAY}")
        if timestamp_tolerance_s < 0:
            raise ValueError("timestamp_tolerance_s must not be negative")
        self.api_key = api_key
        self._api_secret = api_secret
        self.seed = seed
        self.records_per_day = records_per_day
        self.record_offset = record_offset
        self.timestamp_tolerance_s = timestamp_tolerance_s
        self._zone = parse_offset(record_offset)
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        unknown = sorted(set(fault_fields) - set(FaultConfig.__dataclass_fields__))
        if unknown:
            raise TypeError(f"LaafficSimulator got unexpected keyword argument(s) {unknown}")
        self._faults = (faults or FaultConfig()).merged(fault_fields)
        self._rng = random.Random(self._faults.fault_seed)
        self._late: dict[date, list[CallRow]] = {}
        self._outcomes: Counter[str] = Counter()
        self._log: deque[LoggedRequest] = deque(maxlen=REQUEST_LOG_SIZE)
        self._rate_second = -1
        self._rate_used = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self._server and self.base_url
        return (
            f"LaafficSimulator(api_key={self.api_key!r}, seed={self.seed}, "
            f"records_per_day={self.records_per_day}, base_url={where!r})"
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 picks a free port) in a background thread; return base_url."""
        if self._server is not None:
            raise RuntimeError(f"simulator already listening on {self.base_url}")
        self._server = _Server((host, port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="laaffic-simulator",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop listening and drop open keep-alive connections; safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LaafficSimulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT``, where the admin endpoints live."""
        if self._server is None:
            raise RuntimeError("simulator is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v3/voice``, the value a client uses in place of the real base URL."""
        return f"{self.root_url}{BASE_PATH}"

    # -- faults and counters -----------------------------------------------------------------

    @property
    def faults(self) -> FaultConfig:
        with self._lock:
            return self._faults

    @faults.setter
    def faults(self, faults: FaultConfig) -> None:
        """Replace the faults; the fault RNG restarts from ``faults.fault_seed`` for repeatability."""
        if not isinstance(faults, FaultConfig):
            raise TypeError(f"faults must be a FaultConfig, got {type(faults).__name__}")
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.fault_seed)

    @property
    def request_count(self) -> int:
        """``recordSipQuery`` requests received since start or the last ``reset_counters()``."""
        with self._lock:
            return self._outcomes["requests"]

    @property
    def outcome_counts(self) -> dict[str, int]:
        """Answers by kind: ``"0"``, ``"-1"``... for API statuses, ``"http_429"`` etc. otherwise."""
        with self._lock:
            return {key: count for key, count in self._outcomes.items() if key != "requests"}

    def reset_counters(self) -> None:
        """Forget the counters and the request log."""
        with self._lock:
            self._outcomes.clear()
            self._log.clear()

    @property
    def request_log(self) -> list[LoggedRequest]:
        """The ``recordSipQuery`` requests answered so far (the last 100,000), in arrival order.

        ``arrived`` is on ``time.monotonic()`` (or the injected ``monotonic``), so a test in the
        same process can measure, at the server, the gap between a 429 and the next request.
        """
        with self._lock:
            return sorted(self._log, key=lambda entry: entry.arrived)

    @property
    def late_arrival_count(self) -> int:
        """Late-arrival records added so far (they stay for the simulator's lifetime; each is
        served once its call has ended)."""
        with self._lock:
            return sum(len(rows) for rows in self._late.values())

    # -- ground truth ------------------------------------------------------------------------

    def records_for_window(
        self,
        str_time: str,
        end_time: str,
        sip_group_name: str = "",
        phone_name: str = "",
        *,
        as_of: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Every record the server serves for the window at instant ``as_of`` (``None``: the
        simulator's clock now), as served and in serving order: the calls submitted in the window
        that ended by then, late arrivals so far included."""
        rows = self._rows(
            parse_time(str_time), parse_time(end_time), sip_group_name, phone_name, self._as_of(as_of)
        )
        return self._rendered(rows)

    def records_for_local_day(
        self,
        day: date,
        zone: str,
        sip_group_name: str = "",
        phone_name: str = "",
        *,
        as_of: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The test oracle for a local day: records whose submit instant, shown in IANA ``zone``,
        falls on calendar day ``day`` and whose call ended by ``as_of`` (``None``: the simulator's
        clock now), as served and in serving order.

        It never builds a window from the day's midnights (the client's way, and the pipeline's):
        it takes the three UTC days around ``day``, which hold every instant of any zone's local
        day, and keeps the rows whose ``zoneinfo`` local date is ``day``. So on a 23 h or 25 h DST
        day, or in a zone east of UTC, it is a second opinion on a window computed elsewhere.
        """
        local = ZoneInfo(zone)
        around_start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
        around = self._rows(
            around_start, around_start + timedelta(days=3), sip_group_name, phone_name, self._as_of(as_of)
        )
        rows = [row for row in around if datetime.fromtimestamp(row.submit, local).date() == day]
        return self._rendered(rows)

    def _as_of(self, as_of: datetime | None) -> float:
        """An oracle's instant in Unix seconds: ``as_of`` (zone-aware), or the clock's now."""
        if as_of is None:
            return self._clock()
        if as_of.utcoffset() is None:
            raise ValueError(f"as_of must be zone-aware, got {as_of!r}")
        return as_of.timestamp()

    def _late_rows(self) -> dict[date, tuple[CallRow, ...]]:
        with self._lock:
            return {day: tuple(rows) for day, rows in self._late.items()}

    def _rows(self, start: datetime, end: datetime, group: str, phone: str, as_of: float) -> list[CallRow]:
        """The rows served for a window at ``as_of`` (Unix seconds), filtered like a query."""
        rows = window_rows(self.seed, self.records_per_day, start, end, self._late_rows(), as_of)
        if group:
            rows = [row for row in rows if row.sip_group_name == group]
        if phone:
            rows = [row for row in rows if row.phone_name == phone]
        return rows

    def _rendered(self, rows: list[CallRow]) -> list[dict[str, Any]]:
        faults = self.faults
        return [self._render(row, faults) for row in rows]

    def _render(self, row: CallRow, faults: FaultConfig) -> dict[str, Any]:
        return render_record(row, self._zone, faults)

    # -- answering ---------------------------------------------------------------------------

    def answer_query(
        self,
        headers: Mapping[str, str],
        body: bytes,
        *,
        client_ip: str = "127.0.0.1",
        tcp_nodelay: bool | None = None,
    ) -> Reply:
        """Answer one ``recordSipQuery`` request (``headers`` keyed in lowercase) and log it."""
        arrived = self._monotonic()
        self._count("requests")
        outcome, reply = self._answer(headers, body, client_ip)
        status = outcome if outcome.lstrip("-").isdigit() else None
        entry = LoggedRequest(arrived, reply.status, status, outcome, client_ip, tcp_nodelay)
        with self._lock:
            self._outcomes[outcome] += 1
            self._log.append(entry)
        return reply

    def _answer(self, headers: Mapping[str, str], body: bytes, client_ip: str) -> tuple[str, Reply]:
        """The answer and its kind (a key of ``outcome_counts``)."""
        faults = self.faults
        if faults.latency_ms > 0:
            self._sleep(faults.latency_ms / 1000)  # only this connection's thread waits
        if faults.rate_limit_per_s > 0 and not self._admit(faults.rate_limit_per_s):
            return "http_429", _html_reply(429, (("Retry-After", "1"),))
        if self._chance(faults.http_5xx_rate):
            reply = _html_reply(self._pick((500, 502, 503)))
            return f"http_{reply.status}", reply
        if self._chance(faults.non_json_rate):
            return "non_json", _html_reply(200)
        now = self._clock()
        try:
            if faults.allowed_ips and client_ip not in faults.allowed_ips:
                raise Refusal("-2", f"Restricted IP access: {client_ip} is not an allowed address.")
            authenticate(headers, self.api_key, self._api_secret, now, self.timestamp_tolerance_s)
            query = parse_query(body, datetime.fromtimestamp(now, UTC))
            if self._chance(faults.status_18_rate):
                raise Refusal("-18", "Port program unusual")
        except Refusal as refusal:
            return refusal.status, _status_reply(refusal.status, refusal.reason)
        data = self._page(query, faults, now)
        self._arrive(query, faults, now)
        return "0", _json_reply({"status": "0", "reason": "success", "data": data})

    def _page(self, query: Query, faults: FaultConfig, now: float) -> dict[str, Any]:
        """One page of the calls served at ``now``; ``total`` counts them at that moment."""
        first = (query.current - 1) * query.size
        before = 1 if first > 0 else 0  # the previous page's last row, for the duplicates fault
        if query.sip_group_name or query.phone_name:
            rows = self._rows(query.start, query.end, query.sip_group_name, query.phone_name, now)
            total, window = len(rows), rows[first - before : first + query.size]
        else:
            total, window = window_slice(
                self.seed,
                self.records_per_day,
                query.start,
                query.end,
                self._late_rows(),
                first - before,
                query.size + before,
                now,
            )
        previous, page = window[:before], window[before:]
        records = [self._render(row, faults) for row in page]
        if page and previous and self._chance(faults.duplicate_rate):
            records.insert(0, self._render(previous[0], faults))
        return {
            "total": max(0, total + faults.reported_total_delta(query.start)),
            "size": query.size,
            "current": query.current,
            "pages": math.ceil(total / query.size),
            "searchCount": True,
            "records": records,
        }

    def _arrive(self, query: Query, faults: FaultConfig, now: float) -> None:
        """Late arrivals: after each successful page, new records appear inside the window.

        A late arrival is a call already submitted (before ``now``); like every call it is served
        once it has ended, so in a past window at once."""
        if faults.late_arrivals <= 0:
            return
        start_ts, end_ts = query.start.timestamp(), min(query.end.timestamp(), now)
        with self._lock:
            for day in utc_days(query.start, query.end):
                arrived = self._late.setdefault(day, [])
                room = min(faults.late_arrivals, faults.late_arrivals_max - len(arrived))
                for _ in range(max(0, room)):
                    row = late_row(self.seed, day, len(arrived), start_ts, end_ts)
                    if row is None:
                        break
                    arrived.append(row)

    def _chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self._lock:
            return self._rng.random() < probability

    def _pick(self, choices: tuple[int, ...]) -> int:
        with self._lock:
            return self._rng.choice(choices)

    def _admit(self, limit: int) -> bool:
        """Fixed one-second window: the first ``limit`` requests of each second get through."""
        second = int(self._monotonic())
        with self._lock:
            if second != self._rate_second:
                self._rate_second, self._rate_used = second, 0
            if self._rate_used >= limit:
                return False
            self._rate_used += 1
            return True

    def _count(self, outcome: str) -> None:
        with self._lock:
            self._outcomes[outcome] += 1

    # -- admin endpoints ---------------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        client_ip: str = "127.0.0.1",
        tcp_nodelay: bool | None = None,
    ) -> Reply:
        """Dispatch one HTTP request to the API endpoint or an admin endpoint."""
        routes: dict[str, dict[str, Callable[[], Reply]]] = {
            QUERY_PATH: {
                "POST": lambda: self.answer_query(headers, body, client_ip=client_ip, tcp_nodelay=tcp_nodelay)
            },
            HEALTH_PATH: {"GET": lambda: _json_reply({"ok": True})},
            FAULTS_PATH: {
                "GET": lambda: _json_reply(self.faults.to_dict()),
                "PUT": lambda: self._put_faults(body),
            },
            REQUESTS_PATH: {
                "GET": lambda: _json_reply([entry.to_dict() for entry in self.request_log]),
                "DELETE": self._delete_requests,
            },
        }
        methods = routes.get(path)
        if methods is None:
            return _json_reply({"error": f"no endpoint {path}; the API is POST {QUERY_PATH}"}, 404)
        answer = methods.get(method)
        if answer is None:
            allowed = ", ".join(methods)
            reply = _json_reply({"error": f"{path} accepts {allowed}, not {method}"}, 405)
            return Reply(reply.status, reply.body, reply.content_type, (("Allow", allowed),))
        return answer()

    def _delete_requests(self) -> Reply:
        self.reset_counters()
        return _json_reply([])

    def _put_faults(self, body: bytes) -> Reply:
        try:
            changes = json.loads(body)
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of FaultConfig fields")
            with self._lock:
                current = self._faults
            updated = current.merged(changes)
        except (ValueError, TypeError) as error:
            return _json_reply({"error": str(error)}, 400)
        self.faults = updated
        return _json_reply(updated.to_dict())


class _Server(ThreadingHTTPServer):
    """Threaded server tuned for a client that pages over many concurrent keep-alive sockets."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: LaafficSimulator) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # Without this, Nagle's algorithm delays each keep-alive response by ~40 ms.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End idle keep-alive connections so a stopped simulator really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away; nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with Content-Length on every answer, so connections stay alive between pages."""

    protocol_version = "HTTP/1.1"
    server_version = "LaafficSimulator/1.0"
    timeout = 120  # seconds an idle keep-alive connection may hold its thread
    server: _Server

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            reply = self.server.simulator.route(
                method,
                urlsplit(self.path).path,
                headers,
                body,
                client_ip=self.client_address[0],
                tcp_nodelay=self._tcp_nodelay(),
            )
        except Exception:
            traceback.print_exc(file=sys.stderr)
            reply = _json_reply({"error": "simulator bug; see its stderr"}, 500)
        self._send(reply)

    def _tcp_nodelay(self) -> bool | None:
        try:
            return bool(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        except OSError:
            return None

    def _read_body(self) -> bytes | None:
        """The request body, or ``None`` after answering a body this server cannot read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._refuse_body(411, "send the body with Content-Length, not chunked")
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            return self._refuse_body(400, f"bad Content-Length {length!r}")
        if int(length) > MAX_BODY_BYTES:
            return self._refuse_body(413, f"body over {MAX_BODY_BYTES} bytes")
        return self.rfile.read(int(length))

    def _refuse_body(self, status: int, message: str) -> None:
        self.close_connection = True  # the unread body would corrupt the next request
        reply = _json_reply({"error": message}, status)
        self._send(Reply(reply.status, reply.body, reply.content_type, (("Connection", "close"),)))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark's thousands of requests would otherwise flood stderr."""
