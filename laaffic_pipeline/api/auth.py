"""Request signing: ``Sign = md5(apiKey + apiSecret + Timestamp)`` as the API documentation says.

``LaafficAuth`` is an ``httpx.Auth``: httpx runs it for every request it sends, so a retried request
is re-signed with a fresh Timestamp without the client doing anything.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import httpx

CONTENT_TYPE = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class Credentials:
    """An API key and its secret; the secret is left out of ``repr`` so it cannot leak into logs."""

    api_key: str
    api_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("LAAFFIC_API_KEY is empty: set it to the API key from the Laaffic console")
        if not self.api_secret:
            raise ValueError("LAAFFIC_API_SECRET is empty: set it to the API secret from the Laaffic console")


def compute_sign(api_key: str, api_secret: str, timestamp: str) -> str:
    """Lowercase hex md5 of key, secret and timestamp concatenated, exactly as the doc's samples."""
    return hashlib.md5((api_key + api_secret + timestamp).encode("utf-8")).hexdigest()


def signed_headers(credentials: Credentials, clock: Callable[[], float] = time.time) -> dict[str, str]:
    """The three auth headers for one request, with a Timestamp taken now (seconds)."""
    timestamp = str(int(clock()))
    return {
        "Sign": compute_sign(credentials.api_key, credentials.api_secret, timestamp),
        "Timestamp": timestamp,
        "Api-Key": credentials.api_key,
    }


class LaafficAuth(httpx.Auth):
    """Signs each request as it is sent (retries included) with the key, secret and a fresh Timestamp."""

    def __init__(self, credentials: Credentials, clock: Callable[[], float] = time.time) -> None:
        self._credentials = credentials
        self._clock = clock

    def __repr__(self) -> str:
        return f"LaafficAuth(api_key={self._credentials.api_key!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(signed_headers(self._credentials, self._clock))
        yield request
