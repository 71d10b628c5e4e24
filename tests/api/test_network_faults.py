"""Real network faults on loopback: a server that never answers, and one that resets the connection.

Tiny socket servers on 127.0.0.1 misbehave at the TCP level, where ``httpx.MockTransport`` cannot:
the client's own timeout fires, the kernel delivers a real RST. Connections are counted at the
server, so "tried twice" is what the server saw, not what the client says it did.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from laaffic_pipeline.api.auth import Credentials
from laaffic_pipeline.api.client import LaafficClient
from laaffic_pipeline.api.errors import LaafficTransportError
from laaffic_pipeline.api.window import QueryWindow

CREDENTIALS = Credentials("loopback-key", "loopback-secret")
START = datetime(2026, 3, 10, tzinfo=UTC)
WINDOW = QueryWindow(START, START + timedelta(days=1))
RECORD = {"voiceId": "v1", "cost": "0.025", "currency": "USD"}


class LoopbackServer:
    """Accepts connections on 127.0.0.1 and hands the n-th one (from 0) to ``serve(n, socket)``."""

    def __init__(self, serve: Callable[[int, socket.socket], None]) -> None:
        self._serve = serve
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stopping = threading.Event()
        self._open: list[socket.socket] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, name="loopback-server", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._listener.getsockname()
        return f"http://{host}:{port}/v3/voice"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                if self._stopping.is_set():
                    return  # stop only once the backlog is empty: every connection is counted
                continue
            connection.settimeout(5)
            self._open.append(connection)
            number, self.connections = self.connections, self.connections + 1
            threading.Thread(target=self._serve, args=(number, connection), daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self._open:
            connection.close()


@pytest.fixture
def loopback() -> Iterator[Callable[[Callable[[int, socket.socket], None]], LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def start(serve: Callable[[int, socket.socket], None]) -> LoopbackServer:
        servers.append(LoopbackServer(serve))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def read_request(connection: socket.socket) -> bytes:
    """One HTTP request, headers and Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def answer_one_page(connection: socket.socket) -> None:
    request = read_request(connection)
    sent = json.loads(request.partition(b"\r\n\r\n")[2])
    body = json.dumps(
        {
            "status": "0",
            "reason": "success",
            "data": {"total": 1, "size": sent["size"], "current": 1, "pages": 1, "records": [RECORD]},
        }
    ).encode()
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    connection.close()


def reset(connection: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN (a "connection reset by peer")."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def fetch_page(base_url: str, **options):
    async def fetch():
        async with LaafficClient(
            CREDENTIALS,
            base_url,
            retry_initial_wait_s=0,
            retry_max_wait_s=0,
            retry_jitter_s=0,
            **options,
        ) as client:
            try:
                return await client.fetch_page(WINDOW, 1), client
            except LaafficTransportError as error:
                return error, client

    return asyncio.run(fetch())


def test_a_server_that_never_answers_times_out_on_each_of_the_attempts(loopback):
    def never_answer(number: int, connection: socket.socket) -> None:
        read_request(connection)  # then silence: the socket stays open until the test ends

    server = loopback(never_answer)
    error, client = fetch_page(server.base_url, timeout_s=0.2, retry_attempts=2)
    server.stop()

    assert isinstance(error, LaafficTransportError)
    assert "ReadTimeout" in str(error)
    assert server.connections == 2  # one connection per attempt, then the client gave up
    assert (client.counts.sent, client.counts.retries) == (2, 1)


def test_a_reset_connection_is_retried_and_the_next_answer_used(loopback):
    def reset_then_answer(number: int, connection: socket.socket) -> None:
        if number == 0:
            read_request(connection)
            reset(connection)
        else:
            answer_one_page(connection)

    server = loopback(reset_then_answer)
    page, client = fetch_page(server.base_url, timeout_s=5, retry_attempts=2)
    server.stop()

    assert not isinstance(page, Exception), page
    assert page.records == [RECORD]
    assert server.connections == 2
    assert (client.counts.sent, client.counts.retries) == (2, 1)


def test_resets_on_every_attempt_end_in_a_transport_error(loopback):
    def always_reset(number: int, connection: socket.socket) -> None:
        read_request(connection)
        reset(connection)

    server = loopback(always_reset)
    error, client = fetch_page(server.base_url, timeout_s=5, retry_attempts=3)
    server.stop()

    assert isinstance(error, LaafficTransportError)
    assert (client.counts.sent, client.counts.retries) == (3, 2)
    assert "no answer from" in str(error) and "ReadError" in str(error)  # ECONNRESET on the read
    assert server.connections == 3
