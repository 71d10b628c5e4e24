"""``data/report.html``: the period's totals, daily cost per currency and ASR, and each day's checks.

The page is one self-contained file (no script, stylesheet, font or image fetched from anywhere),
so it opens from disk, a share or an e-mail. Its figures come from the warehouse through one short
read-only connection: ``marts.daily_costs_by_currency`` for money and ASR, and for each day's
checks the same figures the pipeline's checks judge, read from the tables themselves (the
page-count rule of ``warehouse/consistency.py`` over ``raw.call_record_pages``, and the marts'
counts of calls whose bill does not reconcile or that carry quality flags), so the report needs
neither Dagster nor its instance. Money is shown per the currency it is in (the marts'
``cost_currency``, set by ``LAAFFIC_COST_CURRENCY``) and never converted or added across
currencies, to the cent (each cell's exact decimal in its tooltip); ASR is a ratio, so it is also
shown over all calls of a day. The charts scale to the page's width (SVG ``viewBox``).
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from pathlib import Path

import duckdb

from laaffic_pipeline.warehouse.consistency import day_page_count_problems
from laaffic_pipeline.warehouse.landing import provisional_days_among, read_raw_as_current
from laaffic_pipeline.warehouse.query import connect_read_only
from laaffic_pipeline.warehouse.sql import query_rows

REPORT_DAYS = 31
ALL_CALLS = "all calls"
NO_CURRENCY = "no currency"  # rows whose currency could not be read (flagged in call_facts)
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class DayCurrency:
    """One row of ``marts.daily_costs_by_currency``, as much of it as the report shows."""

    call_date: date
    currency: str
    calls: int
    answered_calls: int
    asr: float
    total_cost: Decimal | None
    expected_cost: Decimal | None
    cost_difference: Decimal | None = None


@dataclass(frozen=True)
class CurrencyTotal:
    """The period's sums for one currency."""

    currency: str
    days: int
    calls: int
    answered_calls: int
    asr: float | None
    total_cost: Decimal | None
    expected_cost: Decimal | None
    cost_difference: Decimal | None


@dataclass(frozen=True)
class DayChecks:
    """What a day's checks judge: the page-count rule (an ERROR check: a failing day is kept out of
    the marts) and the marts' counts behind the warning checks."""

    call_date: date
    page_problems: tuple[str, ...] | None  # None: never landed in raw
    built: bool  # in the marts
    provisional: bool = False  # read before it was final: the day so far
    calls: int = 0
    charged_duration_mismatches: int = 0
    cost_mismatches: int = 0
    flagged_calls: int = 0

    @property
    def status(self) -> str:
        """``failed`` (page count), ``warning`` (not built, a bill that does not reconcile, a quality
        flag) or ``ok``."""
        if self.page_problems:
            return "failed"
        if (
            not self.built
            or self.page_problems is None
            or self.charged_duration_mismatches
            or self.cost_mismatches
            or self.flagged_calls
        ):
            return "warning"
        return "ok"


@dataclass(frozen=True)
class ReportFigures:
    """Everything the page shows, read in one short connection."""

    rows: list[DayCurrency]
    totals: list[CurrencyTotal]
    checks: list[DayChecks]
    cost_currency_rules: list[str]
    provisional: frozenset[date] = frozenset()  # days read before they were final


def report_path(database: str | os.PathLike[str]) -> Path:
    """Where the report of the warehouse file ``database`` goes: ``report.html`` beside it."""
    return Path(database).parent / "report.html"


def write_report(database: str | os.PathLike[str], path: Path | None = None, days: int = REPORT_DAYS) -> Path:
    """Render the last ``days`` days of the warehouse to ``path`` (default: beside it); returns it.

    The file is replaced whole (written under a temporary name, then renamed), so a browser
    reloading it never shows half a page.
    """
    with connect_read_only(database) as conn:
        figures = read_report_figures(conn, days)
    path = path or report_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        page = render_report(
            figures.rows,
            source=str(database),
            cost_currency_rules=figures.cost_currency_rules,
            totals=figures.totals,
            checks=figures.checks,
            provisional=figures.provisional,
        )
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_report_figures(conn: duckdb.DuckDBPyConnection, days: int = REPORT_DAYS) -> ReportFigures:
    """The figures of the ``days`` days up to the latest day landed or built; empty before the first.

    A warehouse an older version wrote, which no run of this one has opened yet, is read as the
    pipeline's next run will migrate it (``read_raw_as_current``), the file untouched.
    """
    read_raw_as_current(conn)
    try:
        (period,) = query_rows(conn, "report_period", {"days": days}) or [None]
    except duckdb.CatalogException:  # the pipeline never wrote this file
        period = None
    if period is None:
        return ReportFigures([], [], [], [])
    rows = [
        DayCurrency(**{**row, "currency": row["currency"] or NO_CURRENCY})
        for row in query_rows(conn, "report_daily_by_currency", period)
    ]
    totals = [
        CurrencyTotal(**{**row, "currency": row["currency"] or NO_CURRENCY})
        for row in query_rows(conn, "report_totals_by_currency", period)
    ]
    day_rows = query_rows(conn, "report_day_checks", period)
    provisional = frozenset(provisional_days_among(conn, [row["call_date"] for row in day_rows]))
    checks = []
    for row in day_rows:
        landed = row.pop("landed")
        problems = None
        if landed:
            windows = query_rows(conn, "page_count_consistency", {"partition_date": row["call_date"]})
            problems = tuple(day_page_count_problems(windows))  # a row per window (SIP group)
        checks.append(DayChecks(page_problems=problems, provisional=row["call_date"] in provisional, **row))
    try:
        rules = [row["cost_currency_rule"] for row in query_rows(conn, "report_cost_currency_rules", period)]
    except duckdb.BinderException:  # marts older than the rule
        rules = []
    return ReportFigures(rows, totals, checks, rules, provisional)


def money_rule(cost_currency_rules: Sequence[str]) -> str:
    """The one sentence saying which currency the money is in, and why that is a setting."""
    if not cost_currency_rules:
        built = "the setting they were built with is unknown"
    else:
        built = "they were built with " + " and ".join(
            f"LAAFFIC_COST_CURRENCY={rule}" for rule in cost_currency_rules
        )
        built += (
            " (days built under different settings: rebuild them alike)"
            if len(cost_currency_rules) > 1
            else ""
        )
    return (
        'The API document labels cost "Consumption amount (USD)" yet gives every record a currency '
        '("Quotation Currency"), so the marts read cost in each record\'s currency (record) or in one '
        f"fixed currency (e.g. USD); {built}: check an invoice's currency against these labels first."
    )


def render_report(
    rows: Sequence[DayCurrency],
    source: str,
    cost_currency_rules: Sequence[str] = (),
    totals: Sequence[CurrencyTotal] = (),
    checks: Sequence[DayChecks] = (),
    provisional: frozenset[date] = frozenset(),
) -> str:
    """The whole HTML page: the period's totals, two charts, the figures they are drawn from and
    each day's checks.

    ``cost_currency_rules``: the ``LAAFFIC_COST_CURRENCY`` the days were built with, stated on the page.
    ``provisional``: days read before they were final, marked so wherever a day is named.
    """
    days = sorted({row.call_date for row in rows})
    currencies = sorted({row.currency for row in rows})
    by_key = {(row.call_date, row.currency): row for row in rows}

    def per_day(currency: str, value: Callable[[DayCurrency], float | None]) -> list[float | None]:
        return [value(by_key[day, currency]) if (day, currency) in by_key else None for day in days]

    cost = {
        currency: per_day(currency, lambda row: None if row.total_cost is None else float(row.total_cost))
        for currency in currencies
    }
    asr = {currency: per_day(currency, lambda row: row.asr) for currency in currencies}
    asr[ALL_CALLS] = [_day_asr([row for row in rows if row.call_date == day]) for day in days]

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    checked = sorted({check.call_date for check in checks})
    if rows or checks:
        period = f"{min([*days, *checked])} to {max([*days, *checked])}"
        body = (
            (f"<h2>Totals, {escape(period)}</h2>\n" + _totals_table(totals) if totals else "")
            + (
                "<h2>Cost per day, per currency</h2>\n"
                + line_chart(days, cost, y_label="cost (each line in its own currency)", percent=False)
                + "<h2>Answer-seizure ratio (ASR) per day</h2>\n"
                + line_chart(days, asr, y_label="answered calls / calls", percent=True)
                + "<h2>Figures per day and currency</h2>\n"
                + _table(rows, provisional)
                if rows
                else ""
            )
            + ("<h2>Checks per day</h2>\n" + _checks_table(checks) if checks else "")
        )
    else:
        period = "no days"
        body = "<p>No marts in this warehouse yet: run the pipeline first.</p>\n"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>\n'
        "<title>Laaffic calls: cost and ASR</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        "<h1>Laaffic calls: cost and ASR</h1>\n"
        f"<p>{escape(period)} from <code>marts.daily_costs_by_currency</code> in "
        f"<code>{escape(source)}</code>; generated {generated}. Money is never converted or added "
        "across currencies; amounts are rounded to the cent (hover for the exact value).</p>\n"
        f'<p class="money-rule">{escape(money_rule(cost_currency_rules))}</p>\n'
        f"{body}</body>\n</html>\n"
    )


def line_chart(
    days: Sequence[date], series: dict[str, list[float | None]], *, y_label: str, percent: bool
) -> str:
    """An inline SVG line chart: one ``<g class="series">`` per name, a point per known value.

    Days are evenly spaced; a missing value breaks its line. ``percent`` draws a 0-100 % axis.
    """
    width, height, left, right, top, bottom = 1000, 300, 80, 120, 20, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [value for values in series.values() for value in values if value is not None]
    y_max = 1.0 if percent else _nice_ceiling(max(known, default=0.0))

    def x(index: int) -> float:
        return left + (plot_w * index / (len(days) - 1) if len(days) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    def label(value: float) -> str:
        return f"{value:.1%}" if percent else f"{value:,.2f}"

    parts = [
        # No fixed size: the viewBox scales to the page's width (CSS width 100%), keeping its shape.
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'role="img" aria-label="{escape(y_label)}">',
        f'<text x="{left}" y="{top - 6}" class="axis-label">{escape(y_label)}</text>',
    ]
    for step in range(5):
        value = y_max * step / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{label(value)}</text>'
        )
    every = max(1, -(-len(days) // 8))  # at most about 8 date labels
    for index, day in enumerate(days):
        if index % every == 0 or index == len(days) - 1:
            parts.append(
                f'<text x="{x(index):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{day}</text>'
            )
    for number, (name, values) in enumerate(series.items()):
        color = COLORS[number % len(COLORS)]
        dashed = ' stroke-dasharray="6 4"' if name == ALL_CALLS else ""
        parts.append(f'<g class="series" data-series="{escape(name)}" stroke="{color}" fill="{color}">')
        for segment in _segments(values):
            points = " ".join(f"{x(index):.1f},{y(value):.1f}" for index, value in segment)
            parts.append(f'<polyline points="{points}" fill="none" stroke-width="2"{dashed}/>')
        for index, value in enumerate(values):
            if value is not None:
                parts.append(
                    f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="3">'
                    f"<title>{days[index]} {escape(name)}: {label(value)}</title></circle>"
                )
        legend_y = top + 16 * number + 8
        parts.append(
            f'<text x="{left + plot_w + 24}" y="{legend_y + 4}" stroke="none">{escape(name)}</text>'
            f'<line x1="{left + plot_w + 6}" x2="{left + plot_w + 20}" y1="{legend_y}" y2="{legend_y}" '
            f'stroke-width="2"{dashed}/></g>'
        )
    parts.append("</svg>\n")
    return "\n".join(parts)


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive known values, each with its day index."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((index, value))
    return [run for run in runs if run]


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(factor * power for factor in (1, 2, 2.5, 5, 10) if factor * power >= value)


def _day_asr(rows: Sequence[DayCurrency]) -> float | None:
    calls = sum(row.calls for row in rows)
    return sum(row.answered_calls for row in rows) / calls if calls else None


def money(value: Decimal | None) -> str:
    """An amount to the cent, rounded half-up, with thousands separators; an em dash when unknown."""
    return "—" if value is None else f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def _money_cell(value: Decimal | None) -> str:
    """A table cell to the cent whose tooltip is the exact decimal (six places, as stored)."""
    if value is None:
        return "<td>—</td>"
    return f'<td title="{escape(str(value))}">{escape(money(value))}</td>'


def _cell(text: str, css: str = "") -> str:
    return f'<td class="{css}">{escape(text)}</td>' if css else f"<td>{escape(text)}</td>"


def _header(names: Sequence[str]) -> str:
    return "<thead><tr>" + "".join(f"<th>{escape(name)}</th>" for name in names) + "</tr></thead>"


MONEY_COLUMNS = ("cost", "expected cost", "cost - expected")


def _figures_table(
    names: Sequence[str], rows: Sequence[tuple[Sequence[str], Sequence[Decimal | None]]], css: str = ""
) -> str:
    """A table of rows of text cells followed by money cells (to the cent, exact in the tooltip)."""
    opening = f'<table class="{css}">' if css else "<table>"
    lines = [f"{opening}\n{_header([*names, *MONEY_COLUMNS])}\n<tbody>"]
    for texts, amounts in rows:
        cells = [_cell(text) for text in texts] + [_money_cell(amount) for amount in amounts]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody>\n</table>\n")
    return "\n".join(lines)


def day_label(day: date, provisional: frozenset[date] | bool) -> str:
    """A day as the page names it: ``2026-12-07 (provisional)`` while its figures are the day so far."""
    marked = provisional if isinstance(provisional, bool) else day in provisional
    return f"{day} (provisional)" if marked else str(day)


def _table(rows: Sequence[DayCurrency], provisional: frozenset[date] = frozenset()) -> str:
    return _figures_table(
        ("day", "currency", "calls", "answered", "ASR"),
        [
            (
                (
                    day_label(row.call_date, provisional),
                    row.currency,
                    f"{row.calls:,}",
                    f"{row.answered_calls:,}",
                    f"{row.asr:.1%}",
                ),
                (row.total_cost, row.expected_cost, row.cost_difference),
            )
            for row in rows
        ],
        css="figures",
    )


def _totals_table(totals: Sequence[CurrencyTotal]) -> str:
    return _figures_table(
        ("currency", "days", "calls", "answered", "ASR"),
        [
            (
                (
                    total.currency,
                    str(total.days),
                    f"{total.calls:,}",
                    f"{total.answered_calls:,}",
                    "—" if total.asr is None else f"{total.asr:.1%}",
                ),
                (total.total_cost, total.expected_cost, total.cost_difference),
            )
            for total in totals
        ],
        css="totals",
    )


def _checks_table(checks: Sequence[DayChecks]) -> str:
    names = (
        "day",
        "status",
        "page count",
        "calls",
        "charged seconds ≠ rule",
        "cost ≠ rule",
        "calls with quality flags",
    )
    lines = [
        '<p class="checks-note">The figures the pipeline\'s checks judge, read from the warehouse: the '
        "page-count rule over what the API reported (a day that fails it is landed but kept out of the "
        "marts), and the calls whose bill differs from the bill-period rule or that carry quality flags "
        "(warnings). The check results themselves are in the Dagster UI.</p>",
        f'<table class="checks">\n{_header(names)}\n<tbody>',
    ]
    for check in checks:
        pages = "not landed" if check.page_problems is None else "; ".join(check.page_problems) or "ok"
        cells = [
            _cell(day_label(check.call_date, check.provisional)),
            _cell(check.status, f"status-{check.status}"),
            _cell(pages, "text"),
            _cell(f"{check.calls:,}" if check.built else "not built"),
            _cell(f"{check.charged_duration_mismatches:,}"),
            _cell(f"{check.cost_mismatches:,}"),
            _cell(f"{check.flagged_calls:,}"),
        ]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody>\n</table>\n")
    return "\n".join(lines)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "svg.chart{display:block;width:100%;height:auto}"
    "svg.chart text{font-size:12px;fill:#333}"
    "svg.chart .grid{stroke:#ddd}"
    "table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
    "td.text{text-align:left}"
    "td.status-ok{color:#1a7f37}"
    "td.status-warning{color:#9a6700;font-weight:600}"
    "td.status-failed{color:#cf222e;font-weight:600}"
    "table.totals td,table.totals th{font-size:1.05em}"
)
