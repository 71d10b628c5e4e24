from datetime import timedelta

import duckdb
import pytest
from dagster import AssetKey, FreshnessPolicy

from laaffic_pipeline.defs.laaffic.specs import RAW_CALL_RECORDS_KEY
from laaffic_pipeline.defs.marts.specs import CALL_FACTS_KEY, DAILY_COSTS_KEY
from laaffic_pipeline.defs.metadata import markdown_table
from laaffic_pipeline.warehouse.marts import ensure_mart_tables
from tests.defs.pipeline import load_definitions, set_pipeline_env


@pytest.fixture(autouse=True)
def shanghai(monkeypatch):
    set_pipeline_env(monkeypatch, {"timezone": "Asia/Shanghai", "start_date": "2026-01-01"})


def specs() -> dict[AssetKey, object]:
    defs = load_definitions()
    return {spec.key: spec for asset in defs.assets for spec in asset.specs}


def test_marts_depend_on_raw_then_on_each_other():
    by_key = specs()
    assert set(by_key) == {RAW_CALL_RECORDS_KEY, CALL_FACTS_KEY, DAILY_COSTS_KEY}
    assert [dep.asset_key for dep in by_key[CALL_FACTS_KEY].deps] == [RAW_CALL_RECORDS_KEY]
    assert [dep.asset_key for dep in by_key[DAILY_COSTS_KEY].deps] == [CALL_FACTS_KEY]


def test_call_facts_of_a_day_declares_the_raw_day_alone():
    """Day D reads raw D-1's voice ids too, but declares only raw D: a backfill up to yesterday must
    not also target today's marts through a D-1 mapping."""
    (dep,) = specs()[CALL_FACTS_KEY].deps
    assert dep.asset_key == RAW_CALL_RECORDS_KEY
    assert dep.partition_mapping is None


@pytest.mark.parametrize("key", [CALL_FACTS_KEY, DAILY_COSTS_KEY])
def test_each_mart_is_partitioned_grouped_and_fresh_within_the_refresh_cadence(key):
    spec = specs()[key]
    assert spec.partitions_def.timezone == "Asia/Shanghai"
    assert spec.group_name == "marts"
    assert spec.kinds == {"duckdb"}
    # Refreshed every 15 minutes by default: a warning past one cadence plus 5 minutes of run
    # time, a failure past two.
    assert spec.freshness_policy == FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=35), warn_window=timedelta(minutes=20)
    )


def test_a_refresh_every_hour_on_working_days_allows_the_weekend(monkeypatch):
    set_pipeline_env(
        monkeypatch,
        {"timezone": "Asia/Shanghai", "start_date": "2026-01-01", "intraday_cron": "0 8-18 * * 1-5"},
    )
    # Friday 18:00 to Monday 08:00 is the longest gap: 62 hours.
    assert specs()[DAILY_COSTS_KEY].freshness_policy == FreshnessPolicy.time_window(
        fail_window=timedelta(hours=124, minutes=5), warn_window=timedelta(hours=62, minutes=5)
    )


@pytest.mark.parametrize("key", [CALL_FACTS_KEY, DAILY_COSTS_KEY])
def test_without_the_intraday_refresh_each_mart_is_due_daily(monkeypatch, key):
    set_pipeline_env(
        monkeypatch, {"timezone": "Asia/Shanghai", "start_date": "2026-01-01", "intraday_refresh": "false"}
    )
    # Due by 06:00 local each day, materialized within the 24 h before: a missed day shows as failing.
    assert specs()[key].freshness_policy == FreshnessPolicy.cron(
        deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=24), timezone="Asia/Shanghai"
    )


@pytest.mark.parametrize(
    ("key", "table"),
    [
        (RAW_CALL_RECORDS_KEY, "raw.call_records"),
        (CALL_FACTS_KEY, "marts.call_facts"),
        (DAILY_COSTS_KEY, "marts.daily_costs"),
    ],
)
def test_column_docs_describe_every_column_of_the_real_table(tmp_path, key, table):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        ensure_mart_tables(conn)
        columns = conn.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})").fetchall()
    metadata = specs()[key].metadata
    schema = metadata["dagster/column_schema"]
    documented = [(column.name, column.type.replace(" ", "")) for column in schema.columns]
    actual = [(name, kind.replace(" WITH TIME ZONE", "TZ").replace(" ", "")) for name, kind in columns]
    assert documented == actual
    assert all(column.description for column in schema.columns)
    assert metadata["dagster/table_name"] == table


def test_markdown_table_renders_ratios_and_nulls():
    assert markdown_table([{"currency": "USD", "asr": 2 / 3, "cost": None}]) == (
        "| currency | asr | cost |\n|---|---|---|\n| USD | 0.6667 | — |"
    )
    assert markdown_table([]) == "_no rows_"
