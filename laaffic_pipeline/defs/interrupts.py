"""Whether a step's failure is an interrupt (the UI's Terminate, Ctrl-C, a shutdown), however it
surfaced.

Dagster's signal handler raises ``DagsterExecutionInterruptedError`` wherever the step's thread is.
When that is inside a DuckDB query, DuckDB (which polls for signals while it executes) replaces the
handler's exception with ``RuntimeError("Query interrupted")``: Dagster's interrupt is gone, and
its retry policy would run the whole step again. The step must recognise both.
"""

from collections.abc import Iterator

import dagster as dg
import duckdb

DUCKDB_INTERRUPTED = "Query interrupted"
"""DuckDB's message when a signal handler raised while it executed (duckdb-python raises it as a
plain ``RuntimeError`` when ``PyErr_CheckSignals`` fails, the handler's own exception dropped)."""


def is_interrupt(error: BaseException) -> bool:
    """True when ``error``, or anything it was raised from or wraps, is an interrupt."""
    return any(_is_interrupt_itself(each) for each in _causes(error))


def _is_interrupt_itself(error: BaseException) -> bool:
    if isinstance(error, dg.DagsterExecutionInterruptedError | KeyboardInterrupt | duckdb.InterruptException):
        return True
    return type(error) is RuntimeError and str(error) == DUCKDB_INTERRUPTED


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, its causes and contexts, and the members of any exception group among them."""
    seen: set[int] = set()
    waiting = [error]
    while waiting:
        each = waiting.pop()
        if id(each) in seen:
            continue
        seen.add(id(each))
        yield each
        if isinstance(each, BaseExceptionGroup):
            waiting.extend(each.exceptions)
        waiting.extend(linked for linked in (each.__cause__, each.__context__) if linked is not None)
