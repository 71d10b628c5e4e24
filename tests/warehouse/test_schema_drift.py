"""Schema drift over landed records: new keys, missing keys and type changes against the document."""

from datetime import timedelta

import duckdb
import pytest

from laaffic_pipeline.warehouse.schema_drift import DOCUMENTED_FIELDS, schema_drift
from tests.warehouse.mart_inputs import DAY, DOC_SAMPLE_RECORD, MISSING, call, land


@pytest.fixture
def conn(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        yield connection


def test_the_document_lists_the_sample_records_fields_with_their_json_types():
    assert {name: type(value).__name__ for name, value in DOC_SAMPLE_RECORD.items()} == {
        name: {"string": "str", "integer": "int"}[kind] for name, kind in DOCUMENTED_FIELDS.items()
    }


def test_an_extra_key_a_missing_key_and_a_number_sent_as_string_are_reported(conn, tmp_path):
    records = [
        call("v1"),
        call("v2", carrierRoute="RT-17"),
        call("v3", carrierRoute="RT-18", callDuration="65"),
        call("v4", callDuration="70", currency=MISSING),
        *[call(f"w{n}", chargedDuration=120.0) for n in range(7)],
    ]
    land(conn, tmp_path, DAY, [records])

    drift = schema_drift(conn, DAY)

    assert drift.records == 11
    assert drift.by_kind("new_key") == {
        "carrierRoute": {"records": 2, "sent_type": "string", "example_voice_ids": ["v2", "v3"]}
    }
    assert drift.by_kind("missing_key") == {"currency": {"records": 1, "example_voice_ids": ["v4"]}}
    assert drift.by_kind("type_change") == {
        "callDuration: integer -> string": {"records": 2, "example_voice_ids": ["v3", "v4"]},
        "chargedDuration: integer -> number": {
            "records": 7,
            "example_voice_ids": [f"w{n}" for n in range(5)],  # at most 5 examples
        },
    }
    assert "new keys: carrierRoute (2)" in drift.summary()


def test_clean_records_and_other_days_show_no_drift(conn, tmp_path):
    land(conn, tmp_path, DAY, [[call("v1"), call("v2")]])
    land(conn, tmp_path, DAY + timedelta(days=1), [[call("x1", extra=1)]])

    drift = schema_drift(conn, DAY)

    assert drift.records == 2 and drift.findings == []


def test_the_simulators_records_show_no_drift(conn, tmp_path, simulator):
    records = simulator.records_for_local_day(DAY, "UTC")
    land(conn, tmp_path, DAY, [records])

    drift = schema_drift(conn, DAY)

    assert drift.records == len(records) > 0 and drift.findings == []
