"""DuckDB turns: small work side by side, large work alone, and a waiting large turn not starved.

Each case is synchronised on events, never on timing: a thread that must wait is shown to wait by
a turn it cannot have taken yet, then released.
"""

import threading

from laaffic_pipeline.warehouse.turns import DuckDBTurns

WAIT_S = 10  # only ever reached when the behaviour under test is broken


def hold(
    turns: DuckDBTurns, *, alone: bool, entered: threading.Event, release: threading.Event
) -> threading.Thread:
    """A thread that takes a turn, says so, and keeps it until ``release``."""

    def run() -> None:
        with turns.turn(alone=alone):
            entered.set()
            release.wait(WAIT_S)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_for_waiting(turns: DuckDBTurns, waiting: tuple[int, int]) -> None:
    """Until ``turns.waiting`` is ``waiting`` (the threads asked for their turns)."""
    for _ in range(WAIT_S * 1000):
        if turns.waiting == waiting:
            return
        threading.Event().wait(0.001)
    raise AssertionError(f"turns waiting {turns.waiting}, expected {waiting}")


def test_small_turns_run_side_by_side():
    turns = DuckDBTurns()
    first, second, release = threading.Event(), threading.Event(), threading.Event()
    threads = [hold(turns, alone=False, entered=first, release=release)]
    assert first.wait(WAIT_S)
    threads.append(hold(turns, alone=False, entered=second, release=release))
    assert second.wait(WAIT_S)  # entered while the first still holds its turn
    release.set()
    for thread in threads:
        thread.join(WAIT_S)


def test_a_large_turn_waits_for_the_small_ones_and_then_runs_alone():
    turns = DuckDBTurns()
    small, large, late_small = threading.Event(), threading.Event(), threading.Event()
    release_small, release_large, release_late = threading.Event(), threading.Event(), threading.Event()
    small_thread = hold(turns, alone=False, entered=small, release=release_small)
    assert small.wait(WAIT_S)
    large_thread = hold(turns, alone=True, entered=large, release=release_large)
    wait_for_waiting(turns, (0, 1))
    # A small turn asked for now waits behind the queued large one: large work is never starved.
    late_thread = hold(turns, alone=False, entered=late_small, release=release_late)
    wait_for_waiting(turns, (1, 1))
    assert not large.is_set() and not late_small.is_set()

    release_small.set()
    assert large.wait(WAIT_S)
    assert not late_small.is_set()  # the large turn runs alone

    release_large.set()
    assert late_small.wait(WAIT_S)
    release_late.set()
    for thread in (small_thread, large_thread, late_thread):
        thread.join(WAIT_S)


def test_a_turn_is_given_back_when_its_work_fails():
    turns = DuckDBTurns()
    try:
        with turns.turn(alone=True):
            raise RuntimeError("the work failed")
    except RuntimeError:
        pass
    entered, release = threading.Event(), threading.Event()
    thread = hold(turns, alone=True, entered=entered, release=release)
    assert entered.wait(WAIT_S)
    release.set()
    thread.join(WAIT_S)
