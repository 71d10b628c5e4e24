"""``data/report.html``: daily cost per currency and ASR over the days, drawn as inline SVG.

The page is one self-contained file (no script, stylesheet, font or image fetched from anywhere),
so it opens from disk, a share or an e-mail. Its figures come from ``marts.daily_costs_by_currency``
through one short read-only connection. Money is charted per the currency it is in (the marts'
``cost_currency``, set by ``LAAFFIC_COST_CURRENCY``) and never converted or added across
currencies; ASR is a ratio, so it is also shown over all calls of a day.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape
from pathlib import Path

import duckdb

from laaffic_pipeline.warehouse.query import connect_read_only
from laaffic_pipeline.warehouse.sql import load_sql

REPORT_DAYS = 31
ALL_CALLS = "all calls"
NO_CURRENCY = "no currency"  # rows whose currency could not be read (flagged in call_facts)
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


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


def report_path(database: str | os.PathLike[str]) -> Path:
    """Where the report of the warehouse file ``database`` goes: ``report.html`` beside it."""
    return Path(database).parent / "report.html"


def write_report(database: str | os.PathLike[str], path: Path | None = None, days: int = REPORT_DAYS) -> Path:
    """Render the last ``days`` days of the warehouse to ``path`` (default: beside it); returns it.

    The file is replaced whole (written under a temporary name, then renamed), so a browser
    reloading it never shows half a page.
    """
    with connect_read_only(database) as conn:
        rows = read_figures(conn, days)
        rules = read_cost_currency_rules(conn, days)
    path = path or report_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.write_text(
            render_report(rows, source=str(database), cost_currency_rules=rules), encoding="utf-8"
        )
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_figures(conn: duckdb.DuckDBPyConnection, days: int = REPORT_DAYS) -> list[DayCurrency]:
    """Per day and currency over the last ``days`` days that have marts; [] before the first build."""
    try:
        rows = conn.execute(load_sql("report_daily_by_currency"), {"days": days}).fetchall()
    except duckdb.CatalogException:  # the marts were never built in this file
        return []
    return [
        DayCurrency(day, currency or NO_CURRENCY, calls, answered, asr, cost, expected)
        for day, currency, calls, answered, asr, cost, expected in rows
    ]


def read_cost_currency_rules(conn: duckdb.DuckDBPyConnection, days: int = REPORT_DAYS) -> list[str]:
    """The ``LAAFFIC_COST_CURRENCY`` values the last ``days`` days were built with (one, unless mixed)."""
    try:
        rows = conn.execute(load_sql("report_cost_currency_rules"), {"days": days}).fetchall()
    except (duckdb.CatalogException, duckdb.BinderException):  # no marts, or marts older than the rule
        return []
    return [rule for (rule,) in rows]


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


def render_report(rows: Sequence[DayCurrency], source: str, cost_currency_rules: Sequence[str] = ()) -> str:
    """The whole HTML page: two charts and the table they are drawn from.

    ``cost_currency_rules``: the ``LAAFFIC_COST_CURRENCY`` the days were built with, stated on the page.
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
    if rows:
        period = f"{days[0]} to {days[-1]}"
        body = (
            "<h2>Cost per day, per currency</h2>\n"
            + line_chart(days, cost, y_label="cost (each line in its own currency)", percent=False)
            + "<h2>Answer-seizure ratio (ASR) per day</h2>\n"
            + line_chart(days, asr, y_label="answered calls / calls", percent=True)
            + "<h2>Figures</h2>\n"
            + _table(rows)
        )
    else:
        period = "no days"
        body = "<p>No marts in this warehouse yet: run the pipeline first.</p>\n"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
        "<title>Laaffic calls: cost and ASR</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        "<h1>Laaffic calls: cost and ASR</h1>\n"
        f"<p>{escape(period)} from <code>marts.daily_costs_by_currency</code> in "
        f"<code>{escape(source)}</code>; generated {generated}. Money is never converted or added "
        "across currencies.</p>\n"
        f'<p class="money-rule">{escape(money_rule(cost_currency_rules))}</p>\n'
        f"{body}</body>\n</html>\n"
    )


def line_chart(
    days: Sequence[date], series: dict[str, list[float | None]], *, y_label: str, percent: bool
) -> str:
    """An inline SVG line chart: one ``<g class="series">`` per name, a point per known value.

    Days are evenly spaced; a missing value breaks its line. ``percent`` draws a 0-100 % axis.
    """
    width, height, left, right, top, bottom = 760, 300, 80, 120, 20, 50
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
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
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


def _table(rows: Sequence[DayCurrency]) -> str:
    header = "".join(
        f"<th>{name}</th>"
        for name in ("day", "currency", "calls", "answered", "ASR", "cost", "expected cost")
    )
    lines = [f"<table>\n<thead><tr>{header}</tr></thead>\n<tbody>"]
    for row in rows:
        cells = (
            str(row.call_date),
            row.currency,
            str(row.calls),
            str(row.answered_calls),
            f"{row.asr:.1%}",
            "—" if row.total_cost is None else str(row.total_cost),
            "—" if row.expected_cost is None else str(row.expected_cost),
        )
        lines.append("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>")
    lines.append("</tbody>\n</table>\n")
    return "\n".join(lines)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "svg.chart text{font-size:12px;fill:#333}"
    "svg.chart .grid{stroke:#ddd}"
    "table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
)
