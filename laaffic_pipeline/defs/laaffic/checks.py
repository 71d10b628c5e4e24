"""Results of the checks on a landed day of raw: page counts (blocking) and schema drift (warning)."""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from laaffic_pipeline.defs.laaffic.specs import (
    ARCHIVE_CHECK,
    PAGE_COUNT_CHECK,
    RAW_CALL_RECORDS_KEY,
    SCHEMA_DRIFT_CHECK,
)
from laaffic_pipeline.warehouse.archive import ArchivedDay
from laaffic_pipeline.warehouse.consistency import page_count_problems
from laaffic_pipeline.warehouse.schema_drift import DRIFT_KINDS, SchemaDrift


def page_count_result(figures: Mapping[str, Any]) -> dg.AssetCheckResult:
    problems = page_count_problems(figures)
    return dg.AssetCheckResult(
        asset_key=RAW_CALL_RECORDS_KEY,
        check_name=PAGE_COUNT_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or "landed records agree with the API's page counts",
        metadata={**figures, "problems": problems},
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
