"""Turns for DuckDB work in this process: small work side by side, large work alone.

A range reads several days at once and builds its marts while later days land. Judging a read
(its own in-memory DuckDB), landing a day and building a week (the warehouse's) each use up to a
memory limit's worth of DuckDB when they are large, so large work waits until it can run alone;
small work (a few thousand calls) needs a few MB and runs beside other small work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class DuckDBTurns:
    """A readers-writer lock by size: any number of small turns at once, or one large turn.

    A large turn waiting holds back new small turns, so it is never starved by a stream of them.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._small_running = 0
        self._small_waiting = 0
        self._large_running = False
        self._large_waiting = 0

    @property
    def waiting(self) -> tuple[int, int]:
        """How many (small, large) turns are waiting now."""
        with self._changed:
            return self._small_waiting, self._large_waiting

    @contextmanager
    def turn(self, *, alone: bool) -> Iterator[None]:
        """Wait for this work's turn: ``alone`` for large work, beside other small work if not."""
        with self._changed:
            if alone:
                self._large_waiting += 1
                self._changed.wait_for(lambda: not self._large_running and self._small_running == 0)
                self._large_waiting -= 1
                self._large_running = True
            else:
                self._small_waiting += 1
                self._changed.wait_for(lambda: not self._large_running and self._large_waiting == 0)
                self._small_waiting -= 1
                self._small_running += 1
        try:
            yield
        finally:
            with self._changed:
                if alone:
                    self._large_running = False
                else:
                    self._small_running -= 1
                self._changed.notify_all()


SMALL_WAREHOUSE_RECORDS = 100_000
"""A day to land or a week to build of up to this many records runs beside other small work: it
shares the warehouse database's one memory limit with them, and needs a small part of it."""

DUCKDB_TURNS = DuckDBTurns()
"""The process's turns: every DuckDB working set on the pipeline's reads and warehouse takes one."""
