"""What the step's worker threads hand the step's own thread, which alone talks to Dagster.

A ranged run reads and lands days in one background thread and builds the marts of finished weeks
in another; Dagster's events (materializations, check results) and log lines are all recorded
from the step's thread, in the order the work finished.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Log:
    level: str  # "debug", "info", "warning" or "error"
    message: str


@dataclass(frozen=True)
class DaySettled:
    """A day landed or failed (the landing says which)."""

    key: str


@dataclass(frozen=True)
class LandingEnded:
    """Every day settled, or the landing stopped on ``error``."""

    error: BaseException | None = None


@dataclass(frozen=True)
class WeekBuilt:
    """A week of marts built (its Dagster events, in order), or ``error``."""

    keys: list[str]
    events: list[Any]
    error: BaseException | None = None


Message = Log | DaySettled | LandingEnded | WeekBuilt


class Mailbox:
    """A thread-safe queue of ``Message``s, read by the step's thread."""

    def __init__(self) -> None:
        self._messages: queue.SimpleQueue[Message] = queue.SimpleQueue()

    def post(self, message: Message) -> None:
        self._messages.put(message)

    def get(self) -> Message:
        return self._messages.get()

    def logger(self) -> MailboxLog:
        return MailboxLog(self)


class MailboxLog:
    """A logger for worker threads (the API client's retries, say): lines reach Dagster's log
    from the step's thread."""

    def __init__(self, mailbox: Mailbox) -> None:
        self._mailbox = mailbox

    def debug(self, message: str) -> None:
        self._mailbox.post(Log("debug", message))

    def info(self, message: str) -> None:
        self._mailbox.post(Log("info", message))

    def warning(self, message: str) -> None:
        self._mailbox.post(Log("warning", message))

    def error(self, message: str) -> None:
        self._mailbox.post(Log("error", message))
