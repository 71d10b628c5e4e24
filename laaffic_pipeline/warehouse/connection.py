"""Opening the warehouse file while another process may hold DuckDB's lock on it.

DuckDB lets one process open a file for writing, and any other open connection, even an analyst's
read-only one, keeps writers out (and a writer keeps readers out). Every opener here waits for the
lock with exponential backoff up to a limit, saying who holds it, instead of failing at once.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

import duckdb
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay

logger = logging.getLogger(__name__)

_LOCK_ERROR = "Could not set lock on file"
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<holder>.*?\(PID (?P<pid>\d+)\)(?: by user \S+)?)")


class WarehouseLockedError(RuntimeError):
    """Another process kept the DuckDB file locked for longer than the caller would wait."""


def _is_lock_error(error: BaseException) -> bool:
    return isinstance(error, duckdb.Error) and _LOCK_ERROR in str(error)


def _lock_holder(error: BaseException) -> str:
    """``"<program> (PID n)"`` from DuckDB's lock error, or a generic phrase if it names nobody."""
    found = _LOCK_HOLDER.search(str(error))
    return found.group("holder") if found else "another process"


def connect_waiting(
    database: str,
    *,
    read_only: bool,
    wait_s: float,
    config: Mapping[str, Any] | None = None,
    initial_wait_s: float = 0.1,
    max_wait_s: float = 15.0,
    log: logging.Logger | Any = None,
    advice: str = "",
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, retried while the file is locked, for up to ``wait_s`` seconds.

    Raises ``WarehouseLockedError`` naming the holder (and ``advice``) when the wait runs out.
    """
    log = log or logger
    started = time.monotonic()

    def wait(state: RetryCallState) -> float:
        backoff = min(initial_wait_s * 2 ** (state.attempt_number - 1), max_wait_s)
        remaining = wait_s - (time.monotonic() - started)
        return max(0.0, min(backoff, remaining))  # the last try comes at the deadline, not after it

    def log_wait(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            f"The warehouse {database} is locked by {_lock_holder(error) if error else 'another process'}. "
            "DuckDB lets one process at a time open the file, and even a read-only connection blocks "
            "writers: ask whoever runs that process to close their connection to this file. "
            f"Waiting {pause:.1f}s (try {state.attempt_number}, waited "
            f"{state.seconds_since_start:.1f}s of {wait_s:g}s)."
        )

    try:
        for attempt in Retrying(
            stop=stop_after_delay(wait_s),
            wait=wait,
            retry=retry_if_exception(_is_lock_error),
            before_sleep=log_wait,
            reraise=True,
        ):
            with attempt:
                return duckdb.connect(database, read_only=read_only, config=dict(config or {}))
    except duckdb.Error as error:
        if not _is_lock_error(error):
            raise
        raise WarehouseLockedError(
            f"The warehouse {database} stayed locked by {_lock_holder(error)} for "
            f"{time.monotonic() - started:.1f}s (limit {wait_s:g}s): {error}. {advice}".strip()
        ) from None
    raise AssertionError("unreachable: tenacity re-raises the last error")
