"""``raw/call_records`` and its checks, as specs: the step that lands them is ``defs/daily.py``.

Functions of the partitions, which the definitions build from the settings when they load.
"""

import dagster as dg

from laaffic_pipeline.defs.metadata import table_metadata
from laaffic_pipeline.warehouse.schema_drift import DOCUMENTED_FIELDS
from laaffic_pipeline.warehouse.tables import RAW_CALL_RECORDS

RAW_CALL_RECORDS_KEY = dg.AssetKey(["raw", "call_records"])
PAGE_COUNT_CHECK = "page_count_consistency"
SCHEMA_DRIFT_CHECK = "schema_matches_api_document"
ARCHIVE_CHECK = "archive_matches_raw"


def raw_specs(partitions: dg.PartitionsDefinition) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            RAW_CALL_RECORDS_KEY,
            partitions_def=partitions,
            skippable=True,
            group_name="raw",
            kinds={"duckdb"},
            description=(
                "Every distinct call record Laaffic's recordSipQuery returns for the partition's local day "
                "(`raw.call_records`; every field kept as sent, a record repeated across pages kept once), "
                "plus one row per page fetched (`raw.call_record_pages`) so page-count consistency can be "
                "checked. Each day is its own 1-day API window (one per SIP group with LAAFFIC_SIP_GROUPS, "
                "each row saying its group in `sip_group_name`) and its own transaction."
            ),
            metadata=table_metadata(RAW_CALL_RECORDS),
        )
    ]


def raw_check_specs(partitions: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            PAGE_COUNT_CHECK,
            asset=RAW_CALL_RECORDS_KEY,
            partitions_def=partitions,
            blocking=True,
            description=(
                "Pages fetched = pages reported, every page reported the same total, records landed = "
                "total, and voice ids are distinct, for each window of the day on its own (one per SIP "
                "group with LAAFFIC_SIP_GROUPS; a failure names the group). Blocking: a day that fails "
                "it is not built into the marts (in a range, the other days are), and the run fails "
                "naming it."
            ),
        ),
        dg.AssetCheckSpec(
            SCHEMA_DRIFT_CHECK,
            asset=RAW_CALL_RECORDS_KEY,
            partitions_def=partitions,
            description=(
                f"The day's records carry the API document's {len(DOCUMENTED_FIELDS)} fields with their "
                "documented JSON types: new keys, missing keys and type changes are counted with up to "
                "5 example voice ids each. A warning: the records are landed and built all the same."
            ),
        ),
        dg.AssetCheckSpec(
            ARCHIVE_CHECK,
            asset=RAW_CALL_RECORDS_KEY,
            partitions_def=partitions,
            description=(
                "The day's latest archived version (LAAFFIC_ARCHIVE_URL) equals its raw in the warehouse: "
                "the files have the sizes and SHA-256 their manifest says, and the records and pages "
                "their counts and digests (a version this run wrote was checked so before it was "
                "uploaded). Fails when the archive is missing, unreadable or differs."
            ),
        ),
    ]
