"""Every simulator fault alone and combined, through the real Dagster job over loopback HTTP.

After each, what landed equals the simulator's records for the day exactly; when the API's own
total is wrong the blocking page check fails with the figures; when records never stop arriving
the run fails and the day stored before is kept. The harness (``fault_drill.py``) only runs and
reads; the verdict is computed here, against ``records_for_local_day``, the simulator's own truth.

The test pins its partitions' zone (``ZONE``), east of UTC so a local day spans two UTC days, and
takes every figure it expects from the simulator's records for that day: the count differs from
one day to the next, and from the simulator's ``records_per_day``, which counts a UTC day.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from tests.reliability.fault_drill import (
    CHECK_FAILS,
    DRILL_SETTINGS,
    LANDS_EXACTLY,
    RUN_FAILS,
    SCENARIOS,
    DrillRun,
    run_scenario,
)

ZONE = "Asia/Shanghai"
WANTED_OUTCOME = {LANDS_EXACTLY: "ok", CHECK_FAILS: "check failed", RUN_FAILS: "run failed"}


@dataclass(frozen=True)
class Verdict:
    exact: bool  # landed == the simulator's truth; for RUN_FAILS: the stored day is unchanged
    outcome_as_expected: bool

    @property
    def as_expected(self) -> bool:
        return self.exact and self.outcome_as_expected


def verdict(run: DrillRun) -> Verdict:
    """Did the pipeline do what the scenario expects? (``scripts/fault_summary.py`` uses it too.)"""
    if run.scenario.expect == RUN_FAILS:
        exact = run.stored_before is not None and run.stored_after == run.stored_before
    else:
        exact = run.landed == run.truth
    return Verdict(exact, run.outcome == WANTED_OUTCOME[run.scenario.expect])


def failed_answers(result: DrillRun) -> int:
    return sum(count for kind, count in result.answers.items() if kind != "0")


def pages(result: DrillRun) -> int:
    """The pages of the fault-free day at the drill's page size."""
    return math.ceil(result.day_records / DRILL_SETTINGS["page_size"])


# Proof that each fault really happened, so a scenario cannot pass by not injecting anything.
EVIDENCE: dict[str, Callable[[DrillRun], bool]] = {
    "no faults": lambda r: (r.requests, r.retries, r.reads) == (pages(r), 0, 1),
    "30% HTTP 5xx": lambda r: sum(v for k, v in r.answers.items() if k.startswith("http_5")) > 0,
    "30% status -18": lambda r: r.answers.get("-18", 0) > 0,
    "30% HTML instead of JSON": lambda r: r.answers.get("non_json", 0) > 0,
    # Retry-After: 1 is honoured, so a 429 costs at least a second.
    "server rate limit 5/s (429)": lambda r: r.answers.get("http_429", 0) > 0 and r.seconds >= 1,
    # The client's own pacing keeps it under the server's limit: no 429 at all.
    "rate limit 8/s, client paced 5/s": lambda r: (
        "http_429" not in r.answers and r.seconds >= (pages(r) - 1) / 5
    ),
    "latency 150 ms": lambda r: r.seconds >= 0.3,  # page 1, then the rest concurrently
    "records arriving mid-paging": lambda r: r.reads >= 2 and len(r.truth) > r.day_records,
    "30% duplicates across pages": lambda r: r.reads >= 2,
    "malformed records": lambda r: len(r.landed) == r.day_records,
    "wrong total (+7)": lambda r: (
        f"records landed {r.day_records} != reported total {r.day_records + 7}" in r.check
    ),
    "all transient faults combined": lambda r: (
        len(r.answers.keys() - {"0"}) >= 3 and r.reads >= 2 and len(r.truth) > r.day_records
    ),
    "combined + wrong total": lambda r: f"!= reported total {len(r.truth) + 7}" in r.check,
    "records never stop arriving": lambda r: (
        "did not hold still over 3 reads" in r.failure and "Nothing was stored" in r.failure
    ),
}


def test_every_scenario_has_evidence_of_its_fault():
    assert {scenario.name for scenario in SCENARIOS} == EVIDENCE.keys()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_fault_scenario(scenario, tmp_path):
    result = run_scenario(scenario, tmp_path, timezone=ZONE)

    summary = f"{result.figures()}"
    judged = verdict(result)
    assert result.outcome == WANTED_OUTCOME[scenario.expect], summary
    assert judged.exact, summary  # landed == truth, or (run failed) the stored day is unchanged
    assert result.zone == ZONE, summary  # the drill ran in the zone this test pinned, not the shell's
    if scenario.expect != RUN_FAILS:
        # The truth is at least the whole fault-free day, not an empty list.
        assert len(result.truth) >= result.day_records > 0, summary
        assert result.retries == failed_answers(result), summary  # every failed request was retried
    else:
        assert result.stored_before and result.stored_before["records"], summary
    assert EVIDENCE[scenario.name](result), summary


def _run(scenario_name: str, **changes) -> DrillRun:
    """A made-up run of a scenario, for testing the verdict alone."""
    scenario = next(s for s in SCENARIOS if s.name == scenario_name)
    record = {"voiceId": "1", "cost": "0.5"}
    run = DrillRun(
        scenario=scenario,
        day=date(2026, 3, 8),
        zone="UTC",
        outcome=WANTED_OUTCOME[scenario.expect],
        day_records=1,
        landed=[record],
        truth=[record],
        stored_before=None,
        stored_after={"records": [(1,)], "pages": []},
        requests=1,
        retries=0,
        reads=1,
        seconds=0.1,
        answers={"0": 1},
    )
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def test_the_verdict_catches_a_lost_changed_or_extra_record_and_a_wrong_outcome():
    assert verdict(_run("no faults")).as_expected
    assert not verdict(_run("no faults", landed=[])).exact
    assert not verdict(_run("no faults", landed=[{"voiceId": "1", "cost": "0.50"}])).exact
    assert not verdict(_run("no faults", landed=[{"voiceId": "1", "cost": "0.5"}] * 2)).exact
    assert not verdict(_run("no faults", outcome="check failed")).as_expected
    kept = {"records": [(1,)], "pages": []}
    assert verdict(_run("records never stop arriving", stored_before=kept, stored_after=kept)).as_expected
    lost = _run("records never stop arriving", stored_before=kept, stored_after={"records": [], "pages": []})
    assert not verdict(lost).exact
