"""A warehouse as a version before ``sip_group_name`` and ``raw.provisional_days`` left it: the DDL
that version ran (copied from git history into the two .sql files beside this one) and rows written
out here, not made by the code under test, which would bring the file up to date as it writes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

HERE = Path(__file__).parent
OLD_DDL = [HERE / "raw_tables_before_sip_groups.sql", HERE / "marts_before_provisional_days.sql"]
BUILT_DAY = date(2026, 3, 1)  # 3 calls in 2 pages, built into the marts
SHORT_DAY = date(2026, 3, 2)  # the API reported 2 calls and sent 1: landed, not built


def write_older_warehouse(path: Path) -> Path:
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        for ddl in OLD_DDL:
            conn.execute(ddl.read_text(encoding="utf-8"))
        conn.execute(
            """
            INSERT INTO raw.call_records VALUES
                ('2026-03-01', 'v1', '{"voiceId": "v1"}', 1, 0, '2026-03-02 03:00+00'),
                ('2026-03-01', 'v2', '{"voiceId": "v2"}', 1, 1, '2026-03-02 03:00+00'),
                ('2026-03-01', 'v3', '{"voiceId": "v3"}', 2, 0, '2026-03-02 03:00+00'),
                ('2026-03-02', 'v4', '{"voiceId": "v4"}', 1, 0, '2026-03-03 03:00+00');
            INSERT INTO raw.call_record_pages VALUES
                ('2026-03-01', 1, 3, 2, 2, '2026-03-02 03:00+00',
                    '2026-03-01 00:00:00', '2026-03-02 00:00:00', 1),
                ('2026-03-01', 2, 3, 2, 1, '2026-03-02 03:00+00',
                    '2026-03-01 00:00:00', '2026-03-02 00:00:00', 1),
                ('2026-03-02', 1, 2, 1, 1, '2026-03-03 03:00+00',
                    '2026-03-02 00:00:00', '2026-03-03 00:00:00', 1);
            INSERT INTO marts.call_facts (
                call_date, voice_id, cost_currency, cost_currency_rule, charged_duration_mismatch,
                cost_mismatch, quality_flags, fetched_at
            ) VALUES
                ('2026-03-01', 'v1', 'USD', 'record', false, false, [], '2026-03-02 03:00+00'),
                ('2026-03-01', 'v2', 'USD', 'record', false, true, [], '2026-03-02 03:00+00'),
                ('2026-03-01', 'v3', 'EUR', 'record', false, false, ['missing_callee'],
                    '2026-03-02 03:00+00');
            INSERT INTO marts.daily_costs (
                call_date, currency, calls, answered_calls, asr, talk_timed_calls, post_dial_delay_calls,
                total_cost, expected_cost, cost_difference, unpriced_calls, cost_mismatch_calls, flagged_calls
            ) VALUES
                ('2026-03-01', 'USD', 2, 1, 0.5, 1, 2, 0.500000, 0.400000, 0.100000, 0, 1, 0),
                ('2026-03-01', 'EUR', 1, 1, 1.0, 1, 1, 0.250000, 0.250000, 0.000000, 0, 0, 1);
            """
        )
    return path
