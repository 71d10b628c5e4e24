"""Async httpx client for ``recordSipQuery``: one signed page, or every page of a window.

Retries are per page: a transient error (timeout, reset, 5xx, status -18, a gateway's non-JSON
200) is retried with backoff until ``retry_attempts`` errors or ``retry_deadline_s`` have passed,
so one bad page never costs the pages already fetched. An HTTP 429 is flow control, not an error:
the client waits at least its ``Retry-After``, lowers its concurrency, and the page does not use
up an attempt (only the deadline bounds it).
"""

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
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.wait import wait_exponential_jitter

from laaffic_pipeline.api.auth import CONTENT_TYPE, Credentials, LaafficAuth
from laaffic_pipeline.api.errors import (
    LaafficError,
    LaafficHttpError,
    LaafficTransportError,
    NonJsonResponseError,
    TimestampExpiredError,
    TlsVerificationError,
    excerpt,
)
from laaffic_pipeline.api.flow import AdaptiveConcurrency
from laaffic_pipeline.api.models import CallRecordPage, parse_response
from laaffic_pipeline.api.window import QueryWindow

DEFAULT_BASE_URL = "https://api.laaffic.com/v3/voice"
ENDPOINT = "recordSipQuery"
MAX_PAGE_SIZE = 100
DEFAULT_RETRY_AFTER_S = 1.0  # a 429 without Retry-After

logger = logging.getLogger(__name__)


@dataclass
class RequestCounts:
    """Requests made for one window (or a whole client): sent, retried after an error, after a 429."""

    sent: int = 0
    retries: int = 0
    throttled: int = 0


class PageSink(Protocol):
    """Receives each page as it arrives (pages may arrive out of order)."""

    def write_page(self, number: int, fetched_at: datetime, page: CallRecordPage) -> None: ...


def build_body(
    window: QueryWindow, current: int, size: int, *, sip_group_name: str = "", phone_name: str = ""
) -> dict[str, Any]:
    """The request body exactly as the documentation's samples build it.

    ``sip_group_name`` and ``phone_name`` are the document's two optional filters (exact match);
    an empty string, as in the document's samples, means no filter: every group, every phone.
    """
    if isinstance(current, bool) or not isinstance(current, int) or current < 1:
        raise ValueError(f"current (page number) must be an integer >= 1, got {current!r}")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"size (page size) must be an integer from 1 to {MAX_PAGE_SIZE}, got {size!r}")
    for name, value in (("sip_group_name", sip_group_name), ("phone_name", phone_name)):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string ('' for no filter), got {value!r}")
    return {
        "current": current,
        "size": size,
        "params": {
            "strTime": window.str_time,
            "endTime": window.end_time,
            "sipGroupName": sip_group_name,
            "phoneName": phone_name,
        },
    }


def describe_filter(sip_group_name: str = "", phone_name: str = "") -> str:
    """`` (sipGroupName='sales')`` and the like for log lines; empty when nothing is filtered."""
    filters = [
        f"{key}={value!r}"
        for key, value in (("sipGroupName", sip_group_name), ("phoneName", phone_name))
        if value
    ]
    return f" ({', '.join(filters)})" if filters else ""


class LaafficClient:
    """Signed, retried, flow-controlled access to ``recordSipQuery``; use as ``async with``.

    One client shares its in-flight bound and rate limit across every window it fetches at once.
    """

    def __init__(
        self,
        credentials: Credentials,
        base_url: str = DEFAULT_BASE_URL,
        *,
        page_size: int = MAX_PAGE_SIZE,
        timeout_s: float = 30.0,
        concurrency: int = 8,
        requests_per_second: float | None = None,
        retry_attempts: int = 6,
        retry_initial_wait_s: float = 0.5,
        retry_max_wait_s: float = 30.0,
        retry_deadline_s: float = 300.0,
        retry_jitter_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        log: logging.Logger | Any = None,
    ):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}")
        if retry_attempts < 1:
            raise ValueError(f"retry attempts must be >= 1, got {retry_attempts}")
        self._credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.retry_attempts = retry_attempts
        self.retry_deadline_s = retry_deadline_s
        self._log = log or logger
        self._backoff = wait_exponential_jitter(
            multiplier=retry_initial_wait_s, max=retry_max_wait_s, jitter=retry_jitter_s
        )
        self._limiter = AsyncLimiter(1, 1.0 / requests_per_second) if requests_per_second else None
        self.flow = AdaptiveConcurrency(concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            auth=LaafficAuth(credentials, clock),
            headers={"Content-Type": CONTENT_TYPE},
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )
        self.counts = RequestCounts()  # every request this client made, all windows together

    def __repr__(self) -> str:
        return f"LaafficClient(base_url={self.base_url!r}, api_key={self._credentials.api_key!r})"

    async def __aenter__(self) -> LaafficClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch_page(
        self,
        window: QueryWindow,
        current: int,
        counts: RequestCounts | None = None,
        *,
        sip_group_name: str = "",
        phone_name: str = "",
    ) -> CallRecordPage:
        """One page, retried on transient failures; raises a typed ``LaafficError`` otherwise.

        ``counts``, if given, also counts this page's requests (e.g. per window of a range).
        ``sip_group_name`` / ``phone_name``: only that phone group's / phone's records (exact
        match, as the API document says); empty, every record of the window."""
        tallies = [self.counts] if counts is None else [self.counts, counts]
        body = json.dumps(
            build_body(window, current, self.page_size, sip_group_name=sip_group_name, phone_name=phone_name),
            separators=(",", ":"),
        )
        filtered = describe_filter(sip_group_name, phone_name)
        errors = 0  # failures that use up an attempt (a 429 does not)
        timestamp_retries = 0

        def should_retry(error: BaseException) -> bool:
            nonlocal errors, timestamp_retries
            if _is_throttle(error):
                return True
            errors += 1
            if isinstance(error, TimestampExpiredError):
                timestamp_retries += 1
                return timestamp_retries <= 1  # once, re-signed with a fresh Timestamp
            return isinstance(error, LaafficError) and error.retryable

        def should_stop(state: RetryCallState) -> bool:
            return errors >= self.retry_attempts or state.seconds_since_start >= self.retry_deadline_s

        async for attempt in AsyncRetrying(
            stop=should_stop,
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            before_sleep=functools.partial(self._log_retry, f"{current}{filtered}", tallies),
            reraise=True,
        ):
            with attempt:
                return await self._post(body, tallies)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _post(self, body: str, tallies: list[RequestCounts]) -> CallRecordPage:
        async with self.flow.slot():
            if self._limiter is not None:
                await self._limiter.acquire()
            for tally in tallies:
                tally.sent += 1
            try:
                response = await self._http.post(ENDPOINT, content=body)
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
            if response.status_code == 429:
                self.flow.throttled(_retry_after(response.headers) or DEFAULT_RETRY_AFTER_S)
            else:
                self.flow.succeeded()
        # Error messages quote the body; a proxy that echoes request headers must not leak the Sign.
        text = _redacted(response.text, response.request.headers["Sign"], self._credentials.api_secret)
        if response.status_code != 200:
            raise LaafficHttpError(response.status_code, excerpt(text), _retry_after(response.headers))
        try:
            payload = response.json()
        except ValueError:
            raise NonJsonResponseError("the body is not JSON", excerpt(text)) from None
        return parse_response(payload, text)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if _is_throttle(error):
            assert isinstance(error, LaafficHttpError)
            return error.retry_after if error.retry_after is not None else DEFAULT_RETRY_AFTER_S
        if isinstance(error, TimestampExpiredError):
            return 0.0
        return self._backoff(state)

    def _log_retry(self, page: str, tallies: list[RequestCounts], state: RetryCallState) -> None:
        """One line per retry: the page (and its filter), the error (never a header) and the wait."""
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        if _is_throttle(error):
            for tally in tallies:
                tally.throttled += 1
            self._log.info(
                f"Laaffic page {page}: HTTP 429, waiting {wait:.2f}s and lowering concurrency to "
                f"{self.flow.limit} (does not use up an attempt)"
            )
            return
        for tally in tallies:
            tally.retries += 1
        self._log.warning(
            f"Laaffic page {page} failed ({type(error).__name__}: {error}); retrying in {wait:.2f}s "
            f"(at most {self.retry_attempts} errors or {self.retry_deadline_s:g}s per page)"
        )

    async def fetch_window(
        self,
        window: QueryWindow,
        sink: PageSink,
        counts: RequestCounts | None = None,
        *,
        sip_group_name: str = "",
        phone_name: str = "",
    ) -> int:
        """Every page of the window, handed to ``sink`` as it arrives; returns the pages fetched.

        Page 1 says how many pages there are; the rest are fetched concurrently. With
        ``sip_group_name`` / ``phone_name`` every page carries the same filter, so the pages (and
        the ``total`` and ``pages`` they report) are those of that group's / phone's records alone:
        a window may be fetched once per phone group, each read its own page-count unit.
        """
        filters = {"sip_group_name": sip_group_name, "phone_name": phone_name}
        first = await self.fetch_page(window, 1, counts, **filters)
        sink.write_page(1, datetime.now(UTC), first)

        async def fetch_and_stage(number: int) -> None:
            # Hand the page to the sink as soon as it arrives so a large day never sits in memory.
            page = await self.fetch_page(window, number, counts, **filters)
            sink.write_page(number, datetime.now(UTC), page)

        remaining = [asyncio.create_task(fetch_and_stage(n)) for n in range(2, first.pages + 1)]
        try:
            for arrival in asyncio.as_completed(remaining):
                await arrival
        finally:
            for task in remaining:
                task.cancel()
            await asyncio.gather(*remaining, return_exceptions=True)
        return max(first.pages, 1)


def _is_throttle(error: BaseException | None) -> bool:
    return isinstance(error, LaafficHttpError) and error.http_status == 429


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
