"""Every simulator fault alone and combined, through the real Dagster job over loopback HTTP.

After each, what landed equals the simulator's records for the day exactly; when the API's own
total is wrong the blocking page check fails with the figures; when records never stop arriving
the run fails and the day stored before is kept.
"""

from collections.abc import Callable

import pytest

from laaffic_pipeline.fault_drill import (
    CHECK_FAILS,
    LANDS_EXACTLY,
    RUN_FAILS,
    SCENARIOS,
    DrillResult,
    run_scenario,
)

PAGES = 12  # 600 records a day, 50 a page


def failed_answers(result: DrillResult) -> int:
    return sum(count for kind, count in result.answers.items() if kind != "0")


# Proof that each fault really happened, so a scenario cannot pass by not injecting anything.
EVIDENCE: dict[str, Callable[[DrillResult], bool]] = {
    "no faults": lambda r: (r.requests, r.retries, r.reads) == (PAGES, 0, 1),
    "30% HTTP 5xx": lambda r: sum(v for k, v in r.answers.items() if k.startswith("http_5")) > 0,
    "30% status -18": lambda r: r.answers.get("-18", 0) > 0,
    "30% HTML instead of JSON": lambda r: r.answers.get("non_json", 0) > 0,
    # Retry-After: 1 is honoured, so a 429 costs at least a second.
    "server rate limit 5/s (429)": lambda r: r.answers.get("http_429", 0) > 0 and r.seconds >= 1,
    # The client's own pacing keeps it under the server's limit: no 429 at all.
    "rate limit 8/s, client paced 5/s": lambda r: (
        "http_429" not in r.answers and r.seconds >= (PAGES - 1) / 5
    ),
    "latency 150 ms": lambda r: r.seconds >= 0.3,  # page 1, then the rest concurrently
    "records arriving mid-paging": lambda r: r.reads >= 2 and r.expected > 600,
    "30% duplicates across pages": lambda r: r.reads >= 2,
    "malformed records": lambda r: r.landed == 600,
    "wrong total (+7)": lambda r: "records landed 600 != reported total 607" in r.check,
    "all transient faults combined": lambda r: (
        len(r.answers.keys() - {"0"}) >= 3 and r.reads >= 2 and r.expected > 600
    ),
    "combined + wrong total": lambda r: f"!= reported total {r.expected + 7}" in r.check,
    "records never stop arriving": lambda r: (
        "did not hold still over 3 reads" in r.failure and "Nothing was stored" in r.failure
    ),
}


def test_every_scenario_has_evidence_of_its_fault():
    assert {scenario.name for scenario in SCENARIOS} == EVIDENCE.keys()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_fault_scenario(scenario, tmp_path):
    result = run_scenario(scenario, tmp_path)

    summary = f"{result.to_dict()}"
    wanted = {LANDS_EXACTLY: "ok", CHECK_FAILS: "check failed", RUN_FAILS: "run failed"}[scenario.expect]
    assert result.outcome == wanted, summary
    assert result.exact, summary  # landed == truth, or (run failed) the stored day is unchanged
    if scenario.expect != RUN_FAILS:
        assert result.landed == result.expected, summary
        assert result.retries == failed_answers(result), summary  # every failed request was retried
    assert EVIDENCE[scenario.name](result), summary
