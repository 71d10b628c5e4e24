"""An in-process stand-in for the API, for ``httpx.MockTransport`` unit tests of the client."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import httpx

Responder = Callable[[httpx.Request, dict], httpx.Response | None]


def page_response(records: list[dict], current: int, size: int, total: int | None = None) -> httpx.Response:
    total = len(records) if total is None else total
    chunk = records[(current - 1) * size : current * size]
    data = {
        "total": total,
        "size": size,
        "current": current,
        "pages": math.ceil(len(records) / size),
        "searchCount": True,
        "records": chunk,
    }
    return httpx.Response(200, json={"status": "0", "reason": "success", "data": data})


class FakeApi:
    """Serves ``records`` page by page; ``script`` responses (by call number) preempt the pages."""

    def __init__(self, records: list[dict], script: dict[int, Responder] | None = None):
        self.records = records
        self.script = script or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        scripted = self.script.get(len(self.requests))
        if scripted is not None:
            response = scripted(request, body)
            if response is not None:
                return response
        return page_response(self.records, body["current"], body["size"])

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def status(code: str, reason: str) -> Responder:
    return lambda request, body: httpx.Response(200, json={"status": code, "reason": reason, "data": None})


def make_records(count: int) -> list[dict]:
    return [{"voiceId": f"v{n:06d}", "callDuration": n % 90, "cost": "0.01"} for n in range(count)]
