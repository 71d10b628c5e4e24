"""Typed errors for every way a Laaffic request can fail, each saying what to do about it."""

from __future__ import annotations

EXCERPT_CHARS = 300


def excerpt(text: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    """The start of a response body, for error messages (responses never contain our secret)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class LaafficError(Exception):
    """Base class of every error this client raises."""

    retryable: bool = False


class LaafficTransportError(LaafficError):
    """The request did not get an HTTP answer (connect/read timeout, reset connection)."""

    retryable = True


class TlsVerificationError(LaafficError):
    """The server's TLS certificate failed verification; not retried, and verification stays on."""


class LaafficHttpError(LaafficError):
    """The API answered with an HTTP status other than 200."""

    def __init__(self, http_status: int, body_excerpt: str, retry_after: float | None = None):
        self.http_status = http_status
        self.retry_after = retry_after
        self.retryable = http_status == 429 or http_status >= 500
        advice = (
            "the service is overloaded or failing; the request is retried with backoff"
            if self.retryable
            else "check LAAFFIC_BASE_URL (it should end in /v3/voice)"
        )
        super().__init__(f"Laaffic answered HTTP {http_status}: {advice}. Response: {body_excerpt!r}")


class LaafficResponseError(LaafficError):
    """The body was not the documented JSON shape (not JSON, or a field missing or mistyped)."""

    def __init__(self, problem: str, body_excerpt: str):
        self.problem = problem
        super().__init__(
            f"Laaffic response is not in the documented shape: {problem}. Response: {body_excerpt!r}"
        )


class NonJsonResponseError(LaafficResponseError):
    """An HTTP 200 whose body is not JSON at all, typically a gateway's HTML error page.

    Retried like a 5xx: the proxy in front of the API failed, not the API. A body that is JSON
    but not the documented shape is a ``LaafficResponseError`` and is not retried: the API
    changed, and asking again cannot help.
    """

    retryable = True


class LaafficApiError(LaafficError):
    """A non-zero ``status`` in the response body."""

    status: str = ""
    meaning: str = "undocumented status"
    advice: str = "see Laaffic's status code table or contact Laaffic support"

    def __init__(self, status: str, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(f"Laaffic status {status} ({self.meaning}): server said {reason!r}. {self.advice}")


class AuthenticationError(LaafficApiError):
    meaning = "authentication error"
    advice = "Check LAAFFIC_API_KEY and LAAFFIC_API_SECRET, and that the machine clock is right."


class IpRestrictedError(LaafficApiError):
    meaning = "restricted IP access"
    advice = "Add this machine's public IP address to the API key's allow list in Laaffic's console."


class TimestampExpiredError(LaafficApiError):
    meaning = "timestamp expired"
    advice = "The request is re-signed with a fresh Timestamp; if it persists, sync the clock (NTP)."
    retryable = True


class ServerUnusualError(LaafficApiError):
    meaning = "port program unusual"
    advice = "A fault on Laaffic's side; the request is retried with backoff."
    retryable = True


class ParameterError(LaafficApiError):
    meaning = "parameter exception"
    advice = "The request body was refused; check the window, page number and page size (1-100)."


class OutOfTimeRangeError(LaafficApiError):
    meaning = "out of time range"
    advice = (
        "The window must lie within the last two months and span at most 31 days; "
        "older records can no longer be fetched."
    )


class UnknownStatusError(LaafficApiError):
    pass


STATUS_ERRORS: dict[str, type[LaafficApiError]] = {
    "-1": AuthenticationError,
    "-2": IpRestrictedError,
    "-16": TimestampExpiredError,
    "-18": ServerUnusualError,
    "-22": ParameterError,
    "-25": OutOfTimeRangeError,
}


def error_for_status(status: str, reason: str) -> LaafficApiError:
    """The typed exception for a non-zero status; undocumented ones get ``UnknownStatusError``."""
    return STATUS_ERRORS.get(status, UnknownStatusError)(status, reason)
