"""Async httpx client for ``recordSipQuery``: one signed page, or every page of a window."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from laaffic_pipeline.api.errors import (
    LaafficError,
    LaafficHttpError,
    LaafficTransportError,
    NonJsonResponseError,
    TimestampExpiredError,
    TlsVerificationError,
    excerpt,
)
from laaffic_pipeline.api.models import CallRecord, CallRecordPage, PageLog, parse_response
from laaffic_pipeline.api.signing import Credentials, signed_headers
from laaffic_pipeline.api.throttle import RateLimiter
from laaffic_pipeline.api.window import QueryWindow

DEFAULT_BASE_URL = "https://api.laaffic.com/v3/voice"
ENDPOINT = "recordSipQuery"
MAX_PAGE_SIZE = 100

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrySettings:
    """How hard to retry transient failures (timeouts, resets, 429, 5xx, status -18, -16 once)."""

    attempts: int = 6
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0
    jitter_s: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"retry attempts must be >= 1, got {self.attempts}")


@dataclass(frozen=True)
class QueryFilters:
    """The optional exact-match filters of ``params``; empty means no filter, as in the doc."""

    sip_group_name: str = ""
    phone_name: str = ""


NO_FILTERS = QueryFilters()


class PageSink(Protocol):
    """Receives each page's records as it arrives (pages may arrive out of order)."""

    def write_page(self, page: int, fetched_at: datetime, records: list[CallRecord]) -> None: ...


class MemorySink:
    """Keeps pages in memory; for small windows and tests (the pipeline stages pages on disk)."""

    def __init__(self) -> None:
        self.pages: dict[int, list[CallRecord]] = {}

    def write_page(self, page: int, fetched_at: datetime, records: list[CallRecord]) -> None:
        self.pages[page] = records

    @property
    def records(self) -> list[CallRecord]:
        return [record for page in sorted(self.pages) for record in self.pages[page]]


def build_body(window: QueryWindow, current: int, size: int, filters: QueryFilters) -> dict[str, Any]:
    """The request body exactly as the documentation's samples build it."""
    if isinstance(current, bool) or not isinstance(current, int) or current < 1:
        raise ValueError(f"current (page number) must be an integer >= 1, got {current!r}")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"size (page size) must be an integer from 1 to {MAX_PAGE_SIZE}, got {size!r}")
    return {
        "current": current,
        "size": size,
        "params": {
            "strTime": window.str_time,
            "endTime": window.end_time,
            "sipGroupName": filters.sip_group_name,
            "phoneName": filters.phone_name,
        },
    }


class LaafficClient:
    """Signed, retried, rate-limited access to ``recordSipQuery``; use as ``async with``."""

    def __init__(
        self,
        credentials: Credentials,
        base_url: str = DEFAULT_BASE_URL,
        *,
        page_size: int = MAX_PAGE_SIZE,
        timeout_s: float = 30.0,
        concurrency: int = 8,
        requests_per_second: float | None = None,
        retry: RetrySettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        log: logging.Logger | Any = None,
    ):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self._credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.concurrency = concurrency
        self._retry = retry or RetrySettings()
        self._clock = clock
        self._log = log or logger
        self._backoff = wait_exponential_jitter(
            multiplier=self._retry.initial_wait_s, max=self._retry.max_wait_s, jitter=self._retry.jitter_s
        )
        self._limiter = RateLimiter(requests_per_second)
        self._slots = asyncio.Semaphore(concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )
        self.requests_sent = 0
        self.retries = 0

    def __repr__(self) -> str:
        return f"LaafficClient(base_url={self.base_url!r}, api_key={self._credentials.api_key!r})"

    async def __aenter__(self) -> LaafficClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch_page(
        self, window: QueryWindow, current: int, filters: QueryFilters = NO_FILTERS
    ) -> CallRecordPage:
        """One page, retried on transient failures; raises a typed ``LaafficError`` otherwise."""
        body = json.dumps(build_body(window, current, self.page_size, filters), separators=(",", ":"))
        timestamp_retries = 0

        def should_retry(error: BaseException) -> bool:
            nonlocal timestamp_retries
            if isinstance(error, TimestampExpiredError):
                timestamp_retries += 1
                return timestamp_retries <= 1  # once, with a fresh Timestamp and Sign
            return isinstance(error, LaafficError) and error.retryable

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            before_sleep=functools.partial(self._log_retry, current),
            reraise=True,
        ):
            with attempt:
                return await self._post(body)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _post(self, body: str) -> CallRecordPage:
        async with self._slots:
            await self._limiter.acquire()
            self.requests_sent += 1
            headers = signed_headers(self._credentials, self._clock)
            try:
                response = await self._http.post(ENDPOINT, content=body, headers=headers)
            except httpx.TransportError as error:
                if _failed_certificate(error):
                    raise TlsVerificationError(
                        f"the TLS certificate of {self.base_url} failed verification ({error}); "
                        "verification stays on: fix the URL, the server's certificate or the CA "
                        "bundle (SSL_CERT_FILE)"
                    ) from None
                raise LaafficTransportError(
                    f"no answer from {self.base_url}/{ENDPOINT}: {type(error).__name__}: {error}"
                ) from None
        # Error messages quote the body; a proxy that echoes request headers must not leak the Sign.
        text = _redacted(response.text, headers["Sign"], self._credentials.api_secret)
        if response.status_code != 200:
            raise LaafficHttpError(response.status_code, excerpt(text), _retry_after(response.headers))
        try:
            payload = response.json()
        except ValueError:
            raise NonJsonResponseError("the body is not JSON", excerpt(text)) from None
        return parse_response(payload, text)

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, LaafficHttpError) and error.retry_after is not None:
            return max(backoff, error.retry_after)
        if isinstance(error, TimestampExpiredError):
            return 0.0
        return backoff

    def _log_retry(self, current: int, state: RetryCallState) -> None:
        """One line per retry: page, attempt, the error (never a header) and the wait chosen."""
        self.retries += 1
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self._log.warning(
            f"Laaffic page {current} attempt {state.attempt_number}/{self._retry.attempts} failed "
            f"({type(error).__name__}: {error}); retrying in {wait:.2f}s"
        )

    async def fetch_window(
        self, window: QueryWindow, sink: PageSink, filters: QueryFilters = NO_FILTERS
    ) -> list[PageLog]:
        """Every page of the window: page 1 says how many pages, the rest are fetched concurrently.

        Pages go to ``sink`` as they arrive; the returned log is ordered by page number.
        """
        first = await self.fetch_page(window, 1, filters)
        logs = [self._record(sink, 1, first)]

        async def fetch_and_stage(number: int) -> PageLog:
            # Hand the page to the sink as soon as it arrives, so finished tasks hold only a
            # small PageLog and a large day never sits in memory.
            return self._record(sink, number, await self.fetch_page(window, number, filters))

        remaining = [asyncio.create_task(fetch_and_stage(n)) for n in range(2, first.pages + 1)]
        try:
            for arrival in asyncio.as_completed(remaining):
                logs.append(await arrival)
        finally:
            for task in remaining:
                task.cancel()
            await asyncio.gather(*remaining, return_exceptions=True)
        logs.sort(key=lambda log: log.page)
        return logs

    @staticmethod
    def _record(sink: PageSink, number: int, page: CallRecordPage) -> PageLog:
        fetched_at = datetime.now(UTC)
        sink.write_page(number, fetched_at, page.records)
        return PageLog(number, page.total, page.pages, len(page.records), fetched_at)


def _failed_certificate(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _redacted(text: str, *secrets: str) -> str:
    for secret in secrets:
        text = text.replace(secret, "<redacted>")
    return text


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait: ``Retry-After`` as seconds or as an HTTP date."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with the zone unknown
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
