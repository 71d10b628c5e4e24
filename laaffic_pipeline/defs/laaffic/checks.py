"""Results of the checks on a landed day of raw: page counts (blocking) and schema drift (warning)."""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from laaffic_pipeline.defs.laaffic.specs import (
    ARCHIVE_CHECK,
    PAGE_COUNT_CHECK,
    RAW_CALL_RECORDS_KEY,
    SCHEMA_DRIFT_CHECK,
)
from laaffic_pipeline.warehouse.archive import ArchivedDay
from laaffic_pipeline.warehouse.consistency import day_figures, day_page_count_problems
from laaffic_pipeline.warehouse.schema_drift import DRIFT_KINDS, SchemaDrift


def figures_of(window: Mapping[str, Any]) -> dict[str, Any]:
    """A window's figures without its group, which is the key they are listed under."""
    return {name: value for name, value in window.items() if name != "sip_group_name"}


def page_count_result(windows: Sequence[Mapping[str, Any]]) -> dg.AssetCheckResult:
    """The page-count check of a landed day, ``windows`` its figures a row per window: each window
    judged on its own, the day's figures together, and each group's own when read per group."""
    problems = day_page_count_problems(windows)
    metadata: dict[str, Any] = {**day_figures(windows), "problems": problems}
    if any(window["sip_group_name"] for window in windows):
        metadata["by_sip_group"] = dg.MetadataValue.json(
            {window["sip_group_name"]: figures_of(window) for window in windows}
        )
    return dg.AssetCheckResult(
        asset_key=RAW_CALL_RECORDS_KEY,
        check_name=PAGE_COUNT_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or "landed records agree with the API's page counts",
        metadata=metadata,
    )


def schema_drift_result(drift: SchemaDrift) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=RAW_CALL_RECORDS_KEY,
        check_name=SCHEMA_DRIFT_CHECK,
        passed=not drift.findings,
        severity=dg.AssetCheckSeverity.WARN,
        description=drift.summary(),
        metadata={
            "records": drift.records,
            **{f"{kind}s": dg.MetadataValue.json(drift.by_kind(kind)) for kind in DRIFT_KINDS},
        },
    )


def archive_result(problems: list[str], archived: ArchivedDay | None) -> dg.AssetCheckResult:
    """The day's archive against its raw: ``problems`` from ``verify_day`` (or why archiving failed)."""
    metadata: dict[str, Any] = {"problems": problems}
    if archived is not None:
        manifest = archived.manifest
        metadata |= {
            "archive_version": manifest.version,
            "archived_records": manifest.records,
            "records_digest": manifest.records_digest,
            "written_by_this_run": archived.written,
        }
    return dg.AssetCheckResult(
        asset_key=RAW_CALL_RECORDS_KEY,
        check_name=ARCHIVE_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems)
        or f"archived version {archived.manifest.version if archived else '?'} equals the stored raw",
        metadata=metadata,
    )
