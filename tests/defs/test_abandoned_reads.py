"""A step abandoned mid-read (Dagster leaves the step's generator paused when an interrupt lands in
its own code) never keeps its process from exiting, and leaves no staged files behind.

A child Python process opens ``DayReads`` inside a generator whose one read never ends, pauses it
in a reference cycle (so only the interpreter's exit frees it) and exits.
"""

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from laaffic_pipeline.defs.laaffic.fetching import DayReads

    class NeverAnswers:  # a client whose first request never returns
        async def __aenter__(self):
            await asyncio.Event().wait()
        async def __aexit__(self, *exc_info):
            return None

    def step():
        with DayReads(
            client=lambda log: NeverAnswers(),
            windows={"2026-12-01": None},
            staging=Path(sys.argv[1]),
            days_in_flight=1,
            max_reads=2,
            memory_limit="64MB",
        ) as reads:
            yield reads

    class Cycle:
        pass

    cycle = Cycle()
    cycle.me = cycle
    cycle.step = step()
    next(cycle.step)  # the reads are under way; the generator is never closed by this code
    print(sorted(path.name.split("-")[0] for path in Path(sys.argv[1]).iterdir()), flush=True)
    """
)


def test_an_abandoned_step_exits_at_once_and_removes_what_it_staged(tmp_path):
    staging = tmp_path / "data"
    staging.mkdir()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(staging)], capture_output=True, text=True, timeout=60
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "['staging']"  # the reads had staged their folder
    assert list(staging.iterdir()) == []
