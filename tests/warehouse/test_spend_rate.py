"""The spend-rate check over hand-made calls: 14 final days in Berlin (a DST change among them), then a
provisional day refreshed through the day, one group spending ten times its usual hour."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import duckdb
import pytest

from laaffic_pipeline.warehouse.landing import WindowRead, merge_raw_partition
from laaffic_pipeline.warehouse.marts import rebuild_marts
from laaffic_pipeline.warehouse.spend_rate import above_band, spend_rate
from tests.staged import stage_pages
from tests.warehouse.mart_inputs import call, land

ZONE = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 4, 10)
HISTORY = [TODAY - timedelta(days=n) for n in range(14, 0, -1)]  # 2026-03-27 .. 04-09: DST on 03-29
USUAL = {("USD", "group1"): [10.0, 11.0, 12.0], ("EUR", "sales"): [5.0], ("USD", "support"): [20.0]}
_ids = count(1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE)


def spent(day: date, ended: datetime, currency: str, group: str, cost: float) -> dict:
    """A call of ``group`` that ended at ``ended`` and cost ``cost`` (``currency``)."""
    submitted = ended - timedelta(minutes=2)
    return call(
        f"{day:%y%m%d}{next(_ids):07d}",
        sipGroupName=group,
        currency=currency,
        cost=f"{cost:.6f}",
        submitTime=submitted.isoformat(),
        callTime=(submitted + timedelta(seconds=1)).isoformat(),
        ringingTime=(submitted + timedelta(seconds=4)).isoformat(),
        answerTime=(submitted + timedelta(seconds=10)).isoformat(),
        hangupTime=ended.isoformat(),
    )


def usual_hour(day: date, number: int) -> list[dict]:
    """The usual spend of 13:00-14:00 local: group1 10, 11 or 12 USD, sales 5 EUR, support 20 USD."""
    return [
        spent(day, local(day, 13, 30), currency, group, costs[number % len(costs)])
        for (currency, group), costs in USUAL.items()
    ]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """The 14 final days, landed as their local days and built."""
    folder = tmp_path_factory.mktemp("spend_rate")
    path = folder / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        for number, day in enumerate(HISTORY):
            land(conn, folder, day, [usual_hour(day, number)], zone="Europe/Berlin")
        rebuild_marts(conn, HISTORY)
    return path


@pytest.fixture
def conn(history, tmp_path):
    copy = tmp_path / "today.duckdb"
    copy.write_bytes(history.read_bytes())
    with duckdb.connect(str(copy)) as connection:
        yield connection


def refresh(conn: duckdb.DuckDBPyConnection, tmp_path, until: datetime, calls: list[dict]) -> None:
    """A provisional refresh of today read up to ``until`` (from 00:00, as a first refresh reads),
    merged and built as the pipeline does."""
    staged = stage_pages(tmp_path / f"refresh-{next(_ids)}", [calls], datetime.now(UTC))
    window = WindowRead(staged, local(TODAY, 0).isoformat(), until.isoformat(), 1)
    merge_raw_partition(conn, TODAY, [window], until, refreshed_at=until)
    rebuild_marts(conn, [TODAY])


def pairs(groups: list[dict]) -> list[tuple[str, str]]:
    return [(group["currency"], group["sip_group_name"]) for group in groups]


def test_a_tenfold_hour_is_a_spike_of_that_group_only(conn, tmp_path):
    refresh(
        conn,
        tmp_path,
        local(TODAY, 14),
        [
            spent(TODAY, local(TODAY, 13, 20), "USD", "group1", 60.0),
            spent(TODAY, local(TODAY, 13, 40), "USD", "group1", 50.0),  # 110: ten times the usual 11
            spent(TODAY, local(TODAY, 13, 30), "EUR", "sales", 6.0),  # a normal hour
            # support spent nothing this hour (usually 20): a shortfall
            spent(TODAY, local(TODAY, 11, 0), "EUR", "sales", 500.0),  # before the hour
        ],
    )

    rate = spend_rate(conn, TODAY)

    assert rate.judged and rate.history_days == 14
    assert pairs(rate.spikes) == [("USD", "group1")] and rate.lasting == []
    by_pair = {pair: group for pair, group in zip(pairs(rate.groups), rate.groups, strict=True)}
    assert {pair: (group["cost"], group["cost_median"]) for pair, group in by_pair.items()} == {
        ("EUR", "sales"): (6.0, 5.0),
        ("USD", "group1"): (110.0, 11.0),  # every history day's 13:30 call found, either side of DST
        ("USD", "support"): (0.0, 20.0),
    }
    assert rate.until == local(TODAY, 14) and rate.local_until == datetime(2026, 4, 10, 14, 0)
    # Allowed: 10 spreads of 1.4826 x MAD 1 above the median 11.
    assert rate.spikes[0]["allowed_deviation"] == pytest.approx(14.826)
    assert "spend spike in the hour before 14:00: USD/group1 spent 110.00 (median 11.00" in rate.summary()


def test_a_normal_hour_and_a_shortfall_pass(conn, tmp_path):
    refresh(conn, tmp_path, local(TODAY, 14), usual_hour(TODAY, 1)[:2])  # support spent nothing

    rate = spend_rate(conn, TODAY)

    assert rate.judged and rate.spikes == [] and rate.lasting == []
    assert "3 currency/group pairs within 10 robust standard deviations" in rate.summary()
    shortfall = {
        "currency": "USD",
        "sip_group_name": "support",
        "cost": 0.0,
        "cost_median": 1e6,
        "cost_mad": 0.0,
    }
    assert above_band([shortfall], band=0.5) == []


def test_a_spike_fails_once_while_it_lasts_and_again_when_it_comes_back(conn, tmp_path):
    ten_times = [spent(TODAY, local(TODAY, 13, 50), "USD", "group1", 110.0)]
    refresh(conn, tmp_path, local(TODAY, 14), ten_times)
    first = spend_rate(conn, TODAY)
    again = spend_rate(conn, TODAY)  # the same refresh judged again (a marts-only run)
    refresh(conn, tmp_path, local(TODAY, 14, 15), [])
    lasting = spend_rate(conn, TODAY)
    refresh(conn, tmp_path, local(TODAY, 15, 30), [])  # the hour 14:30-15:30: nothing spent
    ended = spend_rate(conn, TODAY)
    refresh(conn, tmp_path, local(TODAY, 16), [spent(TODAY, local(TODAY, 15, 45), "USD", "group1", 110.0)])
    back = spend_rate(conn, TODAY)

    assert [pairs(r.spikes) for r in (first, again, lasting, ended, back)] == [
        [("USD", "group1")],
        [],
        [],
        [],
        [("USD", "group1")],
    ]
    assert pairs(lasting.lasting) == [("USD", "group1")]
    assert "still above the band (alerted when it started): USD/group1" in lasting.summary()
    assert conn.execute(
        "SELECT currency, sip_group_name, started_until, last_until, ended_until, cost "
        "FROM marts.spend_rate_spikes ORDER BY started_until"
    ).fetchall() == [
        ("USD", "group1", local(TODAY, 14), local(TODAY, 14, 15), local(TODAY, 15, 30), 110.0),
        ("USD", "group1", local(TODAY, 16), local(TODAY, 16), None, 110.0),
    ]


def test_too_little_history_and_a_final_day_are_not_judged(conn, tmp_path):
    final = spend_rate(conn, HISTORY[-1])
    conn.execute("DELETE FROM marts.daily_costs WHERE call_date < $day", {"day": HISTORY[-6]})
    refresh(conn, tmp_path, local(TODAY, 14), [spent(TODAY, local(TODAY, 13, 50), "USD", "group1", 110.0)])

    early = spend_rate(conn, TODAY)

    assert not final.judged and final.until is None and "is final" in final.summary()
    assert not early.judged and early.spikes == [] and early.history_days == 6
    assert "not judged: 6 final days in the 14 before 2026-04-10 (at least 7 needed)" in early.summary()
    assert conn.execute("SELECT count(*) FROM marts.spend_rate_spikes").fetchone() == (0,)
