import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from laaffic_pipeline.cli import main
from laaffic_pipeline.report import (
    ALL_CALLS,
    DayCurrency,
    money,
    render_report,
    report_path,
    write_report,
)
from laaffic_pipeline.simulator import LaafficSimulator
from laaffic_pipeline.warehouse.marts import rebuild_marts
from laaffic_pipeline.warehouse.query import WarehouseQueryError
from tests.conftest import TEST_API_KEY, TEST_API_SECRET
from tests.defs.pipeline import make_pipeline
from tests.warehouse.mart_inputs import DAY, call, land
from tests.warehouse.older_warehouse import BUILT_DAY, SHORT_DAY, write_older_warehouse


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A warehouse the real daily job built from the simulator: the last three days, and the
    simulator's own records of each of those UTC days (the oracle for the totals)."""
    tmp_path = tmp_path_factory.mktemp("report")
    with (
        LaafficSimulator(TEST_API_KEY, TEST_API_SECRET, records_per_day=200) as simulator,
        pytest.MonkeyPatch.context() as monkeypatch,
    ):
        pipeline = make_pipeline(monkeypatch, tmp_path, simulator)
        days = pipeline.build_last_days(3)
        truth = {day: simulator.records_for_local_day(date.fromisoformat(day), "UTC") for day in days}
    pipeline.truth = truth
    return pipeline, days


def parse(page: str) -> ET.Element:
    """The page as XML: it is written well-formed, so any HTML parser reads it the same way."""
    assert page.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))


def series(svg: ET.Element) -> dict[str, list[str]]:
    """Each series' name and the tooltips of its points."""
    return {
        group.get("data-series"): [circle.findtext("title") for circle in group.iter("circle")]
        for group in svg.iter("g")
        if group.get("class") == "series"
    }


def table_rows(page: str, css: str) -> list[list[str]]:
    """The text of each body row's cells of the table of class ``css``."""
    (table,) = [t for t in parse(page).iter("table") if t.get("class") == css]
    return [["".join(cell.itertext()) for cell in row] for row in table.find("tbody")]


def test_the_report_charts_cost_per_currency_and_asr_per_day(built):
    pipeline, days = built
    path = write_report(pipeline.duckdb_path)

    assert path == report_path(pipeline.duckdb_path)
    assert path.name == "report.html" and path.parent.name == "warehouse"
    page = path.read_text(encoding="utf-8")
    cost_chart, asr_chart = parse(page).iter("svg")
    view = pipeline.query(
        "SELECT call_date, currency, total_cost, asr FROM marts.daily_costs_by_currency ORDER BY ALL"
    )
    assert {currency for _, currency, _, _ in view} == {"EUR", "USD"}
    assert series(cost_chart) == {
        currency: [f"{day} {currency}: {cost:,.2f}" for day, cur, cost, _ in view if cur == currency]
        for currency in ("EUR", "USD")
    }
    asr_series = series(asr_chart)
    assert set(asr_series) == {"EUR", "USD", ALL_CALLS}
    assert [tip.split()[0] for tip in asr_series[ALL_CALLS]] == days
    for day in days:
        assert f">{day}</text>" in page  # on the x axis
        assert f"<td>{day}</td>" in page
    for _, _, cost, _ in view:
        # To the cent in the table, the exact decimal in the cell's tooltip.
        assert f'<td title="{cost}">{cost.quantize(Decimal("0.01"), ROUND_HALF_UP):,}</td>' in page


def test_the_report_is_self_contained(built):
    pipeline, _ = built
    page = write_report(pipeline.duckdb_path).read_text(encoding="utf-8")

    assert "<svg" in page
    assert not re.search(r"https?:|<script|<link|<img|<iframe|src=|@import", page)
    assert [p.name for p in report_path(pipeline.duckdb_path).parent.glob(".*")] == []


def test_a_missing_day_breaks_the_line_instead_of_bridging_it():
    def row(day: int, currency: str) -> DayCurrency:
        return DayCurrency(date(2026, 3, day), currency, 10, 5, 0.5, Decimal("1.5"), Decimal("1.5"))

    page = render_report([row(1, "USD"), row(2, "EUR"), row(3, "USD")], source="w.duckdb")

    cost_chart = next(parse(page).iter("svg"))
    usd = next(g for g in cost_chart.iter("g") if g.get("data-series") == "USD")
    assert len(list(usd.iter("polyline"))) == 2
    assert len(list(usd.iter("circle"))) == 2


def test_a_warehouse_without_marts_gets_a_page_saying_so(tmp_path):
    database = tmp_path / "empty.duckdb"
    duckdb.connect(str(database)).close()

    page = write_report(database).read_text(encoding="utf-8")

    assert "No marts in this warehouse yet" in page
    assert "<svg" not in page
    parse(page)


def test_no_warehouse_file_is_an_error_that_says_what_to_do(tmp_path):
    with pytest.raises(WarehouseQueryError, match="run the pipeline first"):
        write_report(tmp_path / "nothing.duckdb")


def test_the_report_command_renders_the_configured_warehouse(built, monkeypatch, tmp_path, capsys):
    pipeline, days = built
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", pipeline.duckdb_path)
    output = tmp_path / "two-days.html"

    assert main(["report", "--days", "2", "--output", str(output)]) == 0

    assert capsys.readouterr().out.strip() == str(output.resolve())
    page = output.read_text(encoding="utf-8")
    assert [day for day in days if f"<td>{day}</td>" in page] == days[-2:]


def test_the_report_command_without_a_warehouse_says_what_to_do(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(tmp_path / "none.duckdb"))

    assert main(["report"]) == 1
    assert "run the pipeline first" in capsys.readouterr().err


def money_rule_of(page: str) -> str:
    (paragraph,) = [p for p in parse(page).iter("p") if p.get("class") == "money-rule"]
    return paragraph.text


def test_the_report_states_which_currency_the_money_is_in_and_why(built):
    pipeline, _ = built
    rule = money_rule_of(write_report(pipeline.duckdb_path).read_text(encoding="utf-8"))

    assert 'labels cost "Consumption amount (USD)"' in rule
    assert '"Quotation Currency"' in rule
    assert "built with LAAFFIC_COST_CURRENCY=record:" in rule  # the pipeline's default


def test_a_warehouse_restated_in_usd_is_charted_and_labelled_in_usd(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as conn:
        land(conn, tmp_path, DAY, [[call("u", cost="1.25"), call("e", currency="EUR", cost="2.5")]])
        rebuild_marts(conn, [DAY], "record")
        rebuild_marts(conn, [DAY], "USD")

    page = write_report(database).read_text(encoding="utf-8")

    cost_chart = next(parse(page).iter("svg"))
    assert series(cost_chart) == {"USD": [f"{DAY} USD: 3.75"]}  # 1.25 + 2.5, one currency now
    assert '<td title="3.750000">3.75</td>' in page
    assert "built with LAAFFIC_COST_CURRENCY=USD:" in money_rule_of(page)


def test_days_built_under_different_settings_are_called_out():
    rule = money_rule_of(render_report([], source="w.duckdb", cost_currency_rules=["USD", "record"]))
    assert "LAAFFIC_COST_CURRENCY=USD and LAAFFIC_COST_CURRENCY=record" in rule
    assert "rebuild them alike" in rule


def test_the_period_totals_per_currency_are_the_simulators_records_summed_to_the_cent(built):
    pipeline, days = built
    page = write_report(pipeline.duckdb_path).read_text(encoding="utf-8")

    calls: dict[str, int] = defaultdict(int)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for records in pipeline.truth.values():
        for record in records:
            calls[record["currency"]] += 1
            cost[record["currency"]] += Decimal(record["cost"])
    found = {row[0]: row for row in table_rows(page, "totals")}
    assert sorted(found) == ["EUR", "USD"]
    for currency, row in found.items():
        assert row[1:3] == ["3", f"{calls[currency]:,}"]  # days, calls
        assert row[5] == f"{cost[currency].quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    assert f"<h2>Totals, {days[0]} to {days[-1]}</h2>" in page
    # Every money cell shows two decimals: none of the six stored places.
    assert not re.search(r">-?[\d,]+\.\d{3,}</td>", page)


def test_each_day_shows_its_checks_and_the_cost_difference(built):
    pipeline, days = built
    page = write_report(pipeline.duckdb_path).read_text(encoding="utf-8")

    checks = table_rows(page, "checks")
    assert [row[0] for row in checks] == days
    assert [row[1:3] for row in checks] == [["ok", "ok"]] * 3  # the simulator's days are clean
    assert [row[3] for row in checks] == [f"{len(pipeline.truth[day]):,}" for day in days]
    differences = pipeline.query(
        "SELECT cost_difference FROM marts.daily_costs_by_currency ORDER BY call_date, currency"
    )
    assert [row[-1] for row in table_rows(page, "figures")] == [money(value) for (value,) in differences]


def test_a_day_failing_its_page_count_is_shown_failed_with_why_though_not_in_the_marts(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    later = DAY + timedelta(days=1)
    with duckdb.connect(str(database)) as conn:
        land(conn, tmp_path, DAY, [[call("a"), call("b", cost="0.03")]])
        rebuild_marts(conn, [DAY], "record")
        land(conn, tmp_path, later, [[call("c", submitTime=f"{later}T10:00:00+00:00")]])
        # The API said 2 calls that day and sent 1: the day is landed, and kept out of the marts.
        conn.execute("UPDATE raw.call_record_pages SET reported_total = 2 WHERE partition_date = ?", [later])

    page = write_report(database).read_text(encoding="utf-8")

    assert table_rows(page, "checks") == [
        [str(DAY), "warning", "ok", "2", "0", "1", "0"],  # b's cost differs from its rate x seconds
        [str(later), "failed", "records landed 1 != reported total 2", "not built", "0", "0", "0"],
    ]
    assert 'class="status-failed"' in page


def test_the_charts_scale_to_the_pages_width(built):
    pipeline, _ = built
    page = write_report(pipeline.duckdb_path).read_text(encoding="utf-8")
    for svg in parse(page).iter("svg"):
        assert svg.get("width") == "100%" and svg.get("height") is None
        assert svg.get("viewBox") == "0 0 1000 300"
    assert "svg.chart{display:block;width:100%;height:auto}" in page


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("14.886122", "14.89"), ("0.005000", "0.01"), ("-0.004999", "-0.00"), ("1234567.5", "1,234,567.50")],
)
def test_money_is_shown_to_the_cent_rounded_half_up(amount, shown):
    assert money(Decimal(amount)) == shown


def test_a_provisional_day_is_marked_so_wherever_the_page_names_it(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    today = DAY + timedelta(days=1)
    with duckdb.connect(str(database)) as conn:
        land(conn, tmp_path, DAY, [[call("a")]])
        land(conn, tmp_path, today, [[call("b", submitTime=f"{today}T10:00:00+00:00")]])
        # Read at 12:00, before the day ended: provisional up to then.
        conn.execute(
            "INSERT INTO raw.provisional_days VALUES (?, ?, 1, ?)",
            [today, f"{today} 12:00+00", f"{today} 12:00+00"],
        )
        rebuild_marts(conn, [DAY, today], "record")

    page = write_report(database).read_text(encoding="utf-8")

    assert [row[:2] for row in table_rows(page, "checks")] == [
        [str(DAY), "ok"],
        [f"{today} (provisional)", "ok"],
    ]
    assert f"<td>{today} (provisional)</td>" in page.split('<table class="checks">')[0]


def test_a_warehouse_an_older_version_wrote_is_reported_as_it_is_without_changing_it(tmp_path):
    """Before sip_group_name and raw.provisional_days: no day of it is provisional, each day one
    window of every group; the file stays as it was until the pipeline's next run upgrades it."""
    database = write_older_warehouse(tmp_path / "warehouse.duckdb")
    before = database.read_bytes()

    page = write_report(database).read_text(encoding="utf-8")

    assert table_rows(page, "figures") == [
        [str(BUILT_DAY), "EUR", "1", "1", "100.0%", "0.25", "0.25", "0.00"],
        [str(BUILT_DAY), "USD", "2", "1", "50.0%", "0.50", "0.40", "0.10"],
    ]
    assert table_rows(page, "checks") == [
        [str(BUILT_DAY), "warning", "ok", "3", "0", "1", "1"],
        [str(SHORT_DAY), "failed", "records landed 1 != reported total 2", "not built", "0", "0", "0"],
    ]
    assert "(provisional)" not in page
    assert database.read_bytes() == before


def test_the_report_command_on_an_older_warehouse_writes_the_page(monkeypatch, tmp_path, capsys):
    database = write_older_warehouse(tmp_path / "laaffic.duckdb")
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(database))

    assert main(["report"]) == 0

    assert capsys.readouterr().out.strip() == str(report_path(database).resolve())
