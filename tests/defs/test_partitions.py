"""Partitions: a partition's API window is Dagster's time window, written out literally here (DST
days too); the list starts where the warehouse's record says, whatever day the definitions load."""

from datetime import UTC, datetime, timedelta

import pytest
from dagster import partition_loading_context

from laaffic_pipeline.defs import build_definitions
from laaffic_pipeline.defs.partitions import query_window
from laaffic_pipeline.settings import PipelineSettings, SettingsError
from tests.defs.pipeline import load_definitions, set_pipeline_env, settings_env


@pytest.mark.parametrize(
    ("timezone", "day", "str_time", "end_time", "hours"),
    [
        ("Europe/Berlin", "2026-03-29", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23),
        ("Europe/Berlin", "2026-10-25", "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25),
        ("America/New_York", "2026-03-08", "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 23),
        ("America/New_York", "2026-11-01", "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 25),
        ("Asia/Kolkata", "2026-06-01", "2026-06-01T00:00:00+05:30", "2026-06-02T00:00:00+05:30", 24),
        ("UTC", "2026-06-01", "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", 24),
    ],
)
def test_partition_window_is_the_local_day_in_the_configured_zone(
    monkeypatch, timezone, day, str_time, end_time, hours
):
    set_pipeline_env(monkeypatch, {"timezone": timezone, "start_date": "2026-01-01"})
    partitions_def = load_definitions().resolve_job_def("laaffic_daily").partitions_def
    window = query_window(partitions_def.time_window_for_partition_key(day))
    assert (window.str_time, window.end_time) == (str_time, end_time)
    assert window.duration.total_seconds() == hours * 3600


def partitions_at(settings: dict, now: datetime):
    """The job's partitions as the definitions build them when they load at ``now``."""
    env = settings_env(settings)
    definitions = build_definitions(PipelineSettings.from_env(env), env, now=now)
    return definitions.resolve_job_def("laaffic_daily").partitions_def


# Two calendar months before 2026-11-30 05:00 UTC is 2026-09-30 05:00 UTC: the first whole UTC day
# the API serves then is 2026-10-01; in Kolkata (+05:30) 2026-10-01 starts 2026-09-30T18:30Z.
@pytest.mark.parametrize(
    ("timezone", "now", "first"),
    [
        ("UTC", datetime(2026, 11, 30, 5, tzinfo=UTC), "2026-10-01"),
        ("UTC", datetime(2026, 11, 30, 0, tzinfo=UTC), "2026-09-30"),
        ("Asia/Kolkata", datetime(2026, 11, 30, 5, tzinfo=UTC), "2026-10-01"),
        ("Asia/Kolkata", datetime(2026, 11, 30, 20, tzinfo=UTC), "2026-10-02"),
    ],
)
def test_a_fresh_warehouse_starts_at_the_first_whole_day_the_api_serves(tmp_path, timezone, now, first):
    settings = {"timezone": timezone, "duckdb_path": tmp_path / "laaffic.duckdb"}
    assert partitions_at(settings, now).start.strftime("%Y-%m-%d") == first


def test_the_partitions_do_not_move_when_the_definitions_load_on_later_days(tmp_path):
    settings = {"duckdb_path": tmp_path / "data" / "laaffic.duckdb"}
    first_load = datetime(2026, 11, 30, 12, tzinfo=UTC)
    before = partitions_at(settings, first_load)

    later = partitions_at(settings, first_load + timedelta(days=45))
    much_later = partitions_at(settings, first_load + timedelta(days=400))

    with partition_loading_context(effective_dt=first_load):
        keys_then = before.get_partition_keys()
    with partition_loading_context(effective_dt=first_load + timedelta(days=45)):
        keys_later = later.get_partition_keys()
    assert keys_then[0] == "2026-10-01"
    assert keys_later[: len(keys_then)] == keys_then  # nothing disappears at the start
    assert keys_later[-1] == "2027-01-14"  # new days appear at the end, today the last
    assert much_later.start == before.start
    assert (tmp_path / "data" / "laaffic.first-partition").read_text().splitlines()[-1] == "2026-10-01"


def test_a_start_date_moves_the_first_partition_earlier_but_never_later(tmp_path):
    path = tmp_path / "laaffic.duckdb"
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert partitions_at({"duckdb_path": path}, now).start.strftime("%Y-%m-%d") == "2026-10-01"

    earlier = partitions_at({"duckdb_path": path, "start_date": "2026-06-01"}, now)
    later = partitions_at({"duckdb_path": path, "start_date": "2026-11-01"}, now)
    unset_again = partitions_at({"duckdb_path": path}, now + timedelta(days=90))

    assert earlier.start.strftime("%Y-%m-%d") == "2026-06-01"
    assert later.start.strftime("%Y-%m-%d") == "2026-06-01"  # the warehouse may hold June already
    assert unset_again.start.strftime("%Y-%m-%d") == "2026-06-01"


def test_a_start_date_after_today_is_refused_naming_the_variable(tmp_path):
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    settings = {"duckdb_path": tmp_path / "laaffic.duckdb", "start_date": "2026-12-01"}
    with pytest.raises(
        SettingsError, match=r"LAAFFIC_START_DATE='2026-12-01' is not accepted: it is after today"
    ):
        partitions_at(settings, now)
    assert not (tmp_path / "laaffic.first-partition").exists()


def test_an_unreadable_record_of_the_first_partition_is_named(tmp_path):
    (tmp_path / "laaffic.first-partition").write_text("# a comment\nnot a day\n")
    with pytest.raises(
        SettingsError, match=r"laaffic.first-partition should hold .* YYYY-MM-DD; it holds 'not a day'"
    ):
        partitions_at({"duckdb_path": tmp_path / "laaffic.duckdb"}, datetime(2026, 11, 30, tzinfo=UTC))
