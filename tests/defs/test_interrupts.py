"""An interrupt is recognised however it reaches the step, above all when it lands in a DuckDB query.

The interrupt is real: SIGINT to this process from another one, under Dagster's own handler (the one
a step runs under), while DuckDB executes a query that would otherwise run for minutes.
"""

import os
import subprocess
import sys
import textwrap

import dagster as dg
import duckdb
import pytest

# Dagster's context for a step's code: its handler raises DagsterExecutionInterruptedError.
from dagster._core.errors import raise_execution_interrupts

from laaffic_pipeline.defs.interrupts import is_interrupt

# Minutes on one thread, which DuckDB then runs in small tasks, checking for signals between them
# (with more threads it may wait on its workers and see the signal only at the end).
LONG_QUERY = "SELECT count(*) FROM range(10000000000) AS t(n) WHERE n % 7 = 3"
# Sends SIGINT to a process once it has used 0.3 s of CPU more than when this started: the test
# process is idle but for its query, so the signal lands while DuckDB executes. (A thread of the
# test process itself cannot send it: DuckDB keeps retaking the GIL and starves it.)
SIGNAL_ONCE_BUSY = textwrap.dedent(
    """
    import os, signal, sys, time
    pid = int(sys.argv[1])
    def cpu_ticks():
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    start = cpu_ticks()
    while cpu_ticks() - start < 0.3 * os.sysconf("SC_CLK_TCK"):
        time.sleep(0.01)
    os.kill(pid, signal.SIGINT)
    """
)


def interrupted_query() -> BaseException:
    """What a step sees when Dagster's handler runs while DuckDB executes: DuckDB's own error."""
    sender = subprocess.Popen([sys.executable, "-c", SIGNAL_ONCE_BUSY, str(os.getpid())])
    try:
        with duckdb.connect(config={"threads": 1}) as conn, raise_execution_interrupts():
            conn.execute(LONG_QUERY)
    except BaseException as error:  # what arrives is what the test is about
        return error
    finally:
        sender.kill()
        sender.wait()
    pytest.fail("the query was never interrupted")


def test_an_interrupt_inside_a_duckdb_query_is_recognised_though_dagster_s_error_is_lost():
    error = interrupted_query()
    assert not isinstance(error, dg.DagsterExecutionInterruptedError)  # DuckDB dropped it
    assert is_interrupt(error)


def test_an_interrupt_is_recognised_through_causes_contexts_and_exception_groups():
    def raised_from(cause: BaseException) -> Exception:
        try:
            raise cause
        except BaseException:
            try:
                raise ValueError("while handling it")
            except ValueError as error:
                return error

    assert is_interrupt(dg.DagsterExecutionInterruptedError())
    assert is_interrupt(KeyboardInterrupt())
    assert is_interrupt(raised_from(dg.DagsterExecutionInterruptedError()))
    group = BaseExceptionGroup("reads", [ValueError("a"), RuntimeError("Query interrupted")])
    assert is_interrupt(group)
    assert not is_interrupt(ExceptionGroup("days", [OSError("b")]))
    failure = dg.Failure("stopped")
    failure.__cause__ = group
    assert is_interrupt(failure)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("Query interrupted by the planner"),  # not DuckDB's exact message
        RuntimeError("boom"),
        ValueError("Query interrupted"),  # DuckDB raises it as a RuntimeError, nothing else
        duckdb.CatalogException("Table with name nope does not exist!"),
    ],
)
def test_other_failures_are_not_interrupts(error: BaseException):
    assert not is_interrupt(error)


def test_a_real_duckdb_failure_is_not_an_interrupt():
    with duckdb.connect() as conn, pytest.raises(duckdb.Error) as raised:
        conn.execute("SELECT * FROM missing_table")
    assert not is_interrupt(raised.value)
