"""Metadata shared by the asset specs: column schemas from the DDL's comments, Markdown tables."""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from laaffic_pipeline.warehouse.columns import table_columns


def column_schema(table: str) -> dg.TableSchema:
    """The Dagster column schema of a warehouse table, from its ``COMMENT ON COLUMN`` statements."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, type_, description=comment) for name, type_, comment in table_columns(table)
        ]
    )


def table_metadata(table: str) -> dict[str, Any]:
    return {"dagster/table_name": table, "dagster/column_schema": column_schema(table)}


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of ``rows`` (ratios to 4 places, NULL shown as an em dash)."""
    if not rows:
        return "_no rows_"
    names = list(rows[0])
    lines = [
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
        *("| " + " | ".join(_cell(row[name]) for name in names) + " |" for row in rows),
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def evaluation(result: dg.AssetCheckResult, partition: str) -> dg.AssetCheckEvaluation:
    """A check result recorded on its own day (a ranged run checks many days in one step)."""
    assert result.asset_key is not None and result.check_name is not None
    return dg.AssetCheckEvaluation(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        metadata=result.metadata,
        severity=result.severity,
        description=result.description,
        partition=partition,
    )
