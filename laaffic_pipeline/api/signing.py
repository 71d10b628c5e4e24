"""Request signing: ``Sign = md5(apiKey + apiSecret + Timestamp)`` as the API documentation says."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
    """Headers for one request; the Timestamp is taken fresh each call so retries re-sign."""
    timestamp = str(int(clock()))
    return {
        "Content-Type": CONTENT_TYPE,
        "Sign": compute_sign(credentials.api_key, credentials.api_secret, timestamp),
        "Timestamp": timestamp,
        "Api-Key": credentials.api_key,
    }
