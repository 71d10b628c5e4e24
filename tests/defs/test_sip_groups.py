"""``LAAFFIC_SIP_GROUPS``: a day read as one window per listed SIP group, over real HTTP.

The truth is the simulator's own: ``records_for_local_day(day, zone, sip_group_name=...)``, which
filters its rows by group itself, sharing no code with the client or the pipeline.

The simulator's ``total_delta`` fault applies to every window of a day, whatever group it is
filtered to, so it cannot make one group's window wrong alone. ``OneGroupOff`` does that: the
simulator, with the answers to one group's requests changed (an outage, or a reported total 3 too
many), still over HTTP.
"""

import dataclasses
import json
import math
from datetime import date
from typing import Any

import duckdb
import pytest

from laaffic_pipeline.defs.laaffic.specs import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.report import read_report_figures
from laaffic_pipeline.settings import PipelineSettings, SettingsError
from laaffic_pipeline.simulator import FaultConfig, LaafficSimulator
from laaffic_pipeline.simulator.server import Reply
from tests.conftest import TEST_API_KEY, TEST_API_SECRET
from tests.defs.pipeline import make_pipeline

GROUPS = ("sales", "support")  # two of the simulator's five phone groups
PAGE_SIZE = 20
ALLOW_FEWER_ROWS = {"ops": {"laaffic_days": {"config": {"allow_fewer_rows": True}}}}


class OneGroupOff(LaafficSimulator):
    """The simulator, but requests filtered to ``outage_group`` answer HTTP 503, and pages of
    ``total_off_group`` report a total 3 too many (its own pages, records and page count as served)."""

    outage_group = ""
    total_off_group = ""

    def answer_query(self, headers, body, **options) -> Reply:
        group = json.loads(body)["params"]["sipGroupName"]
        if group and group == self.outage_group:
            return Reply(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html")
        reply = super().answer_query(headers, body, **options)
        if group and group == self.total_off_group and reply.status == 200:
            answer = json.loads(reply.body)
            answer["data"]["total"] += 3
            return dataclasses.replace(reply, body=json.dumps(answer).encode())
        return reply


@pytest.fixture
def simulator():
    with OneGroupOff(TEST_API_KEY, TEST_API_SECRET, records_per_day=400) as running:
        yield running


def grouped_pipeline(monkeypatch, tmp_path, simulator, **overrides):
    settings = {"sip_groups": ",".join(GROUPS), "page_size": PAGE_SIZE, **overrides}
    return make_pipeline(monkeypatch, tmp_path, simulator, **settings)


def truth(simulator, day: str, group: str = "") -> list[dict[str, Any]]:
    return simulator.records_for_local_day(date.fromisoformat(day), "UTC", sip_group_name=group)


def stored(pipeline, day: str) -> tuple[list[tuple], list[tuple]]:
    """The day's raw rows, every column (the record as its exact text), and its pages."""
    records = pipeline.query(
        "SELECT voice_id, sip_group_name, page, position, fetched_at, record::VARCHAR FROM raw.call_records "
        "WHERE partition_date = ? ORDER BY ALL",
        [day],
    )
    pages = pipeline.query("SELECT * FROM raw.call_record_pages WHERE partition_date = ? ORDER BY ALL", [day])
    return records, pages


def by_voice_id(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda record: record["voiceId"])


# -- the setting ------------------------------------------------------------------------------------


def test_unset_or_empty_the_day_is_one_window_of_every_group():
    assert PipelineSettings.from_env({}).client.sip_groups == []
    assert PipelineSettings.from_env({"LAAFFIC_SIP_GROUPS": "  "}).client.sip_groups == []


def test_the_names_are_read_comma_separated_and_stripped():
    settings = PipelineSettings.from_env({"LAAFFIC_SIP_GROUPS": " sales ,support,group 3 "})
    assert settings.client.sip_groups == ["sales", "support", "group 3"]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("sales,,support", "a SIP group name is empty"),
        ("sales, ", "a SIP group name is empty"),
        (",", "a SIP group name is empty"),
        ("sales,support, sales", "SIP group name(s) 'sales' listed more than once"),
    ],
)
def test_a_bad_list_is_refused_naming_the_variable(value, why):
    with pytest.raises(SettingsError) as refused:
        PipelineSettings.from_env({"LAAFFIC_SIP_GROUPS": value})
    message = str(refused.value)
    assert message.startswith(f"LAAFFIC_SIP_GROUPS={value.strip()!r} is not accepted: ")
    assert why in message


# -- a day of two groups ----------------------------------------------------------------------------


def test_a_day_lands_exactly_its_two_groups_records_each_its_own_window(monkeypatch, tmp_path, simulator):
    pipeline = grouped_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition
    expected = {group: truth(simulator, day, group) for group in GROUPS}
    others = [r for r in truth(simulator, day) if r["sipGroupName"] not in GROUPS]
    assert all(len(records) > 2 * PAGE_SIZE for records in expected.values())
    assert others, "the simulator's day also has calls of other groups"
    simulator.reset_counters()

    result = pipeline.run(day, [RAW_CALL_RECORDS_KEY])

    assert result.success, pipeline.failure_message(result)
    rows = pipeline.query(
        "SELECT sip_group_name, record FROM raw.call_records WHERE partition_date = ?", [day]
    )
    landed = [(group, json.loads(record)) for group, record in rows]
    assert by_voice_id([record for _, record in landed]) == by_voice_id(
        expected["sales"] + expected["support"]
    )
    assert all(group == record["sipGroupName"] for group, record in landed)
    pages = dict(
        pipeline.query(
            "SELECT sip_group_name, count(*) FROM raw.call_record_pages WHERE partition_date = ? GROUP BY 1",
            [day],
        )
    )
    want_pages = {group: math.ceil(len(expected[group]) / PAGE_SIZE) for group in GROUPS}
    assert pages == want_pages
    assert simulator.request_count == sum(want_pages.values())  # each page once, nothing unfiltered

    metadata = pipeline.materializations(result, RAW_CALL_RECORDS_KEY)[day].metadata
    assert metadata["dagster/row_count"].value == sum(len(records) for records in expected.values())
    assert metadata["pages_fetched"].value == sum(want_pages.values())
    assert metadata["requests_sent"].value == sum(want_pages.values())
    assert metadata["by_sip_group"].value == {
        group: {
            "records_landed": len(expected[group]),
            "pages_fetched": want_pages[group],
            "reported_total": len(expected[group]),
            "records_received": len(expected[group]),
            "reads": 1,
            "requests_sent": want_pages[group],
            "request_retries": 0,
            "requests_throttled": 0,
        }
        for group in GROUPS
    }
    check = pipeline.checks(result)[("page_count_consistency", day)]
    assert check.passed, check.description
    by_group = check.metadata["by_sip_group"].value
    assert {group: figures["records_landed"] for group, figures in by_group.items()} == {
        group: len(records) for group, records in expected.items()
    }


def test_a_failure_in_the_second_groups_read_leaves_the_stored_day_byte_identical(
    monkeypatch, tmp_path, simulator
):
    pipeline = grouped_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition
    assert pipeline.run(day, [RAW_CALL_RECORDS_KEY]).success
    before = stored(pipeline, day)
    assert {row[1] for row in before[0]} == set(GROUPS)

    simulator.outage_group = GROUPS[1]
    impatient = grouped_pipeline(monkeypatch, tmp_path, simulator, retry_attempts=1)
    # Fewer rows allowed, so the shrink guard cannot be what keeps the day: only all or nothing does.
    failed = impatient.run(day, [RAW_CALL_RECORDS_KEY], run_config=ALLOW_FEWER_ROWS)

    assert not failed.success
    message = impatient.failure_message(failed)
    assert f"{day}: sipGroupName 'support': " in message
    assert "HTTP 503" in message
    assert stored(pipeline, day) == before
    assert not impatient.materializations(failed, RAW_CALL_RECORDS_KEY)


def test_a_wrong_total_in_one_groups_window_fails_the_day_naming_that_group(monkeypatch, tmp_path, simulator):
    pipeline = grouped_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition
    support = len(truth(simulator, day, "support"))
    simulator.total_off_group = "support"

    result = pipeline.run(day)

    assert not result.success
    check = pipeline.checks(result)[("page_count_consistency", day)]
    assert not check.passed
    assert (
        check.description
        == f"sipGroupName 'support': records landed {support} != reported total {support + 3}"
    )
    assert "sipGroupName 'support': records landed" in pipeline.failure_message(result)
    # The records are landed as the API sent them (raw keeps what it got); the marts are not built.
    assert pipeline.query("SELECT count(*) FROM raw.call_records WHERE sip_group_name = 'support'") == [
        (support,)
    ]
    assert pipeline.query("SELECT count(*) FROM marts.call_facts") == [(0,)]
    by_group = pipeline.materializations(result, RAW_CALL_RECORDS_KEY)[day].metadata["by_sip_group"].value
    assert (by_group["sales"]["reads"], by_group["support"]["reads"]) == (1, 2)  # re-read, then accepted


def test_the_report_shows_a_grouped_days_page_check_naming_the_group(monkeypatch, tmp_path, simulator):
    pipeline = grouped_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition
    support = len(truth(simulator, day, "support"))
    simulator.total_off_group = "support"
    assert not pipeline.run(day).success  # landed, kept out of the marts

    with duckdb.connect(pipeline.duckdb_path, read_only=True) as conn:
        (checked,) = read_report_figures(conn).checks

    assert checked.page_problems == (
        f"sipGroupName 'support': records landed {support} != reported total {support + 3}",
    )


def test_the_total_delta_fault_fails_every_groups_window_of_the_day_each_named(
    monkeypatch, tmp_path, simulator
):
    pipeline = grouped_pipeline(monkeypatch, tmp_path, simulator)
    day = pipeline.last_partition
    counts = {group: len(truth(simulator, day, group)) for group in GROUPS}
    simulator.faults = FaultConfig(total_delta=2, total_delta_day=day)

    result = pipeline.run(day, [RAW_CALL_RECORDS_KEY])

    check = pipeline.checks(result)[("page_count_consistency", day)]
    assert not check.passed
    assert check.description == "; ".join(
        f"sipGroupName {group!r}: records landed {n} != reported total {n + 2}" for group, n in counts.items()
    )


def test_a_day_stored_whole_is_not_replaced_by_its_groups_alone(monkeypatch, tmp_path, simulator):
    whole = make_pipeline(monkeypatch, tmp_path, simulator, page_size=PAGE_SIZE)
    day = whole.last_partition
    assert whole.run(day, [RAW_CALL_RECORDS_KEY]).success
    before = stored(whole, day)
    assert {row[1] for row in before[0]} == {""}

    grouped = grouped_pipeline(monkeypatch, tmp_path, simulator)
    refused = grouped.run(day, [RAW_CALL_RECORDS_KEY])

    assert not refused.success
    assert "allow_fewer_rows" in grouped.failure_message(refused)
    assert stored(whole, day) == before
